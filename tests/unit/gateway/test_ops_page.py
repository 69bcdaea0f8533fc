"""The operations page: counts, queue depths, the last hour, the filtered list, and the form actions."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway import create_app
from services.gateway.extensions import ext
from services.processes import free_port
from shared.db.models import AuditEvent, Document, Job, JobEvent, utcnow
from shared.db.session import transaction
from shared.jobs import TERMINAL_STATES
from shared.settings import GatewaySettings

BROKER_DB = 3  # a Redis database of its own, so queue depths count only this module's messages

Event = tuple[str, str | None, int, datetime]  # state, stage, attempt, at


def seed_job(
    session_factory: sessionmaker[Session],
    *,
    state: str,
    stage: str | None,
    patient_id: str = "p-1",
    error_code: str | None = None,
    attempts: int = 1,
    timings: dict[str, dict[str, float]] | None = None,
    updated_at: datetime | None = None,
    created_at: datetime | None = None,
    events: Iterable[Event] = (),
) -> str:
    """Insert a document and its job in the given state through the models (no upload, no broker)."""
    now = utcnow()
    document_id, job_id = str(uuid.uuid4()), str(uuid.uuid4())
    with transaction(session_factory) as session:
        session.add(
            Document(
                id=document_id, patient_id=patient_id, sha256="0" * 64, media_type="image/png", size_bytes=1,
                page_count=1, filename=None, document_type="auto", blob_key=f"seed/{document_id}",
                created_at=created_at or now, created_by="seed", request_id=None,
            )
        )  # fmt: skip
        session.flush()
        session.add(
            Job(
                id=job_id, document_id=document_id, patient_id=patient_id, state=state, stage=stage,
                attempts=attempts, stage_attempts=attempts, pipeline_version="1", timings=timings or {},
                error_code=error_code, error_message=f"{error_code} (seeded)" if error_code else None,
                created_at=created_at or now, updated_at=updated_at or now,
                finished_at=(updated_at or now) if state in TERMINAL_STATES else None,
            )
        )  # fmt: skip
        session.flush()
        for event_state, event_stage, attempt, at in events:
            session.add(
                JobEvent(
                    job_id=job_id, patient_id=patient_id, state=event_state, stage=event_stage, attempt=attempt, at=at
                )
            )
    return job_id


def isolated_broker(redis_url: str, db: int) -> str:
    """The session's Redis with database ``db``, emptied."""
    url = redis_url.rsplit("/", 1)[0] + f"/{db}"
    with Redis.from_url(url) as client:
        client.flushdb()
    return url


def queue_length(broker_url: str, queue: str) -> int:
    with Redis.from_url(broker_url) as client:
        return int(client.llen(queue))


@pytest.fixture
def settings(settings: GatewaySettings, redis_url: str) -> GatewaySettings:
    return settings.model_copy(update={"broker_url": isolated_broker(redis_url, BROKER_DB)})


def sessions(client: FlaskClient) -> sessionmaker[Session]:
    with client.application.app_context():
        return ext().session_factory


def page(client: FlaskClient, url: str = "/ops") -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.text


def job_rows(html: str) -> dict[str, dict[str, str]]:
    """The job list: job id -> state, stage and error code as shown."""
    rows = {}
    for job_id, state, body in re.findall(r'<tr data-job="([^"]+)" data-state="([^"]+)">(.*?)</tr>', html, re.S):
        stage = re.search(r'<td class="stage">(.*?)</td>', body, re.S)
        code = re.search(r'<td class="code">(.*?)</td>', body, re.S)
        assert stage is not None and code is not None
        rows[job_id] = {"state": state, "stage": stage.group(1).strip(), "code": code.group(1).strip()}
    return rows


def number(html: str, attribute: str, value: str) -> int:
    found = re.search(rf'{attribute}="{re.escape(value)}"[^>]*>(\d+)<', html)
    assert found is not None, f"{attribute}={value} not on the page"
    return int(found.group(1))


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)<', html, re.S)
    assert found is not None, f"#{element_id} not on the page"
    return found.group(1).strip()


def csrf_token(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page(client, "/ops?state=any"))
    assert found is not None, "no CSRF token in the page's forms"
    return found.group(1)


