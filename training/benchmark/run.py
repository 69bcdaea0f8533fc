"""``make bench``: a benchmark, not a test — it prints figures and the ratios they are judged by.

1. Pipeline throughput (pages/s), in-process (one process per core) and through the running cluster (Redis, workers,
   gunicorn, PostgreSQL), each divided by the throughput of the bare ``tesseract`` command over the same pages at its
   best (OMP_THREAD_LIMIT=1, one process per core). Target ratio ≥ 1.5.
2. Gateway intake with wrk on loopback: POST /v1/documents (a ~200 KB JPEG) at concurrency 16 and 64, and
   GET /v1/jobs/{id}: requests/s and p50/p99 latency. Target ≥ 1000 uploads/s, p99 ≤ 50 ms.
3. Peak RSS of each worker process after its model is loaded and the documents are processed.
4. The models alone, one thread: the tagger's ms per line (batched per document) and the YOLO detector's ms per
   decoded page, letterbox apart from inference + NMS (targets ≤ 3 ms per line, ≤ 40 ms per page), and the
   snapping of its line boxes to their ink apart from both.
5. The OCR stage alone, one thread: ms per decoded page of one full-page pytesseract call on the page as it came
   (``image_to_data``, psm 6), of the serving engine (clean-up, then Tesseract in-process), and of the same engine
   calling the ``tesseract`` command; the first divided by the second is the OCR speed-up (target ≥ 1.5).

Writes ``reports/bench.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from services.processes import (
    WORKERS,
    ProcessGroup,
    free_port,
    gateway_command,
    http_ok,
    start_postgres,
    start_redis,
    wait_until,
    worker_command,
)
from shared.db.migrate import upgrade

CORES = os.cpu_count() or 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus/test"))
    parser.add_argument("--documents", type=int, default=24, help="documents for the throughput runs")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--out", type=Path, default=Path("reports/bench.json"))
    args = parser.parse_args(argv)
    originals = sorted(args.corpus.glob("*/original.*"))[: args.documents]
    if not originals:
        print(f"no documents under {args.corpus}; run `make corpus` first", file=sys.stderr)
        return 2
    pages = sorted(p for o in originals for p in o.parent.glob("page-*.png"))
    report: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{CORES} cores, {platform.machine()}, Python {platform.python_version()}",
        "documents": len(originals),
        "pages": len(pages),
    }
    report["tagger"] = bench_tagger(originals)
    report["detector"] = bench_detector(pages)
    report["ocr"] = bench_ocr(pages)
    report["tesseract_cli"] = bench_tesseract(pages)
    report["in_process"] = bench_in_process(originals, len(pages))
    with tempfile.TemporaryDirectory(prefix="rxlab-bench-") as tmp:
        report.update(bench_cluster(originals, len(pages), Path(tmp), duration=args.duration))
    base = report["tesseract_cli"]["pages_per_s"]
    report["ratios"] = {
        "in_process_vs_tesseract": round(report["in_process"]["pages_per_s"] / base, 3),
        "cluster_vs_tesseract": round(report["cluster"]["pages_per_s"] / base, 3),
        "ocr_stage_vs_pytesseract_call": report["ocr"]["speedup"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")
    return 0


def bench_tagger(originals: list[Path]) -> dict[str, Any]:
    """Token classifier alone, one thread: each document's printed lines tagged in one batched call, then decoded
    again with the document type's prior, as the tag stage does."""
    from services.tagger.model import MODEL_DIR, get_model

    model = get_model()
    documents = []
    for original in originals:
        truth = json.loads((original.parent / "truth.json").read_text())
        lines = [line["text"].split() for page in truth["pages"] for line in page["lines"]]
        documents.append((lines, truth["document_type"]))
    model.tag(documents[0][0])  # first call allocates the session's buffers
    started = time.perf_counter()
    for lines, kind in documents:
        model.retag(model.tag(lines), kind)
    seconds = time.perf_counter() - started
    count = sum(len(lines) for lines, _ in documents)
    return {
        "model": model.version,
        "file_mb": round((MODEL_DIR / "tagger.onnx").stat().st_size / 1e6, 1),
        "lines": count,
        "ms_per_line": round(1000 * seconds / count, 2),
        "ms_per_document": round(1000 * seconds / len(documents), 1),
    }


