"""Fault injection over real processes: SIGKILLed workers, Redis restarted empty, a poison document.

The workers run the real stage code behind two test hooks (:mod:`tests.integration.faulty_workers`): a short delay
so that kills land mid-stage, and a crash trigger for the poison document. Each test asserts zero lost jobs (every
job ends ``done``) and zero duplicates (one output per stage and one record per extracted item), and writes its
figures to ``reports/faults.json`` (docs/operations.md quotes them).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image, PngImagePlugin
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.processes import WORKERS, ProcessGroup, free_port, start_redis, wait_until
from shared.contracts.extraction import ExtractionResult
from shared.db.migrate import upgrade
from shared.db.models import AuditEvent, Job, JobEvent, PatientRecord, StageOutput
from tests.conftest import ROOT, _fresh_postgres_database
from tests.integration.conftest import Cluster, cluster_env, post_document, running_cluster, wait_for_job
from tests.integration.faulty_workers import APPS, POISON_MARKER
from tests.integration.test_cluster import sample

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

STAGE_DELAY = 0.4
MAX_ATTEMPTS = 4
KILLS_WANTED = 24
SERVICE_OF = {queue: service for service, queue in WORKERS.items()}
REPORT = ROOT / "reports" / "faults.json"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, postgres_server: str, vocab_index: Path) -> Iterator[Cluster]:
    """A cluster over PostgreSQL with its own Redis (so a test may restart it) and the fault-hooked workers."""
    tmp = tmp_path_factory.mktemp("faults")
    database_url = _fresh_postgres_database(postgres_server)
    upgrade(database_url)
    group = ProcessGroup(log_dir=tmp / "logs")
    redis_port = free_port()
    limits = json.dumps({"soft": 6, "hard": 8})
    try:
        broker = start_redis(group, port=redis_port, data_dir=tmp / "redis")
        env = cluster_env(
            database_url=database_url,
            broker=broker,
            blob_root=tmp / "blobs",
            vocab_index=vocab_index,
            RXLAB_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
            RXLAB_DETECT_LIMITS=limits,
            RXLAB_OCR_LIMITS=limits,
            RXLAB_TAG_LIMITS=limits,
            RXLAB_NORMALISE_LIMITS=limits,
            RXLAB_TEST_STAGE_DELAY=str(STAGE_DELAY),
            RXLAB_TEST_POISON_FLAG=str(tmp / "poison-crashes"),
            RXLAB_TEST_REDIS_PORT=str(redis_port),
            RXLAB_TEST_REDIS_DIR=str(tmp / "redis"),
        )
        with running_cluster(group, env, apps=APPS) as cluster:
            yield cluster
    finally:
        group.stop_all()


def pool_children(pid: int) -> list[int]:
    """The prefork pool processes of the Celery worker ``pid``."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def job_rows(cluster: Cluster, job_ids: list[str]) -> dict[str, tuple[str, str | None, int]]:
    with Session(cluster.engine) as session:
        rows = session.execute(select(Job.id, Job.state, Job.stage, Job.attempts).where(Job.id.in_(job_ids)))
        return {job_id: (state, stage, attempts) for job_id, state, stage, attempts in rows}


def assert_nothing_duplicated(cluster: Cluster, job_ids: list[str]) -> int:
    """One output per stage and one patient record per extracted item, for every job; returns the record count."""
    total = 0
    with Session(cluster.engine) as session:
        for job in session.scalars(select(Job).where(Job.id.in_(job_ids))):
            outputs = session.scalar(select(func.count()).where(StageOutput.document_id == job.document_id))
            assert outputs == 4, f"job {job.id}: {outputs} stage outputs"
            payload = session.scalar(
                select(StageOutput.payload).where(
                    StageOutput.document_id == job.document_id, StageOutput.stage == "normalise"
                )
            )
            result = ExtractionResult.model_validate(payload["result"])  # type: ignore[index]
            records = session.scalars(select(PatientRecord).where(PatientRecord.document_id == job.document_id)).all()
            assert len(records) == len(result.medications) + len(result.lab_results)
            assert len({(r.record_id, r.version) for r in records}) == len(records)
            total += len(records)
    return total


