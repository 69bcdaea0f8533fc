"""The one Celery factory: every reliability setting of rxlab lives here.

- ``acks_late`` + ``reject_on_worker_lost``: a task whose worker dies is redelivered, never lost. That is safe
  only because every stage is idempotent (see :mod:`shared.stage_runner`).
- prefetch 1: a worker holds one unacknowledged message at a time.
- soft/hard time limits per stage; the Redis visibility timeout is above the longest hard limit
  (enforced by :class:`shared.settings.Settings`), or a running task would be delivered twice.
- results are ignored: the database, not the result backend, is the source of truth.

The configuration is lazy (``add_defaults`` with a callable): creating the app reads no environment and opens
no connection; the first use does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery

from shared.contracts.names import QUEUES, STAGES, TASK_NAMES
from shared.settings import Settings, get_settings


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration of every rxlab process (gateway client and workers alike)."""
    limits = settings.stage_limits()
    return {
        "broker_url": settings.broker_url,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout},
        "task_routes": {TASK_NAMES[stage]: {"queue": QUEUES[stage]} for stage in STAGES},
        "task_annotations": {
            TASK_NAMES[stage]: {
                "soft_time_limit": limits[stage.value].soft,
                "time_limit": limits[stage.value].hard,
            }
            for stage in STAGES
        },
        "task_default_queue": "default",
    }


def make_celery(*, name: str, settings_factory: Callable[[], Settings] = get_settings) -> Celery:
    """Create a Celery app whose configuration is read from ``settings_factory`` on first use."""
    app = Celery(name, set_as_current=False)
    app.add_defaults(lambda: celery_config(settings_factory()))
    return app
