"""Liveness (the process answers) and readiness (the database and the broker answer)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from services.gateway.extensions import ext
from services.gateway.openapi import Operation, Response, documented
from shared.contracts.api import Health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@documented(Operation(summary="The process is up", tag="health", responses={200: Response("up", Health)}))
def healthz() -> ResponseReturnValue:
    return jsonify(Health(status="ok").model_dump())


@bp.get("/readyz")
@documented(
    Operation(
        summary="The database and the broker are reachable",
        tag="health",
        responses={200: Response("ready", Health), 503: Response("not ready", Health)},
    )
)
def readyz() -> ResponseReturnValue:
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(value == "ok" for value in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return jsonify(body.model_dump()), 200 if ready else 503


def _check_database() -> str:
    try:
        with ext().session_factory() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason is reported, not raised
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_broker() -> str:
    try:
        with ext().celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
