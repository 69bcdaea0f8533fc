"""Read-only figures about the pipeline, from the database (the source of truth) and the broker.

The operations page (:mod:`services.gateway.ops`) and ``/metrics`` (:mod:`services.gateway.metrics`) both read
through these functions, so they cannot disagree. Every function is one aggregate query (or one Redis pipeline)
and holds no state between calls: any gunicorn worker answers the same numbers.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from sqlalchemy import String, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from shared.contracts.names import QUEUES, STAGES
from shared.db.models import Job, JobEvent
from shared.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING

log = logging.getLogger(__name__)

STATES: tuple[str, ...] = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
STAGE_NAMES: tuple[str, ...] = tuple(stage.value for stage in STAGES)
# Upper bounds (ms) of the stage-latency histogram buckets: from a fast tag stage to OCR's hard limit.
LATENCY_BUCKETS_MS: tuple[int, ...] = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000)
# kombu's Redis transport keeps prioritised messages of a queue in sibling lists "<queue>\x06\x16<priority>"
# (default priority steps 0, 3, 6, 9; priority 0 is the bare name). rxlab sends no priorities, but a depth that
# ignored them would hide messages.
_PRIORITY_SUFFIXES: tuple[str, ...] = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_OVERFLOW = len(LATENCY_BUCKETS_MS)  # the bucket index of observations above the last bound
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: read them as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class JobCounts:
    """How many jobs are in each (state, stage); the stage is None for done jobs."""

    cells: Mapping[tuple[str, str | None], int]

    def cell(self, state: str, stage: str | None) -> int:
        return self.cells.get((state, stage), 0)

    def by_state(self) -> dict[str, int]:
        """Every state (zero when empty), in pipeline order."""
        totals = dict.fromkeys(STATES, 0)
        for (state, _), count in self.cells.items():
            totals[state] = totals.get(state, 0) + count
        return totals

    @staticmethod
    def stages() -> list[str | None]:
        """The stage columns: every pipeline stage, then None (done jobs have no stage)."""
        return [*STAGE_NAMES, None]

    @property
    def total(self) -> int:
        return sum(self.cells.values())


def count_jobs(session: Session) -> JobCounts:
    """Jobs per state and stage (one GROUP BY over the jobs table)."""
    rows = session.execute(select(Job.state, Job.stage, func.count()).group_by(Job.state, Job.stage))
    return JobCounts(cells={(state, stage): int(count) for state, stage, count in rows})


def dead_letters(session: Session) -> dict[tuple[str | None, str | None], int]:
    """Failed jobs (the dead-letter state) per (stage, error code)."""
    rows = session.execute(
        select(Job.stage, Job.error_code, func.count()).where(Job.state == FAILED).group_by(Job.stage, Job.error_code)
    )
    return {(stage, code): int(count) for stage, code, count in rows}


def oldest_queued(session: Session, *, now: datetime) -> dict[str, float]:
    """Per stage, seconds since the least recently moved queued job last changed (absent: nothing queued)."""
    rows = session.execute(select(Job.stage, func.min(Job.updated_at)).where(Job.state == QUEUED).group_by(Job.stage))
    return {stage: max(0.0, (now - as_utc(at)).total_seconds()) for stage, at in rows if stage and at}


@dataclass(frozen=True)
class StageActivity:
    """What the workers of one stage did, from the job events they wrote (only workers claim a stage)."""

    runs: int  # claims of the stage: first runs, retries and redeliveries
    retries: int  # claims beyond the first for the same job and stage
    last_claim: datetime | None  # the last time a worker took a job of this stage (a heartbeat that does work)


def stage_activity(session: Session) -> dict[str, StageActivity]:
    """Runs, retries and the last claim per stage, from the ``running`` events (one GROUP BY)."""
    rows = session.execute(
        select(
            JobEvent.stage,
            func.count(),
            func.coalesce(func.sum(case((JobEvent.attempt > 1, 1), else_=0)), 0),
            func.max(JobEvent.at),
        )
        .where(JobEvent.state == RUNNING)
        .group_by(JobEvent.stage)
    )
    found = {
        stage: StageActivity(runs=int(runs), retries=int(retries), last_claim=as_utc(last) if last else None)
        for stage, runs, retries, last in rows
        if stage
    }
    return {name: found.get(name, StageActivity(runs=0, retries=0, last_claim=None)) for name in STAGE_NAMES}


@dataclass(frozen=True)
class LatencyHistogram:
    """Cumulative counts of a stage's ``total_ms`` at or below each bound of :data:`LATENCY_BUCKETS_MS`."""

    cumulative: tuple[int, ...]
    count: int
    sum_ms: float


