"""The shape every stage worker shares: a Celery app, its one stage task, and per-process start-up.

Models are loaded once per worker process, in the prefork child (``worker_process_init``), never in the parent
before fork and never per task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from shared.celery_app import make_celery
from shared.contracts.names import Stage
from shared.logging import configure_logging
from shared.runtime import get_runtime
from shared.settings import get_settings
from shared.stage_runner import ComputeFn, FinalizeFn
from shared.stage_tasks import register_stage_task


def make_worker_app(
    *,
    service: str,
    stage: Stage,
    compute: ComputeFn,
    warm_up: Callable[[], None] | None = None,
    finalize: FinalizeFn | None = None,
) -> Celery:
    """Create the Celery app of one stage service, with its task registered and its start-up hook."""
    app = make_celery(name=f"rxlab-{service}")
    register_stage_task(app, stage=stage, compute=compute, runtime_factory=get_runtime, finalize=finalize)

    def _process_init(**_: Any) -> None:
        settings = get_settings()
        configure_logging(service=service, level=settings.log_level, json_lines=settings.log_json)
        get_runtime()
        if warm_up is not None:
            warm_up()

    worker_process_init.connect(_process_init, weak=False)
    return app
