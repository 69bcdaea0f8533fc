"""Jobs: creation, compare-and-set state transitions, stage outputs and the status view.

The database is the source of truth for where every document is. A job moves through
``queued/detect → running/detect → queued/ocr → … → running/normalise → done`` (or ``failed``), and every
move is a conditional UPDATE that succeeds for exactly one caller, recorded as a :class:`JobEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.contracts.names import STAGES, Stage
from shared.db.models import Job, JobEvent, StageOutput, utcnow

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL_STATES = frozenset({DONE, FAILED, CANCELLED})


@dataclass(frozen=True, slots=True)
class JobState:
    state: str
    stage: str | None


def stage_index(stage: str | None) -> int:
    """Position of ``stage`` in the pipeline (past the end for None)."""
    return len(STAGES) if stage is None else STAGES.index(Stage(stage))


def transition(
    session: Session,
    *,
    job_id: str,
    expect: JobState,
    to: JobState,
    claim_token: str | None = None,
    expect_token: str | None = None,
    count_attempt: bool = False,
    error: tuple[str, str] | None = None,
    clear_error: bool = False,
    pipeline_version: str | None = None,
    detail: str | None = None,
) -> bool:
    """Move a job from ``expect`` to ``to`` if, and only if, it is still in ``expect``.

    Args:
        session: an open session inside a transaction (committed by the caller).
        job_id: the job.
        expect: the state and stage the caller read; nothing happens if the row changed since.
        to: the new state and stage.
        claim_token: the delivery (Celery task id) now working on the stage, stored on the job.
        expect_token: also require the stored token to equal this one.
        count_attempt: add one to the job's and the stage's attempt counters.
        error: (code, message) to record (failures).
        clear_error: forget the last error (operator re-queue).
        pipeline_version: run the job under this pipeline version from now on (operator re-queue).
        detail: free text for the event (no patient data).

    Returns:
        True if this caller made the transition.
    """
    now = utcnow()
    conditions = [Job.id == job_id, Job.state == expect.state]
    conditions.append(Job.stage.is_(None) if expect.stage is None else Job.stage == expect.stage)
    if expect_token is not None:
        conditions.append(Job.claim_token == expect_token)
    values: dict[str, Any] = {"state": to.state, "stage": to.stage, "updated_at": now}
    if claim_token is not None:
        values["claim_token"] = claim_token
    if count_attempt:
        values["attempts"] = Job.attempts + 1
        values["stage_attempts"] = Job.stage_attempts + 1 if expect.stage == to.stage else 1
    elif expect.stage != to.stage:
        values["stage_attempts"] = 0
    if error is not None:
        values["error_code"], values["error_message"] = error
    elif clear_error:
        values["error_code"] = values["error_message"] = None
        values["stage_attempts"] = 0
    if pipeline_version is not None:
        values["pipeline_version"] = pipeline_version
    values["finished_at"] = now if to.state in TERMINAL_STATES else None
    result = session.execute(update(Job).where(*conditions).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    job = session.get(Job, job_id)
    if job is None:  # the UPDATE matched this row inside our transaction
        raise RuntimeError(f"job {job_id} vanished inside its own transaction")
    session.refresh(job)
    session.add(
        JobEvent(
            job_id=job_id,
            patient_id=job.patient_id,
            state=to.state,
            stage=to.stage,
            attempt=job.stage_attempts,
            detail=detail if error is None else f"{error[0]}: {detail or error[1]}",
            at=now,
        )
    )
    return True


def get_stage_output(session: Session, *, document_id: str, stage: str, pipeline_version: str) -> StageOutput | None:
    """Return the stored output of ``stage`` for the document and pipeline version, if any."""
    return session.scalars(
        select(StageOutput).where(
            StageOutput.document_id == document_id,
            StageOutput.stage == stage,
            StageOutput.pipeline_version == pipeline_version,
        )
    ).first()


def put_stage_output(
    session: Session,
    *,
    job: Job,
    stage: str,
    model_version: str,
    payload: dict[str, Any],
) -> tuple[StageOutput, bool]:
    """Store a stage output unless one exists for (document, stage, version); return it and whether it is new.

    Uses a savepoint, so a concurrent writer's row (unique constraint) wins without aborting the transaction.
    """
    existing = get_stage_output(
        session, document_id=job.document_id, stage=stage, pipeline_version=job.pipeline_version
    )
    if existing is not None:
        return existing, False
    row = StageOutput(
        document_id=job.document_id,
        patient_id=job.patient_id,
        stage=stage,
        pipeline_version=job.pipeline_version,
        job_id=job.id,
        model_version=model_version,
        payload=payload,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        winner = get_stage_output(
            session, document_id=job.document_id, stage=stage, pipeline_version=job.pipeline_version
        )
        if winner is None:
            raise
        return winner, False
    return row, True


def record_timing(job: Job, *, stage: str, timings: dict[str, float]) -> None:
    """Store a stage's timings (ms) on the job (a new dict, so the JSON column is marked dirty)."""
    job.timings = {**(job.timings or {}), stage: timings}


def job_events(session: Session, job_id: str) -> list[JobEvent]:
    """All transitions of a job, oldest first."""
    return list(session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
