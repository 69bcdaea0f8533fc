"""A real cluster per database backend: Redis, four Celery worker processes, gunicorn — no eager mode."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine

from services.processes import WORKERS, ProcessGroup, free_port, gateway_command, http_ok, wait_until, worker_command
from shared.db.migrate import upgrade
from shared.db.session import make_engine
from tests.conftest import _fresh_postgres_database


@dataclass
class Cluster:
    base_url: str
    env: dict[str, str]
    engine: Engine
    group: ProcessGroup
    blob_root: Path

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def vocab_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vocabulary index built once for the session from ../shared/vocab."""
    from services.normaliser.vocabulary import build_index
    from shared.settings import Settings

    out = tmp_path_factory.mktemp("vocab") / "vocab.sqlite3"
    vocab_dir = Settings().vocab_dir
    build_index(rxnorm=vocab_dir / "rxnorm", loinc=vocab_dir / "loinc", out=out)
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cluster(
    request: pytest.FixtureRequest, redis_url: str, vocab_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Workers and gateway as separate processes over a fresh database of the parametrised backend."""
    tmp = tmp_path_factory.mktemp(f"cluster-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp / 'rxlab.sqlite3'}"
    else:
        database_url = _fresh_postgres_database(request.getfixturevalue("postgres_server"))
    upgrade(database_url)
    broker = redis_url.rsplit("/", 1)[0] + f"/{1 if request.param == 'sqlite' else 2}"
    env = cluster_env(database_url=database_url, broker=broker, blob_root=tmp / "blobs", vocab_index=vocab_index)
    group = ProcessGroup(log_dir=tmp / "logs")
    try:
        with running_cluster(group, env) as cluster:
            yield cluster
    finally:
        group.stop_all()


@contextmanager
def running_cluster(
    group: ProcessGroup, env: dict[str, str], *, apps: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """Start the four stage workers (``apps``: other Celery apps per service) and the gateway in ``group``."""
    for service in WORKERS:
        group.start(service, worker_command(service, app=(apps or {}).get(service)), env=env)
    port = free_port()
    group.start("gateway", gateway_command(bind=f"127.0.0.1:{port}", workers=2), env=env)
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=60, what="gateway")
    engine = make_engine(env["RXLAB_DATABASE_URL"])
    try:
        yield Cluster(f"http://127.0.0.1:{port}", env, engine, group, Path(env["RXLAB_BLOB_ROOT"]))
    finally:
        engine.dispose()


def cluster_env(*, database_url: str, broker: str, blob_root: Path, vocab_index: Path, **extra: str) -> dict[str, str]:
    """The environment of every process of a test cluster (``extra``: more RXLAB_* settings)."""
    return {
        **os.environ,
        "RXLAB_ENV": "test",
        "RXLAB_DATABASE_URL": database_url,
        "RXLAB_BROKER_URL": broker,
        "RXLAB_BLOB_ROOT": str(blob_root),
        "RXLAB_VOCAB_INDEX": str(vocab_index),
        "RXLAB_RETRY_BACKOFF_BASE": "0.2",
        "OMP_THREAD_LIMIT": "1",
        **extra,
    }


def post_document(cluster: Cluster, path: Path, *, patient_id: str, key: str | None = None) -> dict[str, str]:
    """POST a file to /v1/documents and return the 202 body."""
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    with path.open("rb") as handle:
        response = requests.post(
            cluster.url("/v1/documents"),
            files={"file": (path.name, handle)},
            data={"patient_id": patient_id},
            headers=headers,
            timeout=30,
        )
    assert response.status_code == 202, response.text
    body: dict[str, str] = response.json()
    return body


def wait_for_job(cluster: Cluster, job_id: str, *, timeout: float = 180) -> dict[str, object]:
    """Poll GET /v1/jobs/{id} until the job is done or failed."""
    state: dict[str, object] = {}

    def finished() -> bool:
        state.update(requests.get(cluster.url(f"/v1/jobs/{job_id}"), timeout=10).json())
        return state["state"] in {"done", "failed"}

    try:
        wait_until(finished, timeout=timeout, what=f"job {job_id}", interval=0.3)
    except TimeoutError:
        logs = {name: cluster.group.log_tail(name, 15) for name in WORKERS}
        raise AssertionError(f"job did not finish: {state}\n{logs}") from None
    return state
