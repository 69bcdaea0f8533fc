"""One error handler: every error leaves the gateway as ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from flask import Flask, Response, jsonify
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from shared.errors import RxlabError, ValidationError, problems_of

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


Body = TypeVar("Body", bound=BaseModel)


def parse_body(model: type[Body], data: Any) -> Body:
    """A request body or query as ``model``; a 422 ``invalid_fields`` naming every problem when it is not one."""
    try:
        return model.model_validate(data or {})
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid request: {problems_of(exc)}", code="invalid_fields") from None


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    """The JSON error body with its status."""
    return jsonify({"error": {"code": code, "message": message}}), status


def register(app: Flask) -> None:
    """Install the handlers on ``app``."""

    @app.errorhandler(RxlabError)
    def _rxlab(exc: RxlabError) -> tuple[Response, int]:
        return error_response(exc.http_status, exc.code, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_: RequestEntityTooLarge) -> tuple[Response, int]:
        return error_response(413, "payload_too_large", "the upload exceeds the size limit")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        return error_response(status, _HTTP_CODES.get(status, "http_error"), exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error: %s", type(exc).__name__)
        return error_response(500, "internal_error", "an internal error occurred; the request was not completed")
