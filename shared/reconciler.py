"""The reconciler: the database is the source of truth, so jobs that stopped moving are published again.

A job can stop moving when its message is lost: a worker died after acknowledging, Redis restarted empty, or the
gateway could not reach the broker after committing. Every pass:

- a job ``queued`` at stage S whose row has not changed for ``queued_lease`` seconds is published again from S
  (its ``updated_at`` is touched by a compare-and-set, so it is re-published at most once per lease);
- a job ``running`` stage S for longer than S's hard time limit plus ``grace`` has no live worker (the hard limit
  would have killed it), so it is moved back to ``queued`` at S and published.

Duplicates are harmless: a stage's claim lets exactly one delivery run it, and its output is stored once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.contracts.names import Stage
from shared.db.models import Job, utcnow
from shared.db.session import transaction
from shared.dispatch import publish_pipeline
from shared.jobs import QUEUED, RUNNING, JobState, transition
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileReport:
    republished: int
    recovered: int


def reconcile_once(
    *,
    session_factory: sessionmaker[Session],
    celery: Celery,
    settings: Settings,
    queued_lease: float = 120.0,
    grace: float = 30.0,
    batch: int = 500,
) -> ReconcileReport:
    """One pass over stale jobs; returns how many were re-published and how many running ones recovered."""
    now = utcnow()
    republished = recovered = 0
    with session_factory() as session:
        stale_queued = session.scalars(
            select(Job)
            .where(Job.state == QUEUED, Job.updated_at < now - timedelta(seconds=queued_lease))
            .order_by(Job.updated_at)
            .limit(batch)
        ).all()
        running = session.scalars(select(Job).where(Job.state == RUNNING).order_by(Job.updated_at).limit(batch)).all()
    limits = settings.stage_limits()
    for job in stale_queued:
        if _touch_and_publish(session_factory, celery, job, from_running=False):
            republished += 1
    for job in running:
        deadline = job.updated_at + timedelta(seconds=limits[job.stage or "detect"].hard + grace)
        if _aware(deadline) < now and _touch_and_publish(session_factory, celery, job, from_running=True):
            recovered += 1
    if republished or recovered:
        log.warning("reconciler re-published %d queued and recovered %d running jobs", republished, recovered)
    return ReconcileReport(republished=republished, recovered=recovered)


def _touch_and_publish(session_factory: sessionmaker[Session], celery: Celery, job: Job, *, from_running: bool) -> bool:
    stage = job.stage or Stage.DETECT.value
    with transaction(session_factory) as session:
        made = transition(
            session,
            job_id=job.id,
            expect=JobState(job.state, job.stage),
            expect_token=job.claim_token if from_running else None,
            to=JobState(QUEUED, stage),
            detail="reconciler: worker lost" if from_running else "reconciler: re-published",
        )
    if made:
        publish_pipeline(celery, job_id=job.id, from_stage=Stage(stage))
    return made


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: read them as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
