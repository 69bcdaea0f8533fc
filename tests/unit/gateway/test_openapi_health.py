"""/openapi.json describes every route with the pydantic contracts; /healthz and /readyz."""

from __future__ import annotations

from flask.testing import FlaskClient
from openapi_spec_validator import validate


def test_openapi_document_is_valid_and_complete(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert spec is not None
    validate(spec)
    assert set(spec["paths"]) >= {
        "/v1/documents",
        "/v1/jobs/{job_id}",
        "/v1/documents/{document_id}/original",
        "/v1/patients/{patient_id}/records",
        "/v1/records/{record_id}/versions",
        "/healthz",
        "/readyz",
    }
    schemas = spec["components"]["schemas"]
    assert "ExtractionResult" in schemas and "JobStatus" in schemas
    assert "schema" in schemas["ExtractionResult"]["properties"]
    post = spec["paths"]["/v1/documents"]["post"]
    assert set(post["responses"]) == {"202", "409", "413", "415", "422"}
    versions = spec["paths"]["/v1/records/{record_id}/versions"]
    assert set(versions) >= {"get", "post"}
    assert set(versions["post"]["responses"]) == {"201", "404", "409", "422"}
    assert "RecordCorrection" in schemas


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readiness_reports_an_unreachable_broker(client: FlaskClient) -> None:
    from services.gateway.extensions import ext

    with client.application.app_context():
        ext().celery.conf.broker_url = "redis://127.0.0.1:1/0"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json is not None and ready.json["checks"]["broker"].startswith("error")