def bench_detector(pages: list[Path]) -> dict[str, Any]:
    """The YOLO detector alone, one ONNX Runtime thread, per decoded page: letterbox, inference + NMS (the network's
    boxes), then the line boxes snapped to their ink (``services.detector.refine``, grey conversion included)."""
    from PIL import Image

    from services.detector.model import YoloOnnxDetector, letterbox
    from shared.settings import get_settings

    path = get_settings().models_dir / "detector" / "detector.onnx"
    detector = YoloOnnxDetector(path)
    images = [Image.open(page).convert("RGB") for page in pages]
    detector.detect_page(images[0])  # first run allocates the session's buffers
    boxing = total = refining = 0.0
    for image in images:
        started = time.perf_counter()
        letterbox(image, detector.size)
        boxing += time.perf_counter() - started
        started = time.perf_counter()
        regions = detector.network_regions(image)
        total += time.perf_counter() - started
        started = time.perf_counter()
        detector.refined(image, regions)
        refining += time.perf_counter() - started
    return {
        "model": detector.version,
        "imgsz": detector.size,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "pages": len(images),
        "letterbox_ms_per_page": round(1000 * boxing / len(images), 1),
        "inference_and_nms_ms_per_page": round(1000 * (total - boxing) / len(images), 1),
        "line_refinement_ms_per_page": round(1000 * refining / len(images), 1),
        "ms_per_page": round(1000 * (total + refining) / len(images), 1),
    }


def bench_ocr(pages: list[Path]) -> dict[str, Any]:
    """The OCR stage alone, one thread, per decoded page: one pytesseract call on the page as it came, the serving
    engine (``prepare`` + ``read``: clean-up and in-process Tesseract), and that engine through the command."""
    import numpy as np
    import pytesseract

    from services.ocr.engine import get_engine
    from shared.settings import get_settings

    engine = get_engine()
    cli = get_engine("tesseract-page-prepared-cli")
    images = [Image.open(page).convert("RGB") for page in pages]
    engine.read(engine.prepare(images[0]))  # loads the language model once, as a worker's warm-up does
    spent = {"pytesseract_call": 0.0, "prepare": 0.0, "read": 0.0, "read_cli": 0.0}
    for image in images:
        gray = np.asarray(image.convert("L"))
        started = time.perf_counter()
        pytesseract.image_to_data(gray, lang="eng", config="--psm 6")
        spent["pytesseract_call"] += time.perf_counter() - started
        started = time.perf_counter()
        prepared = engine.prepare(image)
        spent["prepare"] += time.perf_counter() - started
        started = time.perf_counter()
        engine.read(prepared)
        spent["read"] += time.perf_counter() - started
        started = time.perf_counter()
        cli.read(prepared)
        spent["read_cli"] += time.perf_counter() - started
    per_page = {name: 1000 * seconds / len(images) for name, seconds in spent.items()}
    stage = per_page["prepare"] + per_page["read"]
    return {
        "engine": f"{get_settings().ocr_engine} ({engine.version})",
        "pages": len(images),
        "pytesseract_call_ms_per_page": round(per_page["pytesseract_call"], 1),
        "stage_ms_per_page": round(stage, 1),
        "prepare_ms_per_page": round(per_page["prepare"], 1),
        "read_ms_per_page": round(per_page["read"], 1),
        "stage_with_command_ms_per_page": round(per_page["prepare"] + per_page["read_cli"], 1),
        "speedup": round(per_page["pytesseract_call"] / stage, 3),
    }


