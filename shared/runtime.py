"""Per-process resources of a worker: engine, session factory, blob store — created after fork, once.

Prefork children must not share the parent's database connections, so the runtime is keyed by process id and
built lazily in the child (``worker_process_init`` warms it).
"""

from __future__ import annotations

import os
import threading

from shared.db.session import make_engine, make_session_factory
from shared.pages import PageLimits
from shared.settings import Settings, get_settings
from shared.stage_runner import StageRuntime
from shared.storage import make_blob_store

_lock = threading.Lock()
_runtimes: dict[int, StageRuntime] = {}


def build_runtime(settings: Settings) -> StageRuntime:
    """Create the database and blob store handles for ``settings``."""
    engine = make_engine(settings.database_url)
    return StageRuntime(
        session_factory=make_session_factory(engine),
        blob_store=make_blob_store(settings.blob_root),
        limits=page_limits(settings),
        max_attempts=settings.max_attempts,
    )


def page_limits(settings: Settings) -> PageLimits:
    """The decoding guards configured in ``settings``."""
    return PageLimits(max_page_pixels=settings.max_page_pixels, max_pages=settings.max_pages, pdf_dpi=settings.pdf_dpi)


def get_runtime() -> StageRuntime:
    """The runtime of the current process (built on first use in each process)."""
    pid = os.getpid()
    with _lock:
        runtime = _runtimes.get(pid)
        if runtime is None:
            runtime = build_runtime(get_settings())
            _runtimes.clear()
            _runtimes[pid] = runtime
        return runtime
