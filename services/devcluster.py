"""``make run``: the whole cluster on this machine, processing the bundled samples, until Ctrl-C.

Starts Redis (loopback, own data directory, append-only file on), migrates the database (SQLite by default),
builds the vocabulary index if missing, starts one Celery worker per stage queue, the gateway (gunicorn on
127.0.0.1:8000) and the reconciler, submits the sample documents over HTTP, prints each result as it completes,
and keeps serving. Ctrl-C (or SIGTERM) stops every process it started.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from services.processes import (
    WORKERS,
    ProcessGroup,
    free_port,
    gateway_command,
    http_ok,
    start_redis,
    wait_until,
    worker_command,
)
from shared.settings import REPO_ROOT, get_settings

SAMPLES = REPO_ROOT / "tests" / "fixtures" / "samples"
GATEWAY = "127.0.0.1:8000"


def run_cluster(*, samples: Path | None, wait: bool) -> int:
    """Run the cluster; return the exit code (non-zero if a sample failed)."""
    var = REPO_ROOT / "var"
    group = ProcessGroup(log_dir=var / "logs")
    stop = _install_signal_handlers()
    try:
        env = _environment(group, var)
        _prepare(env)
        for service in WORKERS:
            group.start(service, worker_command(service), env=env)
        group.start("gateway", gateway_command(bind=GATEWAY), env=env)
        group.start("reconciler", [sys.executable, "-m", "services.cli", "reconcile", "--loop"], env=env)
        wait_until(lambda: http_ok(f"http://{GATEWAY}/readyz"), timeout=60, what="the gateway")
        print(f"rxlab is up: http://{GATEWAY}  (logs in {group.log_dir})", flush=True)
        failed = _submit_samples(samples or SAMPLES)
        if wait:
            print(f"operations page: http://{GATEWAY}/ops — serving; press Ctrl-C to stop", flush=True)
            while not stop["now"]:
                time.sleep(0.5)
        return 1 if failed else 0
    finally:
        print("stopping every process started by make run ...", flush=True)
        group.stop_all()


def _install_signal_handlers() -> dict[str, bool]:
    stop = {"now": False}

    def handler(_signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _environment(group: ProcessGroup, var: Path) -> dict[str, str]:
    port = 6379 if _port_free(6379) else free_port()
    broker = start_redis(group, port=port, data_dir=var / "redis")
    env = {**os.environ, "RXLAB_BROKER_URL": broker, "OMP_THREAD_LIMIT": "1", "PYTHONUNBUFFERED": "1"}
    env.setdefault("RXLAB_ENV", "development")
    return env


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _prepare(env: dict[str, str]) -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "services.cli", "db", "upgrade"], env=env, check=True)
    if not get_settings().vocab_index.exists():
        print("building the vocabulary index (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "services.cli", "vocab", "build"], env=env, check=True)


def _submit_samples(folder: Path) -> int:
    originals = sorted(folder.glob("*/original.*"))
    print(f"submitting {len(originals)} sample documents from {folder}", flush=True)
    jobs = {_post(path): path for path in originals}
    failed = 0
    pending = dict(jobs)
    deadline = time.monotonic() + 600
    while pending and time.monotonic() < deadline:
        for job_id, path in list(pending.items()):
            status = _get(f"http://{GATEWAY}/v1/jobs/{job_id}")
            if status["state"] in {"done", "failed"}:
                del pending[job_id]
                failed += status["state"] == "failed"
                _print_result(path, status)
        time.sleep(0.5)
    failed += len(pending)
    return failed


def _post(path: Path) -> str:
    boundary = uuid.uuid4().hex
    fields = {"patient_id": f"sample-{path.parent.name}", "document_type": "auto"}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"http://{GATEWAY}/v1/documents",
        data=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Idempotency-Key": f"sample-{path}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        job_id: str = json.load(response)["job_id"]
        return job_id


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
        return body


def _print_result(path: Path, status: dict[str, Any]) -> None:
    timings = {stage: round(t.get("total_ms", 0.0)) for stage, t in status.get("timings", {}).items()}
    print(f"\n=== {path.parent.name}/{path.name}: {status['state']} (ms per stage: {timings})", flush=True)
    if status["state"] == "done":
        print(json.dumps(status["result"], indent=2), flush=True)
        print(f"timeline: http://{GATEWAY}/patients/{status['patient_id']}/timeline", flush=True)
    else:
        print(json.dumps(status.get("error"), indent=2), flush=True)