def bench_tesseract(pages: list[Path]) -> dict[str, Any]:
    """The bare tesseract command over every page, full page, one process per core, OMP_THREAD_LIMIT=1."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def read(page: Path) -> None:
        subprocess.run(["tesseract", str(page), "-", "--psm", "3"], env=env, capture_output=True, check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CORES) as pool:
        list(pool.map(read, pages))
    wall = time.perf_counter() - started
    return {"pages_per_s": round(len(pages) / wall, 3), "wall_s": round(wall, 2), "processes": CORES}


def _init_worker() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from services import inprocess

    inprocess.warm_up()


def _extract(path: Path) -> float:
    from services import inprocess
    from shared.pages import PageLimits

    started = time.perf_counter()
    inprocess.extract(data=path.read_bytes(), limits=PageLimits())
    return time.perf_counter() - started


def bench_in_process(originals: list[Path], page_count: int) -> dict[str, Any]:
    """The embedded pipeline, one process per core, models loaded before the clock starts."""
    with ProcessPoolExecutor(max_workers=CORES, initializer=_init_worker) as pool:
        list(pool.map(_extract, originals[:CORES]))  # warm every process
        started = time.perf_counter()
        list(pool.map(_extract, originals))
        wall = time.perf_counter() - started
    return {"pages_per_s": round(page_count / wall, 3), "wall_s": round(wall, 2), "processes": CORES}


def bench_cluster(originals: list[Path], page_count: int, tmp: Path, *, duration: int) -> dict[str, Any]:
    """Start Redis, PostgreSQL, the workers and gunicorn; measure pipeline throughput, intake load and RSS."""
    group = ProcessGroup(log_dir=tmp / "logs")
    try:
        env = _cluster_env(group, tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        group.start("gateway", gateway_command(bind=f"127.0.0.1:{port}", workers=2 * CORES + 1), env=env)
        for service in WORKERS:
            concurrency = CORES if service == "ocr" else 1
            group.start(service, worker_command(service, concurrency=concurrency), env=env)
        wait_until(lambda: http_ok(f"{base}/readyz"), timeout=90, what="gateway")
        throughput = _cluster_throughput(base, originals, page_count)
        memory = {service: _peak_rss_mb(group.procs[service].pid) for service in WORKERS}
        for service in WORKERS:
            group.stop(service)
        intake = bench_intake(base, tmp, duration=duration)
        return {"cluster": throughput, "worker_peak_rss_mb": memory, "intake": intake}
    finally:
        group.stop_all()


def _cluster_env(group: ProcessGroup, tmp: Path) -> dict[str, str]:
    database = start_postgres(group, port=free_port(), data_dir=tmp / "pg")
    upgrade(database)
    broker = start_redis(group, port=free_port(), data_dir=tmp / "redis")
    return {
        **os.environ,
        "RXLAB_ENV": "test",
        "RXLAB_DATABASE_URL": database,
        "RXLAB_BROKER_URL": broker,
        "RXLAB_BLOB_ROOT": str(tmp / "blobs"),
        "RXLAB_LOG_LEVEL": "WARNING",
        "OMP_THREAD_LIMIT": "1",
    }


def _submit(base: str, path: Path) -> str:
    with path.open("rb") as handle:
        response = requests.post(
            f"{base}/v1/documents", files={"file": (path.name, handle)}, data={"patient_id": "bench"}, timeout=30
        )
    response.raise_for_status()
    job_id: str = response.json()["job_id"]
    return job_id


def _cluster_throughput(base: str, originals: list[Path], page_count: int) -> dict[str, Any]:
    warm = _submit(base, originals[0])  # load every worker's model before the clock starts
    wait_until(lambda: _state(base, warm) == "done", timeout=300, what="warm-up job", interval=0.2)
    started = time.perf_counter()
    jobs = [_submit(base, path) for path in originals]
    wait_until(
        lambda: all(_state(base, j) in {"done", "failed"} for j in jobs), timeout=1800, what="jobs", interval=0.5
    )
    wall = time.perf_counter() - started
    failed = sum(_state(base, j) == "failed" for j in jobs)
    return {"pages_per_s": round(page_count / wall, 3), "wall_s": round(wall, 2), "failed_jobs": failed}


def _state(base: str, job_id: str) -> str:
    state: str = requests.get(f"{base}/v1/jobs/{job_id}", timeout=10).json()["state"]
    return state


def _peak_rss_mb(parent: int) -> dict[str, float]:
    """VmHWM of the worker's processes (parent and prefork children), in MiB."""
    pids = [parent] + [int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    peaks = {}
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            peaks["parent" if pid == parent else f"child-{pid}"] = round(int(match.group(1)) / 1024, 1)
    return peaks


LUA_POST = """
wrk.method = "POST"
wrk.body = io.open("{body}", "rb"):read("*a")
wrk.headers["Content-Type"] = "multipart/form-data; boundary={boundary}"
"""


def bench_intake(base: str, tmp: Path, *, duration: int) -> dict[str, Any]:
    """wrk against POST /v1/documents (200 KB JPEG) at concurrency 16 and 64, then GET /v1/jobs/{id}."""
    if shutil.which("wrk") is None:
        return {"error": "wrk is not installed (make bench installs it with apt-get when root)"}
    boundary = uuid.uuid4().hex
    body = tmp / "body.bin"
    body.write_bytes(_multipart(boundary, _jpeg_200kb()))
    script = tmp / "post.lua"
    script.write_text(LUA_POST.format(body=body, boundary=boundary))
    results: dict[str, Any] = {"upload_bytes": body.stat().st_size}
    for connections in (16, 64):
        results[f"post_c{connections}"] = _wrk(f"{base}/v1/documents", connections, duration, script)
    job_id = _submit_bytes(base, body.read_bytes(), boundary)
    results["get_job_c16"] = _wrk(f"{base}/v1/jobs/{job_id}", 16, duration, None)
    return results


def _jpeg_200kb() -> bytes:
    import numpy as np

    rng = np.random.default_rng(7)
    noise = rng.integers(150, 256, size=(1100, 850, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "JPEG", quality=40)
    return buffer.getvalue()


def _multipart(boundary: str, data: bytes) -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="patient_id"\r\n\r\nbench-intake\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode()


def _submit_bytes(base: str, body: bytes, boundary: str) -> str:
    response = requests.post(
        f"{base}/v1/documents",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    response.raise_for_status()
    job_id: str = response.json()["job_id"]
    return job_id


def _wrk(url: str, connections: int, duration: int, script: Path | None) -> dict[str, Any]:
    command = ["wrk", "-t", str(CORES), "-c", str(connections), "-d", f"{duration}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return _parse_wrk(out)


def _parse_wrk(out: str) -> dict[str, Any]:
    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)

    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms(latency["50"]),
        "p99_ms": ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


if __name__ == "__main__":
    raise SystemExit(main())
