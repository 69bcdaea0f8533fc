"""Operator endpoints: filtered listing with pagination, re-queue (one, bulk), cancel, and the audit trail."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select, update

from services.gateway.extensions import ext
from shared.db.models import AuditEvent, Job
from tests.unit.gateway.test_documents import png_bytes, submit


def _fail(client: FlaskClient, job_id: str, *, stage: str = "ocr", code: str = "attempts_exhausted") -> None:
    with client.application.app_context(), ext().session_factory() as session, session.begin():
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(state="failed", stage=stage, error_code=code, error_message="x", stage_attempts=5)
        )


def _jobs(client: FlaskClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = submit(client, png_bytes(320 + i), patient=f"p-{i % 2}").json
        assert body is not None
        ids.append(body["job_id"])
    return ids


def test_list_filters_and_paginates(client: FlaskClient) -> None:
    ids = _jobs(client, 5)
    _fail(client, ids[0])
    _fail(client, ids[1], stage="detect", code="unreadable_document")
    failed = client.get("/v1/jobs?state=failed").json
    assert failed is not None and {j["job_id"] for j in failed["jobs"]} == {ids[0], ids[1]}
    by_stage = client.get("/v1/jobs?state=failed&stage=ocr&error=attempts_exhausted").json
    assert by_stage is not None and [j["job_id"] for j in by_stage["jobs"]] == [ids[0]]
    seen, cursor = [], ""
    while True:
        page = client.get(f"/v1/jobs?limit=2{'&cursor=' + cursor if cursor else ''}").json
        assert page is not None
        seen += [j["job_id"] for j in page["jobs"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert client.get("/v1/jobs?state=exploded").status_code == 422


def test_requeue_one_from_its_failed_stage_and_audit(client: FlaskClient) -> None:
    (job_id,) = _jobs(client, 1)
    _fail(client, job_id)
    response = client.post(f"/v1/jobs/{job_id}/requeue", json={}, headers={"X-Rxlab-Actor": "op-anna"})
    assert response.status_code == 202
    assert response.json is not None
    assert (response.json["state"], response.json["stage"], response.json["error_code"]) == ("queued", "ocr", None)
    with client.application.app_context(), ext().session_factory() as session:
        events = list(session.scalars(select(AuditEvent)))
        job = session.get(Job, job_id)
    assert [(e.actor, e.action, e.target, e.count) for e in events] == [("op-anna", "requeue", job_id, 1)]
    assert job is not None and job.stage_attempts == 0


def test_requeue_with_new_pipeline_version_restarts_at_detect(client: FlaskClient) -> None:
    (job_id,) = _jobs(client, 1)
    _fail(client, job_id, stage="tag")
    bad = client.post(f"/v1/jobs/{job_id}/requeue", json={"from_stage": "tag", "pipeline_version": "2"})
    assert bad.status_code == 422 and bad.json is not None
    assert bad.json["error"]["code"] == "invalid_from_stage"
    good = client.post(f"/v1/jobs/{job_id}/requeue", json={"pipeline_version": "2"}).json
    assert good is not None and (good["stage"], good["pipeline_version"]) == ("detect", "2")


def test_bulk_requeue_answers_how_many(client: FlaskClient) -> None:
    ids = _jobs(client, 4)
    for job_id in ids[:3]:
        _fail(client, job_id)
    response = client.post("/v1/jobs/requeue", json={"filter": {"state": "failed", "stage": "ocr"}})
    assert response.status_code == 202
    assert response.json is not None and response.json["requeued"] == 3
    assert sorted(response.json["job_ids"]) == sorted(ids[:3])
    again = client.post("/v1/jobs/requeue", json={"filter": {"state": "failed"}}).json
    assert again is not None and again["requeued"] == 0


def test_cancel_and_conflicts(client: FlaskClient) -> None:
    (job_id,) = _jobs(client, 1)
    cancelled = client.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json is not None and cancelled.json["state"] == "cancelled"
    again = client.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json is not None
    assert again.json["error"]["code"] == "job_not_cancellable"
    assert client.post("/v1/jobs/nope/requeue", json={}).status_code == 404
