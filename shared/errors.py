"""The one error hierarchy of rxlab.

Every error carries a machine-readable ``code`` and a human ``message``; the gateway maps them to
``{"error": {"code", "message"}}`` with ``http_status``; workers use ``transient`` to decide on a retry.
"""

from __future__ import annotations

from pydantic import ValidationError as PydanticValidationError


class RxlabError(Exception):
    """Base error: a stable code, a message safe to show (no patient data), an HTTP status."""

    http_status = 500
    transient = False
    default_code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message


class ValidationError(RxlabError):
    """The request or the input document is not acceptable as it is."""

    http_status = 422
    default_code = "invalid_request"


class PayloadTooLargeError(ValidationError):
    http_status = 413
    default_code = "payload_too_large"


class UnsupportedMediaTypeError(ValidationError):
    http_status = 415
    default_code = "unsupported_media_type"


class NotFoundError(RxlabError):
    http_status = 404
    default_code = "not_found"


class ConflictError(RxlabError):
    http_status = 409
    default_code = "conflict"


class TransientError(RxlabError):
    """Worth retrying: a dependency was briefly unavailable."""

    http_status = 503
    transient = True
    default_code = "unavailable"


class PermanentError(RxlabError):
    """Retrying cannot help: the input cannot be processed (unreadable image, no text, ...)."""

    http_status = 422
    default_code = "permanent_failure"


def problems_of(error: PydanticValidationError) -> str:
    """A pydantic validation error as one line safe to show: "field.path: message; …"."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
