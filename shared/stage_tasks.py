"""The Celery adapter of a stage: one task per stage, thin, identical for every service.

It unpacks the job id, calls :func:`shared.stage_runner.run_stage`, and turns the outcome into Celery terms:
continue the chain, stop it (``Ignore``: the message is acknowledged), or retry with exponential backoff and
jitter. The attempt cap lives in the database (the runner fails a job whose stage has used
``max_attempts``); Celery's own ``max_retries`` is a backstop for when the database itself is unreachable.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from celery import Celery, Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded

from shared.contracts.names import TASK_NAMES, Stage
from shared.errors import RxlabError
from shared.settings import get_settings
from shared.stage_runner import ComputeFn, FinalizeFn, Outcome, StageRuntime, run_stage

log = logging.getLogger(__name__)


def backoff_seconds(*, retries: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**retries)]."""
    return random.uniform(0.0, min(cap, base * (2**retries)))  # noqa: S311 - jitter, not cryptography


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth a retry. Unknown errors are retried too, within the attempt cap."""
    if isinstance(exc, RxlabError):
        return exc.transient
    return isinstance(exc, Exception | SoftTimeLimitExceeded)


def register_stage_task(
    app: Celery,
    *,
    stage: Stage,
    compute: ComputeFn,
    runtime_factory: Callable[[], StageRuntime],
    finalize: FinalizeFn | None = None,
) -> Task:
    """Register the task of ``stage`` on ``app`` under its shared name and return it."""

    @app.task(name=TASK_NAMES[stage], bind=True, max_retries=50)  # type: ignore[untyped-decorator]
    def stage_task(self: Task, job_id: str) -> str:
        delivery_id = str(self.request.id)
        try:
            outcome = run_stage(
                runtime=runtime_factory(),
                stage=stage,
                job_id=job_id,
                delivery_id=delivery_id,
                compute=compute,
                finalize=finalize,
            )
        except Ignore:
            raise
        except BaseException as exc:
            if not is_transient(exc):
                raise
            settings = get_settings()
            countdown = backoff_seconds(
                retries=int(self.request.retries),
                base=settings.retry_backoff_base,
                cap=settings.retry_backoff_max,
            )
            log.warning("stage %s: transient error %s, retry in %.1f s", stage.value, type(exc).__name__, countdown)
            raise self.retry(exc=exc, countdown=countdown) from exc
        if outcome in (Outcome.SKIPPED, Outcome.FAILED):
            raise Ignore()
        return job_id

    task: Task = stage_task
    return task
