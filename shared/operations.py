"""Operator actions on jobs: list with filters, re-queue one or many, cancel. Every action is audited.

Re-queue moves a finished, failed or cancelled job back to ``queued`` at a stage (by default the stage it failed
at, or ``detect``) with its attempts for that stage reset, then publishes the chain from there. With a newer
pipeline version the job restarts at ``detect``, so every stage output is produced by that version.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from celery import Celery
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from shared.contracts.names import STAGES, Stage
from shared.db.models import AuditEvent, Job
from shared.db.session import transaction
from shared.dispatch import publish_pipeline
from shared.errors import ConflictError, NotFoundError, ValidationError
from shared.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobState, transition

Q = TypeVar("Q", bound=Select[Any])
REQUEUEABLE = frozenset({DONE, FAILED, CANCELLED, QUEUED})


@dataclass(frozen=True)
class JobFilter:
    state: str | None = None
    stage: str | None = None
    error_code: str | None = None
    patient_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Q) -> Q:
        conditions = []
        for column, value in (
            (Job.state, self.state),
            (Job.stage, self.stage),
            (Job.error_code, self.error_code),
            (Job.patient_id, self.patient_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if self.since is not None:
            conditions.append(Job.updated_at >= self.since)
        if self.until is not None:
            conditions.append(Job.updated_at < self.until)
        return query.where(*conditions)


def list_jobs(
    session: Session, *, where: JobFilter, limit: int = 50, cursor: str | None = None
) -> tuple[list[Job], str | None]:
    """Jobs matching ``where``, newest first, with a cursor for the next page (keyset pagination)."""
    limit = max(1, min(limit, 500))
    query = where.apply(select(Job)).order_by(Job.created_at.desc(), Job.id.desc())
    if cursor:
        created, job_id = _decode_cursor(cursor)
        query = query.where(or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id)))
    rows = list(session.scalars(query.limit(limit + 1)))
    following = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], following


def _encode_cursor(job: Job) -> str:
    return base64.urlsafe_b64encode(json.dumps([job.created_at.isoformat(), job.id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created), str(job_id)
    except (ValueError, TypeError) as exc:
        raise ValidationError("malformed cursor", code="invalid_cursor") from exc


def audit(session: Session, *, actor: str, action: str, target: str, count: int, detail: dict[str, Any]) -> None:
    """Record an operator action (who, what, when, how many)."""
    session.add(AuditEvent(actor=actor, action=action, target=target, count=count, detail=detail))


def requeue_job(
    *,
    session_factory: sessionmaker[Session],
    celery: Celery,
    job_id: str,
    actor: str,
    from_stage: str | None = None,
    pipeline_version: str | None = None,
) -> Job:
    """Re-queue one job; raise NotFoundError, ConflictError (running) or ValidationError (bad stage)."""
    with transaction(session_factory) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFoundError("no such job", code="job_not_found")
        stage = _restart_stage(job, from_stage, pipeline_version)
        _requeue_row(session, job, stage, pipeline_version)
        audit(
            session,
            actor=actor,
            action="requeue",
            target=job_id,
            count=1,
            detail={"from_stage": stage.value, "pipeline_version": pipeline_version},
        )
    publish_pipeline(celery, job_id=job_id, from_stage=stage)
    with session_factory() as session:
        refreshed = session.get(Job, job_id)
        assert refreshed is not None  # noqa: S101 - it was just updated
        return refreshed


def requeue_matching(
    *,
    session_factory: sessionmaker[Session],
    celery: Celery,
    where: JobFilter,
    actor: str,
    from_stage: str | None = None,
    pipeline_version: str | None = None,
    limit: int = 1000,
) -> list[str]:
    """Re-queue every re-queueable job matching ``where`` (at most ``limit``); return their ids."""
    with session_factory() as session:
        candidates = list(
            session.scalars(where.apply(select(Job)).where(Job.state.in_(REQUEUEABLE - {QUEUED})).limit(limit))
        )
    done: list[tuple[str, Stage]] = []
    with transaction(session_factory) as session:
        for job in candidates:
            stage = _restart_stage(job, from_stage, pipeline_version)
            if _requeue_row(session, job, stage, pipeline_version, strict=False):
                done.append((job.id, stage))
        audit(
            session,
            actor=actor,
            action="requeue_bulk",
            target=json.dumps(where.__dict__, default=str),
            count=len(done),
            detail={"from_stage": from_stage, "pipeline_version": pipeline_version},
        )
    for job_id, stage in done:
        publish_pipeline(celery, job_id=job_id, from_stage=stage)
    return [job_id for job_id, _ in done]


def cancel_job(*, session_factory: sessionmaker[Session], job_id: str, actor: str) -> Job:
    """Cancel a queued or running job (a running stage's result is then discarded)."""
    with transaction(session_factory) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFoundError("no such job", code="job_not_found")
        if job.state not in {QUEUED, RUNNING} or not transition(
            session,
            job_id=job_id,
            expect=JobState(job.state, job.stage),
            to=JobState(CANCELLED, job.stage),
            detail=f"cancelled by {actor}",
        ):
            raise ConflictError(f"a {job.state} job cannot be cancelled", code="job_not_cancellable")
        audit(session, actor=actor, action="cancel", target=job_id, count=1, detail={})
        session.refresh(job)
        return job


def _restart_stage(job: Job, from_stage: str | None, pipeline_version: str | None) -> Stage:
    if pipeline_version is not None and pipeline_version != job.pipeline_version:
        if from_stage not in (None, Stage.DETECT.value):
            raise ValidationError(
                "a new pipeline version re-runs every stage: from_stage must be detect", code="invalid_from_stage"
            )
        return Stage.DETECT
    if from_stage is not None:
        if from_stage not in {s.value for s in STAGES}:
            raise ValidationError(f"unknown stage {from_stage!r}", code="invalid_from_stage")
        return Stage(from_stage)
    if job.state == FAILED and job.stage:
        return Stage(job.stage)
    return Stage.DETECT


def _requeue_row(
    session: Session, job: Job, stage: Stage, pipeline_version: str | None, *, strict: bool = True
) -> bool:
    if job.state not in REQUEUEABLE:
        if strict:
            raise ConflictError(f"a {job.state} job cannot be re-queued", code="job_running")
        return False
    made = transition(
        session,
        job_id=job.id,
        expect=JobState(job.state, job.stage),
        to=JobState(QUEUED, stage.value),
        clear_error=True,
        pipeline_version=pipeline_version,
        detail="re-queued by an operator",
    )
    if not made and strict:
        raise ConflictError("the job changed while being re-queued; try again", code="job_changed")
    return made
