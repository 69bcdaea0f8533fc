"""OpenAPI 3.1 document generated from the code: routes declare their pydantic contracts with :func:`documented`.

The schemas come from the same pydantic models the gateway validates and serialises with, so the document
cannot drift from the behaviour. Served at ``GET /openapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.contracts.api import ErrorBody

bp = Blueprint("openapi", __name__)
F = TypeVar("F", bound=Callable[..., Any])
_REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Response:
    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    responses: dict[int, Response]
    form: type[BaseModel] | None = None
    json_body: type[BaseModel] | None = None
    file_field: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def documented(operation: Operation) -> Callable[[F], F]:
    """Attach ``operation`` to a view function for the generated document."""

    def wrap(view: F) -> F:
        view._openapi = operation  # type: ignore[attr-defined]
        return view

    return wrap


def build_spec(app: Flask) -> dict[str, Any]:
    """Build the OpenAPI document of every documented route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    models: set[type[BaseModel]] = {ErrorBody}
    for rule in app.url_map.iter_rules():
        operation: Operation | None = getattr(app.view_functions[rule.endpoint], "_openapi", None)
        if operation is None:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(operation, rule.arguments, models)
    _, schemas = models_json_schema(
        [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)], ref_template=_REF
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rxlab gateway",
            "version": "1",
            "description": 'Prescription and lab-report extraction. Errors are {"error": {"code", "message"}}.',
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }


def _operation(operation: Operation, arguments: set[str], models: set[type[BaseModel]]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in sorted(arguments)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}
        for name, text in operation.query.items()
    ]
    parameters += [
        {"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": text}
        for name, text in operation.headers.items()
    ]
    result: dict[str, Any] = {
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": parameters,
        "responses": {str(code): _response(resp, models) for code, resp in sorted(operation.responses.items())},
    }
    if operation.form is not None:
        models.add(operation.form)
        schema: dict[str, Any] = {"allOf": [{"$ref": _REF.format(model=operation.form.__name__)}]}
        if operation.file_field:
            schema["allOf"].append(
                {
                    "type": "object",
                    "required": [operation.file_field],
                    "properties": {operation.file_field: {"type": "string", "format": "binary"}},
                }
            )
        result["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    if operation.json_body is not None:
        models.add(operation.json_body)
        ref = {"$ref": _REF.format(model=operation.json_body.__name__)}
        result["requestBody"] = {"required": False, "content": {"application/json": {"schema": ref}}}
    return result


def _response(response: Response, models: set[type[BaseModel]]) -> dict[str, Any]:
    body: dict[str, Any] = {"description": response.description}
    if response.model is not None:
        models.add(response.model)
        body["content"] = {response.media_type: {"schema": {"$ref": _REF.format(model=response.model.__name__)}}}
    elif response.media_type != "application/json":
        body["content"] = {response.media_type: {"schema": {"type": "string", "format": "binary"}}}
    return body


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    """The OpenAPI document of this gateway."""
    return jsonify(build_spec(current_app))
