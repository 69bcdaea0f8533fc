"""Runs one pipeline stage for one job: the idempotent, compare-and-set core behind every stage task.

A stage task is delivered at least once (acks_late), so the runner must make a second delivery harmless:

1. **Claim** the stage with a compare-and-set on the job row: ``queued/S → running/S`` for a new delivery, or
   ``running/S → running/S`` for a redelivery of the *same* message (same Celery task id, after a worker died or
   a retry). Any other delivery — a duplicate, or one for a stage the job has left — is skipped.
2. **Reuse** the stage output stored for (document, stage, pipeline version) if one exists; otherwise compute it
   outside any transaction and insert it (a unique constraint keeps the first writer's row).
3. **Advance** ``running/S → queued/next`` (or ``done`` after the last stage, with the stage's ``finalize`` hook
   writing the patient records in the same transaction).

Celery specifics (retry, ignore) stay in :mod:`shared.stage_tasks`; this module is plain and testable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from shared.contracts.names import STAGES, Stage, next_stage
from shared.contracts.stages import STAGE_OUTPUT_TYPES
from shared.db.models import Document, Job
from shared.db.session import transaction
from shared.errors import NotFoundError, RxlabError
from shared.jobs import (
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    TERMINAL_STATES,
    JobState,
    get_stage_output,
    put_stage_output,
    record_timing,
    stage_index,
    transition,
)
from shared.logging import log_context
from shared.pages import PageLimits, load_pages
from shared.storage import BlobStore

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


@dataclass
class StageInput:
    """What a stage may read: the original bytes (decoded pages on demand) and earlier stages' outputs."""

    document_id: str
    requested_type: str
    original: bytes
    limits: PageLimits
    outputs: dict[Stage, Any] = field(default_factory=dict)

    @cached_property
    def pages(self) -> list[Image.Image]:
        """The decoded RGB pages (decoded once per input)."""
        return load_pages(self.original, limits=self.limits)

    def output(self, stage: Stage, kind: type[Any]) -> Any:
        value = self.outputs[stage]
        if not isinstance(value, kind):
            raise TypeError(f"{stage} output is {type(value).__name__}, expected {kind.__name__}")
        return value


ComputeFn = Callable[[StageInput], BaseModel]
FinalizeFn = Callable[[Session, Job, BaseModel], None]


class Outcome(Enum):
    COMPLETED = "completed"  # computed (or reused) and advanced: continue the chain
    CONTINUE = "continue"  # already advanced by an earlier delivery, next stage not started: continue
    SKIPPED = "skipped"  # a duplicate or stale delivery: stop here
    FAILED = "failed"  # permanent failure recorded: stop here


@dataclass(frozen=True)
class StageRuntime:
    """Per-process dependencies of a stage: database, blobs, limits."""

    session_factory: sessionmaker[Session]
    blob_store: BlobStore
    limits: PageLimits
    max_attempts: int


def run_stage(
    *,
    runtime: StageRuntime,
    stage: Stage,
    job_id: str,
    delivery_id: str,
    compute: ComputeFn,
    finalize: FinalizeFn | None = None,
) -> Outcome:
    """Run ``stage`` of ``job_id`` once, idempotently.

    Args:
        runtime: database, blob store and limits of this process.
        stage: the stage this worker serves.
        job_id: the job (the task's only argument).
        delivery_id: the Celery task id; a redelivered message carries the same id.
        compute: the stage's pipeline, ``StageInput -> output model`` (no database access).
        finalize: called in the final transaction of the last stage (patient repository writes).

    Returns:
        What happened, for the task adapter to continue or stop the chain.

    Raises:
        RxlabError: permanent errors are recorded and returned as FAILED; transient errors propagate for a retry.
    """
    with log_context(job_id=job_id, stage=stage.value):
        claimed = _claim(runtime, stage=stage, job_id=job_id, delivery_id=delivery_id)
        if claimed is not Outcome.COMPLETED:
            return claimed
        try:
            output = _compute_or_reuse(runtime, stage=stage, job_id=job_id, compute=compute)
            return _advance(runtime, stage=stage, job_id=job_id, output=output, finalize=finalize)
        except RxlabError as exc:
            if exc.transient:
                raise
            fail_job(runtime, job_id=job_id, stage=stage, code=exc.code, message=exc.message)
            return Outcome.FAILED


def _claim(runtime: StageRuntime, *, stage: Stage, job_id: str, delivery_id: str) -> Outcome:
    with transaction(runtime.session_factory) as session:
        job = session.get(Job, job_id)
        if job is None:
            log.warning("stage task for an unknown job dropped")
            return Outcome.SKIPPED
        if job.state in TERMINAL_STATES:
            return Outcome.SKIPPED
        here = stage_index(stage)
        there = stage_index(job.stage)
        if there > here:
            # An earlier delivery finished this stage. If the next stage has not started, its message may
            # have been lost with the worker: let the chain publish it again (its claim dedupes).
            return Outcome.CONTINUE if job.state == QUEUED and there == here + 1 else Outcome.SKIPPED
        if there < here:
            log.warning("stage task arrived before its predecessor finished; dropped")
            return Outcome.SKIPPED
        return _claim_current(session, runtime, job, stage, delivery_id)


