"""End to end over real processes: gateway → Redis → detect → ocr → tag → normalise → patient repository."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.celery_app import make_celery
from shared.contracts.extraction import ExtractionResult
from shared.contracts.names import QUEUES, STAGES, TASK_NAMES
from shared.db.models import PatientRecord, StageOutput
from shared.settings import Settings
from tests.conftest import SAMPLES
from tests.integration.conftest import Cluster, post_document, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

EXPECTED_HISTORY = [
    ("queued", "detect"),
    ("running", "detect"),
    ("queued", "ocr"),
    ("running", "ocr"),
    ("queued", "tag"),
    ("running", "tag"),
    ("queued", "normalise"),
    ("running", "normalise"),
    ("done", None),
]


def sample(document_type: str, suffix: str | None = None) -> Path:
    """The first bundled sample of ``document_type`` (optionally with an original of that suffix)."""
    for folder in sorted(SAMPLES.iterdir()):
        truth = json.loads((folder / "truth.json").read_text())
        originals = sorted(folder.glob("original.*"))
        if truth["document_type"] == document_type and (suffix is None or originals[0].suffix == suffix):
            return originals[0]
    raise LookupError(f"no bundled {document_type} sample")


def count(cluster: Cluster, model: type[StageOutput] | type[PatientRecord], document_id: str) -> int:
    with Session(cluster.engine) as session:
        query = select(func.count()).select_from(model).where(model.document_id == document_id)
        return int(session.scalar(query) or 0)


def test_prescription_end_to_end(cluster: Cluster) -> None:
    path = sample("prescription")
    accepted = post_document(cluster, path, patient_id="patient-e2e")
    status = wait_for_job(cluster, accepted["job_id"])
    assert status["state"] == "done", status
    assert [(e["state"], e["stage"]) for e in status["history"]] == EXPECTED_HISTORY  # type: ignore[index, union-attr]
    assert set(status["timings"]) == {s.value for s in STAGES}  # type: ignore[arg-type]
    result = ExtractionResult.model_validate(status["result"])
    assert result.document_id == accepted["document_id"]
    assert result.document_type == "prescription"
    assert result.medications, "the sample prescription has medication lines"
    original = requests.get(cluster.url(f"/v1/documents/{accepted['document_id']}/original"), timeout=10)
    assert original.content == path.read_bytes()
    records = requests.get(cluster.url("/v1/patients/patient-e2e/records"), timeout=10).json()["records"]
    assert len(records) == len(result.medications) + len(result.lab_results)
    provenance = records[0]["provenance"]
    assert provenance["document_id"] == accepted["document_id"]
    assert set(provenance["model_versions"]) == {"detector", "ocr", "tagger", "vocabulary", "normaliser"}


def test_lab_report_pdf_end_to_end(cluster: Cluster) -> None:
    path = sample("lab_report", ".pdf")
    accepted = post_document(cluster, path, patient_id="patient-lab")
    status = wait_for_job(cluster, accepted["job_id"])
    assert status["state"] == "done", status
    result = ExtractionResult.model_validate(status["result"])
    assert result.document_type == "lab_report"
    assert result.lab_results
    assert {item.page for item in result.lab_results} == {1, 2}


def _redeliver_every_stage(app: Celery, job_id: str) -> None:
    for stage in STAGES:
        app.send_task(TASK_NAMES[stage], args=(job_id,), queue=QUEUES[stage])


def test_redelivered_stage_tasks_produce_no_second_output(cluster: Cluster) -> None:
    path = sample("prescription")
    first = post_document(cluster, path, patient_id="patient-redeliver")
    assert wait_for_job(cluster, first["job_id"])["state"] == "done"
    outputs, records = (
        count(cluster, StageOutput, first["document_id"]),
        count(cluster, PatientRecord, first["document_id"]),
    )
    assert outputs == 4

    app = make_celery(name="test-client", settings_factory=lambda: Settings(broker_url=cluster.env["RXLAB_BROKER_URL"]))
    _redeliver_every_stage(app, first["job_id"])
    # Each stage queue is FIFO with one worker: once a job submitted afterwards is done, the duplicates were consumed.
    canary = post_document(cluster, path, patient_id="patient-canary")
    assert wait_for_job(cluster, canary["job_id"])["state"] == "done"
    time.sleep(0.5)

    assert count(cluster, StageOutput, first["document_id"]) == outputs
    assert count(cluster, PatientRecord, first["document_id"]) == records
    again = requests.get(cluster.url(f"/v1/jobs/{first['job_id']}"), timeout=10).json()
    assert again["state"] == "done"
    assert [(e["state"], e["stage"]) for e in again["history"]] == EXPECTED_HISTORY


def test_idempotency_over_http(cluster: Cluster) -> None:
    path = sample("prescription")
    first = post_document(cluster, path, patient_id="patient-idem", key="order-991")
    second = post_document(cluster, path, patient_id="patient-idem", key="order-991")
    assert first == second
    other = sample("lab_report")
    with other.open("rb") as handle:
        conflict = requests.post(
            cluster.url("/v1/documents"),
            files={"file": (other.name, handle)},
            data={"patient_id": "patient-idem"},
            headers={"Idempotency-Key": "order-991"},
            timeout=30,
        )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_key_reused"


def test_non_image_upload_over_http(cluster: Cluster) -> None:
    response = requests.post(
        cluster.url("/v1/documents"),
        files={"file": ("notes.txt", b"Tab. Metformin 500 mg 1-0-1")},
        data={"patient_id": "patient-bad"},
        timeout=30,
    )
    assert response.status_code == 415
    assert response.json() == {
        "error": {"code": "unsupported_media_type", "message": "the file is not a JPEG, PNG, TIFF or PDF document"}
    }
