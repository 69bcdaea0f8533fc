"""The gateway's application factory.

``create_app(settings=None)`` wires extensions, blueprints and error handlers; nothing connects at import.
"""

from __future__ import annotations

import uuid

from flask import Flask, g, request
from flask.typing import ResponseReturnValue

from services.gateway import errors, metrics, openapi, ops, timeline
from services.gateway.api import documents, health, jobs, operations, patients
from services.gateway.extensions import init_extensions
from shared.logging import configure_logging
from shared.settings import GatewaySettings, get_gateway_settings

# Multipart framing around the file part (field names, boundaries, the other fields).
FORM_OVERHEAD_BYTES = 64 * 1024


def create_app(settings: GatewaySettings | None = None, *, configure_logs: bool = True) -> Flask:
    """Build the gateway application for ``settings`` (read from the environment when None)."""
    settings = settings or get_gateway_settings()
    app = Flask("rxlab-gateway")
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        MAX_FORM_MEMORY_SIZE=settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        SECRET_KEY=settings.secret_key,
        JSON_SORT_KEYS=False,
    )
    if configure_logs:
        configure_logging(service="gateway", level=settings.log_level, json_lines=settings.log_json)
    init_extensions(app, settings)
    blueprints = (documents, jobs, operations, patients, health, openapi, metrics, ops, timeline)
    for blueprint in (module.bp for module in blueprints):
        app.register_blueprint(blueprint)
    errors.register(app)
    app.before_request(_identify_request)
    app.after_request(_echo_request_id)
    return app


def _identify_request() -> None:
    """Give every request an id and an actor; later issues replace the actor header with authentication."""
    g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
    g.actor = request.headers.get("X-Rxlab-Actor", "anonymous")[:128]


def _echo_request_id(response: ResponseReturnValue) -> ResponseReturnValue:
    response.headers["X-Request-ID"] = g.get("request_id", "")  # type: ignore[union-attr]
    return response
