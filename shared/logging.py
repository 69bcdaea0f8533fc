"""JSON logging for every service, with job/document/request ids from context.

Lines carry ids only — never patient names or extracted values. Call :func:`configure_logging` once from an
entry point (app factory, worker signal, CLI); nothing is configured at import.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("rxlab_log_context", default={})  # noqa: B039
_service = "rxlab"


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach ids (job_id, document_id, request_id, stage) to every log line inside the block."""
    merged = {**_context.get(), **{k: v for k, v in ids.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, context ids, extra timings."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": _service,
            "logger": record.name,
            "msg": record.getMessage(),
            **_context.get(),
        }
        timings = getattr(record, "timings", None)
        if timings is not None:
            payload["timings"] = timings
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(*, service: str, level: str = "INFO", json_lines: bool = True) -> None:
    """Route the root logger to stderr in JSON (or plain text for a terminal)."""
    global _service  # noqa: PLW0603 - one service name per process, set once at start-up
    _service = service
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