def stage_latency_histograms(session: Session) -> dict[str, LatencyHistogram]:
    """Histograms of every job's latest ``total_ms`` per stage, counted by the database in one query.

    A job carries the timings of each stage it finished (``jobs.timings``), so a job counts once per stage it
    has passed; a re-run under a new pipeline version replaces its earlier observation. The cost is one scan of
    ``jobs`` reading each stage's ``total_ms`` once per row (the UNION keeps the database from re-reading the JSON
    for every bucket): about 0.5 s for 50 000 jobs on SQLite.
    """
    per_stage = []
    for name in STAGE_NAMES:
        total = Job.timings[(name, "total_ms")].as_float()
        per_stage.append(select(literal(name, String).label("stage"), total.label("ms")).where(total.is_not(None)))
    observed = union_all(*per_stage).subquery()
    bucket = case(*((observed.c.ms <= bound, i) for i, bound in enumerate(LATENCY_BUCKETS_MS)), else_=_OVERFLOW)
    rows = session.execute(
        select(observed.c.stage, bucket, func.count(), func.sum(observed.c.ms)).group_by(observed.c.stage, bucket)
    )
    counts = {name: [0] * (len(LATENCY_BUCKETS_MS) + 1) for name in STAGE_NAMES}
    sums = dict.fromkeys(STAGE_NAMES, 0.0)
    for name, index, count, total_ms in rows:
        counts[name][int(index)] += int(count)
        sums[name] += float(total_ms or 0.0)
    return {
        name: LatencyHistogram(
            cumulative=tuple(itertools.accumulate(counts[name][:-1])), count=sum(counts[name]), sum_ms=sums[name]
        )
        for name in STAGE_NAMES
    }


@dataclass(frozen=True)
class Bucket:
    """Jobs that finished (done or failed) in one interval, with the median latency of each stage."""

    start: datetime
    done: int = 0
    failed: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.finished if self.finished else None


@dataclass(frozen=True)
class Latency:
    count: int
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True)
class Activity:
    """The last window (an hour by default) of finished jobs, overall and per interval."""

    since: datetime
    until: datetime
    step: timedelta
    buckets: list[Bucket]
    latency: dict[str, Latency]

    @property
    def done(self) -> int:
        return sum(b.done for b in self.buckets)

    @property
    def failed(self) -> int:
        return sum(b.failed for b in self.buckets)

    @property
    def failure_rate(self) -> float | None:
        finished = self.done + self.failed
        return self.failed / finished if finished else None


def recent_activity(
    session: Session,
    *,
    now: datetime,
    window: timedelta = timedelta(hours=1),
    intervals: int = 12,
    limit: int = 20000,
) -> Activity:
    """Failure rate and stage latency of the jobs that finished within ``window`` before ``now``.

    Args:
        session: an open session.
        now: the end of the window (aware).
        window: how far back to look.
        intervals: how many equal buckets the window is cut into (12 → 5 minutes each for an hour).
        limit: at most this many of the most recent finished jobs are read (bounds the page's cost).

    Returns:
        Per bucket the done and failed counts and each stage's median ``total_ms``; over the window each
        stage's p50 and p95.
    """
    since = now - window
    step = window / intervals
    # Only each stage's total_ms is read from the JSON (by the database), not the whole timings document.
    totals = [Job.timings[(name, "total_ms")].as_float() for name in STAGE_NAMES]
    rows = session.execute(
        select(Job.state, Job.finished_at, *totals)
        .where(Job.state.in_((DONE, FAILED)), Job.finished_at >= since)
        .order_by(Job.finished_at.desc())
        .limit(limit)
    ).all()
    counts = [[0, 0] for _ in range(intervals)]
    samples: list[dict[str, list[float]]] = [{} for _ in range(intervals)]
    overall: dict[str, list[float]] = {}
    for state, finished_at, *stage_ms in rows:
        index = min(intervals - 1, max(0, int((as_utc(finished_at) - since) / step)))
        counts[index][0 if state == DONE else 1] += 1
        for name, total in zip(STAGE_NAMES, stage_ms, strict=True):
            if total is not None:
                samples[index].setdefault(name, []).append(float(total))
                overall.setdefault(name, []).append(float(total))
    buckets = [
        Bucket(
            start=since + step * i,
            done=counts[i][0],
            failed=counts[i][1],
            latency_ms={name: percentile(values, 0.5) for name, values in samples[i].items()},
        )
        for i in range(intervals)
    ]
    latency = {
        name: Latency(count=len(values), p50_ms=percentile(values, 0.5), p95_ms=percentile(values, 0.95))
        for name, values in overall.items()
    }
    return Activity(since=since, until=now, step=step, buckets=buckets, latency=latency)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def queue_depths(broker_url: str, *, timeout: float = 0.5) -> dict[str, int] | None:
    """Messages waiting in each stage queue (Redis ``LLEN``), or None when the broker cannot be read.

    Args:
        broker_url: the Celery broker URL (only Redis brokers are measured).
        timeout: seconds to connect and to answer; nothing is retried, so a dead broker costs at most this.

    Returns:
        Queue name → waiting messages, for every stage queue; None when the broker is down or not Redis.
    """
    if not broker_url.startswith(_REDIS_SCHEMES):
        return None
    client = Redis.from_url(
        broker_url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    names = [QUEUES[stage] for stage in STAGES]
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                for suffix in _PRIORITY_SUFFIXES:
                    pipe.llen(name + suffix)
            sizes = [int(size) for size in pipe.execute()]
    except (RedisError, OSError) as exc:
        log.warning("queue depths unavailable: %s", type(exc).__name__)
        return None
    finally:
        client.close()
    width = len(_PRIORITY_SUFFIXES)
    return {name: sum(sizes[i * width : (i + 1) * width]) for i, name in enumerate(names)}


def broker_url_of(conf_value: object) -> str:
    """The first URL of a Celery ``broker_url`` setting (a string, a ``;``-separated failover list, or a list)."""
    if isinstance(conf_value, list | tuple):
        conf_value = conf_value[0] if conf_value else ""
    return str(conf_value or "").split(";", 1)[0].strip()
