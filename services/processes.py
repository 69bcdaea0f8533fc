"""Starting and stopping the cluster's processes on one machine: Redis, PostgreSQL, workers, gunicorn.

Used by ``make run`` (:mod:`services.devcluster`), the integration-test fixtures and ``make bench``. Servers bind
to loopback only. PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

WORKERS: dict[str, str] = {"detector": "detect", "ocr": "ocr", "tagger": "tag", "normaliser": "normalise"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: object, *, timeout: float, what: str, interval: float = 0.1) -> None:
    """Call ``check()`` until it returns truthy; raise TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:  # noqa: S110 - not up yet: try again
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f} s")


def http_ok(url: str) -> bool:
    """Whether GET ``url`` answers 200."""
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL built by us
        return bool(response.status == 200)


@dataclass
class ProcessGroup:
    """Child processes started in their own sessions, stopped together (SIGTERM, then SIGKILL)."""

    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: list[str], *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - our own commands
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs[name] = proc
        return proc

    def stop(self, name: str, *, timeout: float = 15.0) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop_all(self, *, timeout: float = 15.0) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name, timeout=timeout)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def redis_command(*, port: int, data_dir: Path) -> list[str]:
    """redis-server on loopback with its own data directory and the append-only file on."""
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    return [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes",
    ]  # fmt: skip


def start_redis(group: ProcessGroup, *, port: int, data_dir: Path) -> str:
    """Start Redis and wait until it answers PING; return its URL."""
    group.start("redis", redis_command(port=port, data_dir=data_dir))
    wait_until(lambda: _redis_ping(port), timeout=20, what="redis-server")
    return f"redis://127.0.0.1:{port}/0"


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def postgres_bindir() -> Path:
    """The folder of the PostgreSQL server binaries installed by the setup."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise FileNotFoundError("PostgreSQL server binaries not found; run `make setup`")


def _as_postgres_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def start_postgres(group: ProcessGroup, *, port: int, data_dir: Path) -> str:
    """initdb a fresh cluster in ``data_dir``, start it on loopback; return a URL for database ``postgres``."""
    bindir = postgres_bindir()
    data_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # As root the server runs as the postgres user, who must own its data folder and reach it.
        shutil.chown(data_dir, user="postgres")
        os.chmod(data_dir, 0o700)
        parent = data_dir.parent
        parent.chmod(parent.stat().st_mode | 0o011)
    subprocess.run(  # noqa: S603
        _as_postgres_user([str(bindir / "initdb"), "-D", str(data_dir), "-U", "rxlab", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    group.start(
        "postgres",
        _as_postgres_user(
            [str(bindir / "postgres"), "-D", str(data_dir), "-p", str(port), "-h", "127.0.0.1",
             "-k", str(data_dir), "-c", "fsync=on", "-c", "max_connections=200"]
        ),
    )  # fmt: skip
    wait_until(
        lambda: (
            subprocess.run(  # noqa: S603
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True, check=False
            ).returncode
            == 0
        ),
        timeout=30,
        what="postgres",
    )
    return f"postgresql+psycopg://rxlab@127.0.0.1:{port}/postgres"


def worker_command(service: str, *, concurrency: int = 1, pool: str = "prefork", app: str | None = None) -> list[str]:
    """The Celery worker command of one stage service (``app``: another Celery app serving its queue)."""
    return [
        sys.executable, "-m", "celery", "-A", app or f"services.{service}.worker:celery_app", "worker",
        "--queues", WORKERS[service], "--concurrency", str(concurrency), "--pool", pool,
        "--prefetch-multiplier", "1", "--hostname", f"{service}@%h", "--loglevel", "INFO", "--without-mingle",
        "--without-gossip",
    ]  # fmt: skip


def gateway_command(*, bind: str, workers: int = 2) -> list[str]:
    """The gunicorn command of the gateway."""
    return [
        sys.executable, "-m", "gunicorn", "--config", str(Path(__file__).parent / "gateway" / "gunicorn_conf.py"),
        "--bind", bind, "--workers", str(workers), "services.gateway.wsgi:app",
    ]  # fmt: skip
