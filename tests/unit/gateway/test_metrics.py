"""GET /metrics: Prometheus text that parses, with the values the database and Redis hold at scrape time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from services.gateway import create_app
from services.processes import free_port
from shared.db.models import utcnow
from shared.settings import GatewaySettings
from tests.unit.gateway.test_ops_page import isolated_broker, seed_job, sessions

BROKER_DB = 5
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def settings(settings: GatewaySettings, redis_url: str) -> GatewaySettings:
    return settings.model_copy(update={"broker_url": isolated_broker(redis_url, BROKER_DB)})


def scrape(client: FlaskClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def named(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (sample, labels), v in samples.items() if sample == name}


def test_metrics_report_jobs_dead_letters_latency_retries_heartbeats_and_queues(
    client: FlaskClient, settings: GatewaySettings
) -> None:
    factory = sessions(client)
    now = utcnow()
    claimed_tag_at = now - timedelta(seconds=42)
    seed_job(factory, state="done", stage=None, timings={"detect": {"total_ms": 80}, "ocr": {"total_ms": 1500}})
    seed_job(factory, state="done", stage=None, timings={"detect": {"total_ms": 400}, "ocr": {"total_ms": 40000}})
    seed_job(
        factory,
        state="failed",
        stage="ocr",
        error_code="attempts_exhausted",
        timings={"detect": {"preprocess_ms": 20, "total_ms": 120}},
        events=[
            ("running", "detect", 1, now - timedelta(minutes=9)),
            ("queued", "ocr", 0, now - timedelta(minutes=8)),
            ("running", "ocr", 1, now - timedelta(minutes=8)),
            ("running", "ocr", 2, now - timedelta(minutes=7)),
            ("running", "ocr", 3, now - timedelta(minutes=6)),
            ("failed", "ocr", 3, now - timedelta(minutes=5)),
        ],
    )
    seed_job(factory, state="failed", stage="detect", error_code="unreadable_document")
    seed_job(
        factory,
        state="running",
        stage="tag",
        timings={"detect": {"total_ms": 60}, "ocr": {"total_ms": 900}},
        events=[("running", "tag", 1, claimed_tag_at)],
    )
    seed_job(factory, state="queued", stage="normalise", updated_at=now - timedelta(seconds=300))
    with Redis.from_url(settings.broker_url) as redis:
        redis.rpush("ocr", "a", "b", "c")

    samples = scrape(client)

    assert value(samples, "rxlab_database_up") == 1 and value(samples, "rxlab_broker_up") == 1
    assert {dict(k)["state"]: v for k, v in named(samples, "rxlab_jobs").items()} == {
        "queued": 1,
        "running": 1,
        "done": 2,
        "failed": 2,
        "cancelled": 0,
    }
    assert value(samples, "rxlab_jobs_by_stage", state="done", stage="none") == 2
    assert value(samples, "rxlab_jobs_by_stage", state="failed", stage="ocr") == 1
    assert value(samples, "rxlab_jobs_by_stage", state="queued", stage="normalise") == 1
    assert value(samples, "rxlab_jobs_by_stage", state="running", stage="detect") == 0  # zero-filled
    assert named(samples, "rxlab_dead_letters") == {
        (("error_code", "unreadable_document"), ("stage", "detect")): 1,
        (("error_code", "attempts_exhausted"), ("stage", "ocr")): 1,
    }
    # Stage latency from the stored timings: detect saw 80, 400, 120 and 60 ms; ocr 1500, 40000 and 900 ms.
    detect = {
        dict(k)["le"]: v
        for k, v in named(samples, "rxlab_stage_latency_seconds_bucket").items()
        if ("stage", "detect") in k
    }
    assert (detect["0.05"], detect["0.1"], detect["0.25"], detect["0.5"], detect["+Inf"]) == (0, 2, 3, 4, 4)
    assert value(samples, "rxlab_stage_latency_seconds_count", stage="detect") == 4
    assert value(samples, "rxlab_stage_latency_seconds_sum", stage="detect") == pytest.approx(0.66)
    assert value(samples, "rxlab_stage_latency_seconds_bucket", stage="ocr", le="1.0") == 1
    assert value(samples, "rxlab_stage_latency_seconds_bucket", stage="ocr", le="30.0") == 2
    assert value(samples, "rxlab_stage_latency_seconds_bucket", stage="ocr", le="60.0") == 3
    assert value(samples, "rxlab_stage_latency_seconds_count", stage="tag") == 0
    # Retries: the ocr stage of one job was claimed three times, so twice beyond the first.
    assert value(samples, "rxlab_stage_retries_total", stage="ocr") == 2
    assert value(samples, "rxlab_stage_retries_total", stage="detect") == 0
    assert value(samples, "rxlab_stage_runs_total", stage="ocr") == 3
    assert value(samples, "rxlab_stage_runs_total", stage="tag") == 1
    heartbeats = named(samples, "rxlab_stage_last_claim_timestamp_seconds")
    assert set(heartbeats) == {(("stage", "detect"),), (("stage", "ocr"),), (("stage", "tag"),)}
    assert heartbeats[(("stage", "tag"),)] == pytest.approx(claimed_tag_at.timestamp(), abs=1e-3)
    assert value(samples, "rxlab_queued_oldest_age_seconds", stage="normalise") == pytest.approx(300, abs=30)
    assert {dict(k)["queue"]: v for k, v in named(samples, "rxlab_queue_depth").items()} == {
        "detect": 0,
        "ocr": 3,
        "tag": 0,
        "normalise": 0,
    }


def test_metrics_follow_the_database_between_scrapes(client: FlaskClient) -> None:
    before = scrape(client)
    assert value(before, "rxlab_jobs", state="failed") == 0 and named(before, "rxlab_dead_letters") == {}
    seed_job(sessions(client), state="failed", stage="tag", error_code="no_text_found")
    after = scrape(client)
    assert value(after, "rxlab_jobs", state="failed") == 1
    assert value(after, "rxlab_dead_letters", stage="tag", error_code="no_text_found") == 1


def test_metrics_negotiate_openmetrics(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_metrics_survive_a_dead_broker_and_a_dead_database(settings: GatewaySettings) -> None:
    dead_port = free_port()
    broken = settings.model_copy(
        update={
            "broker_url": f"redis://127.0.0.1:{dead_port}/0",
            "database_url": f"postgresql+psycopg://rxlab@127.0.0.1:{dead_port}/nothing",
        }
    )
    app = create_app(broken, configure_logs=False)
    try:
        samples = scrape(app.test_client())
    finally:
        app.extensions["rxlab"].engine.dispose()
    assert value(samples, "rxlab_database_up") == 0 and value(samples, "rxlab_broker_up") == 0
    assert named(samples, "rxlab_queue_depth") == {} and named(samples, "rxlab_jobs") == {}


def test_metrics_are_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert spec is not None and "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert not any(path.startswith("/ops") for path in spec["paths"])  # the page is for people, not the API