def record_figures(name: str, figures: dict[str, Any]) -> None:
    REPORT.parent.mkdir(exist_ok=True)
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    report[name] = {**figures, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    REPORT.write_text(json.dumps(report, indent=2) + "\n")


def test_sigkilled_workers_lose_and_duplicate_nothing(faulty: Cluster) -> None:
    path = sample("prescription")
    job_ids = [post_document(faulty, path, patient_id=f"patient-kill-{i}")["job_id"] for i in range(14)]
    kills: Counter[tuple[str, str]] = Counter()
    attempts_at_kill: dict[tuple[str, str], int] = {}
    started = time.monotonic()
    while time.monotonic() - started < 400 and sum(kills.values()) < KILLS_WANTED:
        rows = job_rows(faulty, job_ids)
        if all(state in {"done", "failed"} for state, _, _ in rows.values()):
            break
        for job_id, (state, stage, attempts) in rows.items():
            key = (job_id, stage or "")
            # Kill only a claimed delivery (its attempt is counted), at most twice per job and stage.
            if state != "running" or kills[key] >= 2 or attempts_at_kill.get(key) == attempts:
                continue
            per_stage = sum(n for (_, s), n in kills.items() if s == key[1])
            if per_stage >= KILLS_WANTED // 4:
                continue
            children = pool_children(faulty.group.procs[SERVICE_OF[key[1]]].pid)
            if children:
                os.kill(children[0], signal.SIGKILL)
                kills[key] += 1
                attempts_at_kill[key] = attempts
                break
        time.sleep(0.05)
    for job_id in job_ids:
        wait_for_job(faulty, job_id, timeout=240)
    elapsed = time.monotonic() - started
    rows = job_rows(faulty, job_ids)
    lost = [job_id for job_id, (state, _, _) in rows.items() if state != "done"]
    assert lost == []
    records = assert_nothing_duplicated(faulty, job_ids)
    extra_attempts = sum(attempts - 4 for _, _, attempts in rows.values())
    with Session(faulty.engine) as session:
        redelivered = session.scalar(
            select(func.count()).where(JobEvent.job_id.in_(job_ids), JobEvent.detail == "redelivered")
        )
    assert sum(kills.values()) >= 20
    assert extra_attempts == redelivered, "every redelivery after a kill is counted as an attempt"
    assert extra_attempts >= 20, f"only {extra_attempts} of {sum(kills.values())} kills landed mid-stage"
    record_figures(
        "sigkill",
        {
            "jobs": len(job_ids),
            "kills": sum(kills.values()),
            "kills_per_stage": dict(Counter(stage for _, stage in kills.elements())),
            "attempts_counted_beyond_one_per_stage": extra_attempts,
            "lost": len(lost),
            "duplicated": 0,
            "records": records,
            "seconds": round(elapsed, 1),
        },
    )


def _restart_redis_empty(cluster: Cluster) -> None:
    redis = cluster.group.procs.pop("redis")
    redis.kill()
    redis.wait(timeout=10)
    data_dir = Path(cluster.env["RXLAB_TEST_REDIS_DIR"])
    shutil.rmtree(data_dir)
    start_redis(cluster.group, port=int(cluster.env["RXLAB_TEST_REDIS_PORT"]), data_dir=data_dir)


def test_redis_restarted_empty_loses_nothing_once_the_reconciler_runs(faulty: Cluster) -> None:
    path = sample("prescription")
    job_ids = [post_document(faulty, path, patient_id=f"patient-redis-{i}")["job_id"] for i in range(8)]
    wait_until(
        lambda: sum(state == "running" for state, _, _ in job_rows(faulty, job_ids).values()) >= 2,
        timeout=60,
        what="jobs running",
        interval=0.05,
    )
    queued_at_restart = sum(state == "queued" for state, _, _ in job_rows(faulty, job_ids).values())
    _restart_redis_empty(faulty)
    restarted = time.monotonic()
    reconcile = ["reconcile", "--loop", "--interval", "1", "--lease", "3", "--grace", "2"]
    reconciler = subprocess.Popen(
        [sys.executable, "-m", "services.cli", *reconcile],
        env=faulty.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        statuses = [wait_for_job(faulty, job_id, timeout=240) for job_id in job_ids]
    finally:
        reconciler.terminate()
        reconciler.wait(timeout=15)
    recovery = time.monotonic() - restarted
    assert [s["state"] for s in statuses] == ["done"] * len(job_ids)
    records = assert_nothing_duplicated(faulty, job_ids)
    with Session(faulty.engine) as session:
        republished = session.scalar(
            select(func.count()).where(JobEvent.job_id.in_(job_ids), JobEvent.detail.like("reconciler:%"))
        )
    assert republished, "the reconciler re-published the jobs whose messages Redis lost"
    record_figures(
        "redis_restart_empty",
        {
            "jobs": len(job_ids),
            "queued_at_restart": queued_at_restart,
            "republished_by_reconciler": republished,
            "lost": 0,
            "duplicated": 0,
            "records": records,
            "recovery_seconds": round(recovery, 1),
        },
    )


def poison_copy(path: Path, out: Path) -> Path:
    """The sample image re-saved as a PNG that carries the poison marker in a text chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", POISON_MARKER.decode())
    buffer = io.BytesIO()
    Image.open(path).save(buffer, format="PNG", pnginfo=info)
    out.write_bytes(buffer.getvalue())
    return out


def test_poison_document_is_dead_lettered_then_completes_after_a_fix(faulty: Cluster, tmp_path: Path) -> None:
    flag = Path(faulty.env["RXLAB_TEST_POISON_FLAG"])
    flag.touch()
    poison = poison_copy(sample("prescription", ".png"), tmp_path / "poison.png")
    bad = post_document(faulty, poison, patient_id="patient-poison")
    good = post_document(faulty, sample("prescription"), patient_id="patient-healthy")
    started = time.monotonic()
    failed = wait_for_job(faulty, bad["job_id"], timeout=240)
    dead_lettered = time.monotonic() - started
    assert failed["state"] == "failed"
    assert failed["stage"] == "detect"
    assert failed["error"]["code"] == "attempts_exhausted"  # type: ignore[index]
    assert failed["attempts"] == MAX_ATTEMPTS
    assert wait_for_job(faulty, good["job_id"])["state"] == "done"

    flag.unlink()  # the operator's fix
    answer = requests.post(
        faulty.url(f"/v1/jobs/{bad['job_id']}/requeue"), headers={"X-Rxlab-Actor": "operator-ann"}, timeout=10
    )
    assert answer.status_code == 202, answer.text
    assert wait_for_job(faulty, bad["job_id"])["state"] == "done"
    assert_nothing_duplicated(faulty, [bad["job_id"], good["job_id"]])
    with Session(faulty.engine) as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.target == bad["job_id"])).all()
    assert [(a.actor, a.action) for a in audit] == [("operator-ann", "requeue")]
    record_figures(
        "poison",
        {
            "attempts_before_dead_letter": MAX_ATTEMPTS,
            "seconds_to_dead_letter": round(dead_lettered, 1),
            "healthy_job_done": True,
            "completed_after_requeue": True,
        },
    )
