"""GET /metrics: Prometheus metrics, collected at scrape time from the database and the broker.

Nothing is counted in the gateway's memory: a custom collector in a per-app ``CollectorRegistry`` reads the
database (the source of truth for every job) and Redis (queue depths) when Prometheus scrapes. So every gunicorn
worker answers the same numbers without prometheus_client's multiprocess mode, the workers need no metrics
endpoint of their own, and a restart loses nothing. The cost is a handful of aggregate queries per scrape.
The metric names are documented in ``docs/operations.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.extensions import Extensions
from services.gateway.monitoring import (
    LATENCY_BUCKETS_MS,
    STAGE_NAMES,
    STATES,
    JobCounts,
    LatencyHistogram,
    StageActivity,
    broker_url_of,
    count_jobs,
    dead_letters,
    oldest_queued,
    queue_depths,
    stage_activity,
    stage_latency_histograms,
)
from services.gateway.openapi import Operation, Response, documented
from shared.db.models import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)
REGISTRY_KEY = "rxlab.metrics"
NO_LABEL = "none"  # the label value for a missing stage or error code


@dataclass(frozen=True)
class _Figures:
    counts: JobCounts
    dead: dict[tuple[str | None, str | None], int]
    activity: dict[str, StageActivity]
    latency: dict[str, LatencyHistogram]
    waiting: dict[str, float]


class PipelineCollector:
    """Every rxlab metric, read when collected.

    Args:
        session_factory: sessions on the gateway's database.
        broker_url: returns the broker URL to measure queue depths on (read at each scrape).
        clock: the current time (aware), for ages.
        broker_timeout: seconds allowed to Redis before the queue depths are left out.
    """

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        broker_url: Callable[[], str],
        clock: Callable[[], datetime] = utcnow,
        broker_timeout: float = 0.5,
    ) -> None:
        self._session_factory = session_factory
        self._broker_url = broker_url
        self._clock = clock
        self._broker_timeout = broker_timeout

    def collect(self) -> Iterator[Metric]:
        figures = self._read_database()
        yield _gauge("rxlab_database_up", "1 if the database answered this scrape, else 0", 0 if figures is None else 1)
        if figures is not None:
            yield from _job_metrics(figures)
            yield from _stage_metrics(figures)
        yield from self._queue_metrics()

    def _read_database(self) -> _Figures | None:
        now = self._clock()
        try:
            with self._session_factory() as session:
                return _Figures(
                    counts=count_jobs(session),
                    dead=dead_letters(session),
                    activity=stage_activity(session),
                    latency=stage_latency_histograms(session),
                    waiting=oldest_queued(session, now=now),
                )
        except SQLAlchemyError as exc:
            log.warning("metrics: database unavailable: %s", type(exc).__name__)
            return None

    def _queue_metrics(self) -> Iterator[Metric]:
        depths = queue_depths(self._broker_url(), timeout=self._broker_timeout)
        up = 0 if depths is None else 1
        yield _gauge("rxlab_broker_up", "1 if the broker's queue depths could be read this scrape, else 0", up)
        if depths is None:
            return
        depth = GaugeMetricFamily(
            "rxlab_queue_depth", "Messages waiting in a stage queue (Redis LLEN)", labels=["queue"]
        )
        for queue, size in depths.items():
            depth.add_metric([queue], size)
        yield depth


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _job_metrics(figures: _Figures) -> Iterator[Metric]:
    jobs = GaugeMetricFamily("rxlab_jobs", "Jobs in each state", labels=["state"])
    for state, count in figures.counts.by_state().items():
        jobs.add_metric([state], count)
    yield jobs
    by_stage = GaugeMetricFamily(
        "rxlab_jobs_by_stage", "Jobs in each state and stage (stage none: done jobs)", labels=["state", "stage"]
    )
    cells: dict[tuple[str, str | None], int] = {(state, stage): 0 for state in STATES for stage in STAGE_NAMES}
    cells.update(figures.counts.cells)
    for (state, at_stage), count in sorted(cells.items(), key=lambda item: _pipeline_order(*item[0])):
        by_stage.add_metric([state, at_stage or NO_LABEL], count)
    yield by_stage
    dead = GaugeMetricFamily(
        "rxlab_dead_letters",
        "Failed jobs (the dead-letter state) by the stage they failed at and their error code",
        labels=["stage", "error_code"],
    )
    for (failed_at, code), count in sorted(figures.dead.items(), key=lambda item: (item[0][0] or "", item[0][1] or "")):
        dead.add_metric([failed_at or NO_LABEL, code or NO_LABEL], count)
    yield dead


def _stage_metrics(figures: _Figures) -> Iterator[Metric]:
    latency = HistogramMetricFamily(
        "rxlab_stage_latency_seconds",
        "A stage's total processing time (its timings' total_ms), one observation per job and stage",
        labels=["stage"],
    )
    for stage, histogram in figures.latency.items():
        bounds = zip(LATENCY_BUCKETS_MS, histogram.cumulative, strict=True)
        buckets = [(_seconds(bound), count) for bound, count in bounds]
        buckets.append(("+Inf", histogram.count))
        latency.add_metric([stage], buckets, sum_value=histogram.sum_ms / 1000.0)
    yield latency
    runs = CounterMetricFamily("rxlab_stage_runs", "Times a worker claimed a job's stage", labels=["stage"])
    retries = CounterMetricFamily(
        "rxlab_stage_retries",
        "Claims beyond the first for the same job and stage (transient-error retries and redeliveries)",
        labels=["stage"],
    )
    heartbeat = GaugeMetricFamily(
        "rxlab_stage_last_claim_timestamp_seconds",
        "Unix time a worker of the stage last took a job (absent until one has)",
        labels=["stage"],
    )
    for stage, activity in figures.activity.items():
        runs.add_metric([stage], activity.runs)
        retries.add_metric([stage], activity.retries)
        if activity.last_claim is not None:
            heartbeat.add_metric([stage], activity.last_claim.timestamp())
    yield from (runs, retries, heartbeat)
    waiting = GaugeMetricFamily(
        "rxlab_queued_oldest_age_seconds",
        "Seconds since the least recently moved queued job of the stage changed (absent: nothing queued)",
        labels=["stage"],
    )
    for stage, age in sorted(figures.waiting.items()):
        waiting.add_metric([stage], age)
    yield waiting


def _pipeline_order(state: str, stage: str | None) -> tuple[int, int]:
    """Sort key: states in lifecycle order, then stages in pipeline order (no stage last)."""
    state_rank = STATES.index(state) if state in STATES else len(STATES)
    stage_rank = STAGE_NAMES.index(stage) if stage in STAGE_NAMES else len(STAGE_NAMES)
    return state_rank, stage_rank


def _seconds(milliseconds: int) -> str:
    return str(milliseconds / 1000)  # "0.05", "1.0": the le labels prometheus_client itself writes


def build_registry(extensions: Extensions) -> CollectorRegistry:
    """A registry holding one :class:`PipelineCollector` over ``extensions`` (nothing is read until a scrape)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        PipelineCollector(
            session_factory=extensions.session_factory,
            broker_url=lambda: broker_url_of(extensions.celery.conf.broker_url),
        )
    )
    return registry


@bp.record_once
def _install_registry(state: BlueprintSetupState) -> None:
    state.app.extensions[REGISTRY_KEY] = build_registry(state.app.extensions["rxlab"])


@bp.get("/metrics")
@documented(
    Operation(
        summary="Prometheus metrics: jobs by state and stage, dead letters, stage latency, retries, queues",
        tag="health",
        responses={200: Response("Prometheus text exposition format", media_type="text/plain")},
    )
)
def metrics() -> ResponseReturnValue:
    registry: CollectorRegistry = current_app.extensions[REGISTRY_KEY]
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return current_app.response_class(encoder(registry), content_type=content_type)