def _claim_current(session: Session, runtime: StageRuntime, job: Job, stage: Stage, delivery_id: str) -> Outcome:
    current = JobState(job.state, job.stage)
    if job.state == RUNNING and job.claim_token != delivery_id:
        log.info("duplicate delivery of a running stage skipped")
        return Outcome.SKIPPED
    if job.state == RUNNING and job.stage_attempts >= runtime.max_attempts:
        transition(
            session,
            job_id=job.id,
            expect=current,
            to=JobState(FAILED, stage.value),
            error=("attempts_exhausted", f"stage {stage.value} failed {job.stage_attempts} times"),
        )
        return Outcome.FAILED
    made = transition(
        session,
        job_id=job.id,
        expect=current,
        to=JobState(RUNNING, stage.value),
        claim_token=delivery_id,
        expect_token=delivery_id if job.state == RUNNING else None,
        count_attempt=True,
        error=None,
        detail="redelivered" if job.state == RUNNING else None,
    )
    return Outcome.COMPLETED if made else Outcome.SKIPPED


def _compute_or_reuse(runtime: StageRuntime, *, stage: Stage, job_id: str, compute: ComputeFn) -> BaseModel:
    kind = STAGE_OUTPUT_TYPES[stage.value]
    with transaction(runtime.session_factory) as session:
        job = _job(session, job_id)
        existing = get_stage_output(
            session, document_id=job.document_id, stage=stage.value, pipeline_version=job.pipeline_version
        )
        if existing is not None:
            log.info("stage output reused")
            return kind.model_validate(existing.payload)
        stage_input = _load_input(session, runtime, job, stage)
    with log_context(document_id=stage_input.document_id):
        started = time.perf_counter()
        output = compute(stage_input)
        log.info(
            "stage computed in %.1f ms",
            (time.perf_counter() - started) * 1000,
            extra={"timings": output.model_dump().get("timings")},
        )
    return output


def _load_input(session: Session, runtime: StageRuntime, job: Job, stage: Stage) -> StageInput:
    document = session.get(Document, job.document_id)
    if document is None:
        raise NotFoundError("the job's document is gone", code="document_missing")
    outputs: dict[Stage, Any] = {}
    for earlier in STAGES[: STAGES.index(stage)]:
        row = get_stage_output(
            session, document_id=job.document_id, stage=earlier.value, pipeline_version=job.pipeline_version
        )
        if row is None:
            raise NotFoundError(f"the {earlier.value} output is missing", code="stage_input_missing")
        outputs[earlier] = STAGE_OUTPUT_TYPES[earlier.value].model_validate(row.payload)
    return StageInput(
        document_id=document.id,
        requested_type=document.document_type,
        original=runtime.blob_store.get(document.blob_key),
        limits=runtime.limits,
        outputs=outputs,
    )


def _advance(
    runtime: StageRuntime, *, stage: Stage, job_id: str, output: BaseModel, finalize: FinalizeFn | None
) -> Outcome:
    try:
        return _advance_once(runtime, stage=stage, job_id=job_id, output=output, finalize=finalize)
    except _LostRace:
        return Outcome.SKIPPED


class _LostRace(Exception):
    """The job moved on while this delivery was computing."""


def _advance_once(
    runtime: StageRuntime, *, stage: Stage, job_id: str, output: BaseModel, finalize: FinalizeFn | None
) -> Outcome:
    following = next_stage(stage)
    with transaction(runtime.session_factory) as session:
        job = _job(session, job_id)
        payload = output.model_dump(mode="json", by_alias=True)
        row, _ = put_stage_output(
            session,
            job=job,
            stage=stage.value,
            model_version=str(payload.get("model_version")),
            payload=payload,
        )
        record_timing(job, stage=stage.value, timings=_timings_of(row.payload))
        session.flush()
        if following is None and finalize is not None:
            finalize(session, job, STAGE_OUTPUT_TYPES[stage.value].model_validate(row.payload))
        target = JobState(DONE, None) if following is None else JobState(QUEUED, following.value)
        if not transition(session, job_id=job_id, expect=JobState(RUNNING, stage.value), to=target):
            # Another delivery advanced the job first: undo this transaction's writes.
            raise _LostRace
    return Outcome.COMPLETED


def _timings_of(payload: dict[str, Any]) -> dict[str, float]:
    raw = payload.get("timings") or {}
    timings = {key: float(value) for key, value in raw.items()}
    timings["total_ms"] = sum(timings.values())
    return timings


def fail_job(runtime: StageRuntime, *, job_id: str, stage: Stage, code: str, message: str) -> bool:
    """Record a permanent failure of ``stage`` (only if the job is still running it)."""
    with transaction(runtime.session_factory) as session:
        made = transition(
            session,
            job_id=job_id,
            expect=JobState(RUNNING, stage.value),
            to=JobState(FAILED, stage.value),
            error=(code, message),
        )
    if made:
        log.warning("job failed permanently: %s", code)
    return made


def _job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError("the job is gone", code="job_missing")
    return job