def audit_rows(client: FlaskClient) -> list[tuple[str, str, str, int]]:
    with sessions(client)() as session:
        return [
            (e.actor, e.action, e.target, e.count) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def job_state(client: FlaskClient, job_id: str) -> tuple[str, str | None, str | None]:
    with sessions(client)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.state, job.stage, job.error_code


def test_page_shows_counts_queue_depths_and_the_failed_jobs_with_their_codes(
    client: FlaskClient, settings: GatewaySettings
) -> None:
    factory = sessions(client)
    done = [seed_job(factory, state="done", stage=None) for _ in range(2)]
    running = seed_job(factory, state="running", stage="ocr")
    queued = seed_job(factory, state="queued", stage="tag")
    failed_ocr = seed_job(factory, state="failed", stage="ocr", error_code="attempts_exhausted", attempts=5)
    failed_detect = seed_job(factory, state="failed", stage="detect", error_code="unreadable_document")
    seed_job(factory, state="cancelled", stage="detect")
    with Redis.from_url(settings.broker_url) as redis:
        redis.rpush("ocr", "m1", "m2")
        redis.rpush("tag", "m3")

    html = page(client)
    totals = {state: number(html, "data-state-total", state) for state in ("queued", "running", "done", "failed")}
    assert totals == {"queued": 1, "running": 1, "done": 2, "failed": 2}
    assert number(html, "data-state-total", "cancelled") == 1
    assert number(html, "data-cell", "failed/ocr") == 1
    assert number(html, "data-cell", "failed/detect") == 1
    assert number(html, "data-cell", "done/none") == 2
    assert number(html, "data-cell", "running/ocr") == 1
    assert {q: number(html, "data-queue", q) for q in ("detect", "ocr", "tag", "normalise")} == {
        "detect": 0,
        "ocr": 2,
        "tag": 1,
        "normalise": 0,
    }
    # The default list is the failed jobs, each with its error code and the stage it failed at.
    assert job_rows(html) == {
        failed_ocr: {"state": "failed", "stage": "ocr", "code": "attempts_exhausted"},
        failed_detect: {"state": "failed", "stage": "detect", "code": "unreadable_document"},
    }
    assert '<option value="attempts_exhausted">' in html and '<option value="unreadable_document">' in html

    assert set(job_rows(page(client, "/ops?error=unreadable_document"))) == {failed_detect}
    assert set(job_rows(page(client, "/ops?state=any&stage=ocr"))) == {failed_ocr, running}
    assert set(job_rows(page(client, "/ops?state=done"))) == set(done)
    assert set(job_rows(page(client, "/ops?state=queued&patient_id=p-1"))) == {queued}
    assert job_rows(page(client, "/ops?patient_id=someone-else")) == {}
    bad = page(client, "/ops?state=exploded")
    assert "invalid_fields" in text_of(bad, "filter-problem") and job_rows(bad) == {}


def test_last_hour_shows_the_failure_rate_and_stage_latency(client: FlaskClient) -> None:
    factory = sessions(client)
    now = utcnow()
    for detect_ms, ocr_ms in ((100, 1000), (200, 3000), (300, 2000)):
        timings = {"detect": {"total_ms": detect_ms}, "ocr": {"total_ms": ocr_ms}}
        seed_job(factory, state="done", stage=None, timings=timings, updated_at=now - timedelta(minutes=12))
    failed_timings = {"detect": {"total_ms": 400}}
    seed_job(
        factory,
        state="failed",
        stage="ocr",
        error_code="x",
        timings=failed_timings,
        updated_at=now - timedelta(minutes=7),
    )
    seed_job(factory, state="failed", stage="ocr", error_code="x", updated_at=now - timedelta(hours=2))  # outside

    html = page(client)
    assert text_of(html, "finished-1h") == "4"
    assert text_of(html, "failed-1h") == "1"
    assert text_of(html, "failure-rate-1h") == "25.0%"
    detect = re.search(
        r'data-latency="detect">.*?<td>(\d+)</td><td class="p50">(\d+) ms</td><td class="p95">(\d+) ms', html, re.S
    )
    assert detect is not None and detect.groups() == ("4", "200", "400")
    ocr = re.search(r'data-latency="ocr">.*?<td>(\d+)</td><td class="p50">(\d+) ms', html, re.S)
    assert ocr is not None and ocr.groups() == ("3", "2000")
    # The chart: one bar per 5-minute interval in which jobs finished, with its share of failures.
    bars = re.findall(r'<rect class="bar"[^>]*><title>[^<]*: (\d+) of (\d+) failed', html)
    assert sorted(bars) == [("0", "3"), ("1", "1")]
    assert re.search(r'<polyline class="line s-detect" points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"', html)


def test_requeue_from_the_page_moves_the_job_to_queued_and_is_audited(
    client: FlaskClient, settings: GatewaySettings
) -> None:
    job_id = seed_job(sessions(client), state="failed", stage="ocr", error_code="attempts_exhausted", attempts=5)
    token = csrf_token(client)
    response = client.post(
        f"/ops/jobs/{job_id}/requeue",
        data={"csrf_token": token, "actor": "anna", "state": "failed", "error": "attempts_exhausted"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/ops?state=failed&error=attempts_exhausted"
    assert job_state(client, job_id) == ("queued", "ocr", None)
    assert audit_rows(client) == [("ops:anna", "requeue", job_id, 1)]
    assert queue_length(settings.broker_url, "ocr") == 1
    after = page(client, response.headers["Location"])
    assert f"Job {job_id} re-queued at ocr." in after
    assert job_rows(after) == {}  # no longer failed
    assert number(after, "data-queue", "ocr") == 1
    assert number(after, "data-state-total", "queued") == 1
    assert 'id="operator" type="text" maxlength="100" value="anna"' in after  # the name is remembered


def test_the_actor_header_wins_over_the_typed_name(client: FlaskClient) -> None:
    job_id = seed_job(sessions(client), state="failed", stage="tag", error_code="x")
    token = csrf_token(client)
    client.post(
        f"/ops/jobs/{job_id}/requeue", data={"csrf_token": token, "actor": "anna"}, headers={"X-Rxlab-Actor": "sso-bob"}
    )
    assert audit_rows(client) == [("ops:sso-bob", "requeue", job_id, 1)]


def test_form_posts_without_this_sessions_csrf_token_are_refused(
    client: FlaskClient, settings: GatewaySettings
) -> None:
    job_id = seed_job(sessions(client), state="failed", stage="ocr", error_code="attempts_exhausted")
    queued = seed_job(sessions(client), state="queued", stage="detect")
    attempts = [
        (f"/ops/jobs/{job_id}/requeue", {}),
        (f"/ops/jobs/{queued}/cancel", {}),
        ("/ops/requeue", {"state": "failed"}),
    ]
    for url, data in attempts:  # no session yet: no token at all
        response = client.post(url, data=data)
        assert response.status_code == 403 and "Form rejected" in response.text
    csrf_token(client)  # the session now has a token, but the posts carry a wrong one
    for url, data in attempts:
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 403
    assert job_state(client, job_id) == ("failed", "ocr", "attempts_exhausted")
    assert job_state(client, queued) == ("queued", "detect", None)
    assert audit_rows(client) == []
    assert queue_length(settings.broker_url, "ocr") == 0
    # A second browser (another session) cannot reuse the first session's token either.
    other = client.application.test_client()
    assert other.post(f"/ops/jobs/{job_id}/requeue", data={"csrf_token": csrf_token(client)}).status_code == 403


def test_bulk_requeue_shows_how_many_first_then_requeues_them(client: FlaskClient, settings: GatewaySettings) -> None:
    factory = sessions(client)
    matching = [seed_job(factory, state="failed", stage="ocr", error_code="attempts_exhausted") for _ in range(3)]
    other = seed_job(factory, state="failed", stage="detect", error_code="unreadable_document")
    running = seed_job(factory, state="running", stage="ocr")

    confirm = page(client, "/ops/requeue?state=failed&error=attempts_exhausted")
    assert text_of(confirm, "requeue-count") == "3"
    assert '<li data-state="failed">3 failed</li>' in confirm
    assert all(job_state(client, j)[0] == "failed" for j in matching)  # the confirmation changes nothing

    response = client.post(
        "/ops/requeue", data={"csrf_token": csrf_token(client), "state": "failed", "error": "attempts_exhausted"}
    )
    assert response.status_code == 303
    assert [job_state(client, j) for j in matching] == [("queued", "ocr", None)] * 3
    assert job_state(client, other) == ("failed", "detect", "unreadable_document")
    assert job_state(client, running) == ("running", "ocr", None)
    (audit,) = audit_rows(client)
    assert audit[:2] == ("ops:anonymous", "requeue_bulk") and audit[3] == 3
    assert queue_length(settings.broker_url, "ocr") == 3
    assert "Re-queued 3 jobs." in page(client, response.headers["Location"])
    # Running jobs are never taken: nothing is left to re-queue at ocr.
    assert "nothing-to-requeue" in page(client, "/ops/requeue?state=any&stage=ocr")


def test_bulk_requeue_can_restart_at_a_chosen_stage(client: FlaskClient) -> None:
    job_id = seed_job(sessions(client), state="failed", stage="tag", error_code="x")
    data = {"csrf_token": csrf_token(client), "state": "failed", "from_stage": "detect"}
    assert client.post("/ops/requeue", data=data).status_code == 303
    assert job_state(client, job_id) == ("queued", "detect", None)


def test_cancel_from_the_page_and_refusals_carry_the_error_code(client: FlaskClient) -> None:
    factory = sessions(client)
    queued = seed_job(factory, state="queued", stage="detect")
    running = seed_job(factory, state="running", stage="ocr")
    token = csrf_token(client)

    response = client.post(f"/ops/jobs/{queued}/cancel", data={"csrf_token": token, "actor": "anna", "state": "any"})
    assert response.status_code == 303 and response.headers["Location"] == "/ops?state=any"
    assert job_state(client, queued) == ("cancelled", "detect", None)
    assert f"Job {queued} cancelled." in page(client, response.headers["Location"])

    again = client.post(f"/ops/jobs/{queued}/cancel", data={"csrf_token": token})
    assert "job_not_cancellable" in page(client, again.headers["Location"])
    refused = client.post(f"/ops/jobs/{running}/requeue", data={"csrf_token": token})
    assert "job_running" in page(client, refused.headers["Location"])
    missing = client.post("/ops/jobs/no-such-job/requeue", data={"csrf_token": token})
    assert "job_not_found" in page(client, missing.headers["Location"])
    assert job_state(client, running) == ("running", "ocr", None)
    assert audit_rows(client) == [("ops:anna", "cancel", queued, 1)]


def test_the_list_pages_with_the_api_cursor(client: FlaskClient) -> None:
    factory = sessions(client)
    start = utcnow() - timedelta(minutes=30)
    ids = {
        seed_job(factory, state="failed", stage="ocr", error_code="x", created_at=start + timedelta(seconds=i))
        for i in range(55)
    }
    first = page(client, "/ops?error=x")
    assert len(job_rows(first)) == 50 and 'id="first-page"' not in first
    found = re.search(r'id="next-page" href="([^"]+)"', first)
    assert found is not None
    second = page(client, found.group(1).replace("&amp;", "&"))
    assert len(job_rows(second)) == 5 and 'id="next-page"' not in second and 'id="first-page"' in second
    assert set(job_rows(first)) | set(job_rows(second)) == ids
    assert "invalid_cursor" in text_of(page(client, "/ops?cursor=garbage"), "filter-problem")


def test_the_page_works_while_the_broker_is_down(settings: GatewaySettings) -> None:
    dead = settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    app = create_app(dead, configure_logs=False)
    client = app.test_client()
    try:
        job_id = seed_job(sessions(client), state="failed", stage="ocr", error_code="x")
        started = time.monotonic()
        html = page(client)
        assert time.monotonic() - started < 3
        assert "The broker is unreachable" in text_of(html, "broker-down") and job_id in job_rows(html)
        response = client.post(f"/ops/jobs/{job_id}/requeue", data={"csrf_token": csrf_token(client)})
        # The database moved (the reconciler will publish it); the operator is told the broker is down.
        assert job_state(client, job_id) == ("queued", "ocr", None)
        assert "the broker is unreachable" in page(client, response.headers["Location"])
    finally:
        app.extensions["rxlab"].engine.dispose()


def test_the_stylesheet_is_served_by_the_blueprint(client: FlaskClient) -> None:
    html = page(client)
    assert 'href="/ops/static/ops.css"' in html
    css = client.get("/ops/static/ops.css")
    assert css.status_code == 200 and b".chart" in css.data
    css.close()
