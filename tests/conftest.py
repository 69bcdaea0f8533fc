"""Fixtures shared by the whole suite: real Redis and PostgreSQL servers on free loopback ports, databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from services.processes import ProcessGroup, free_port, start_postgres, start_redis
from shared.db.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "fixtures" / "samples"


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessGroup]:
    """The process group holding the session's servers (stopped at the end of the session)."""
    group = ProcessGroup(log_dir=tmp_path_factory.mktemp("server-logs"))
    yield group
    group.stop_all()


@pytest.fixture(scope="session")
def redis_url(servers: ProcessGroup, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real redis-server (append-only file on) started for this session."""
    return start_redis(servers, port=free_port(), data_dir=tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="session")
def postgres_server(servers: ProcessGroup) -> str:
    """A real PostgreSQL cluster (initdb in a temporary folder) started for this session."""
    import tempfile

    data_dir = Path(tempfile.mkdtemp(prefix="rxlab-pg-"))
    return start_postgres(servers, port=free_port(), data_dir=data_dir / "data")


def _fresh_postgres_database(server_url: str) -> str:
    name = f"rxlab_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: SQLite in a temporary file, and a fresh database on the real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rxlab.sqlite3'}"
    else:
        url = _fresh_postgres_database(request.getfixturevalue("postgres_server"))
    upgrade(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated, empty SQLite database (the embedded default)."""
    url = f"sqlite:///{tmp_path / 'rxlab.sqlite3'}"
    upgrade(url)
    return url
