"""The stage runner: claims by compare-and-set, reuses stored outputs, fails permanently, caps attempts."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from shared.contracts.names import Stage
from shared.contracts.stages import DetectOutput, OcrOutput, PageRegions, Region, StageTimings
from shared.db.models import Document, Job, JobEvent, StageOutput
from shared.db.session import make_engine, make_session_factory, transaction
from shared.errors import PermanentError, TransientError
from shared.pages import PageLimits
from shared.stage_runner import Outcome, StageInput, StageRuntime, run_stage
from shared.storage import FilesystemBlobStore


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def runtime(sqlite_url: str, tmp_path: Path) -> Iterator[StageRuntime]:
    engine = make_engine(sqlite_url)
    yield StageRuntime(
        session_factory=make_session_factory(engine),
        blob_store=FilesystemBlobStore(tmp_path / "blobs"),
        limits=PageLimits(),
        max_attempts=3,
    )
    engine.dispose()


@pytest.fixture
def job_id(runtime: StageRuntime) -> str:
    data = _png()
    key = runtime.blob_store.put(patient_id="p1", data=data)
    doc_id, job = str(uuid.uuid4()), str(uuid.uuid4())
    with transaction(runtime.session_factory) as session:
        session.add(
            Document(
                id=doc_id, patient_id="p1", sha256="0" * 64, media_type="image/png", size_bytes=len(data),
                page_count=1, filename=None, document_type="auto", blob_key=key, created_by="test",
            )
        )  # fmt: skip
        session.flush()
        session.add(
            Job(
                id=job, document_id=doc_id, patient_id="p1", state="queued", stage="detect", attempts=0,
                stage_attempts=0, pipeline_version="1", timings={},
            )
        )  # fmt: skip
    return job


class Counting:
    """A detect computation that counts its calls and reads the real decoded page."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error

    def __call__(self, stage_input: StageInput) -> DetectOutput:
        self.calls += 1
        if self.error is not None:
            raise self.error
        page = stage_input.pages[0]
        region = Region(cls="page", bbox=(0, 0, page.width, page.height), confidence=1.0)
        pages = [PageRegions(page=1, width=page.width, height=page.height, regions=[region])]
        return DetectOutput(model_version="count-1", pages=pages, timings=StageTimings(infer_ms=1.0))


def _job(runtime: StageRuntime, job_id: str) -> Job:
    with runtime.session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _outputs(runtime: StageRuntime) -> int:
    with runtime.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(StageOutput)) or 0)


def test_first_delivery_computes_and_advances(runtime: StageRuntime, job_id: str) -> None:
    compute = Counting()
    outcome = run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="d1", compute=compute)
    assert outcome is Outcome.COMPLETED
    job = _job(runtime, job_id)
    assert (job.state, job.stage, job.attempts) == ("queued", "ocr", 1)
    assert job.timings["detect"]["infer_ms"] == 1.0
    assert compute.calls == 1 and _outputs(runtime) == 1


def test_redelivered_finished_stage_is_a_no_op(runtime: StageRuntime, job_id: str) -> None:
    compute = Counting()
    run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="d1", compute=compute)
    again = run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="d1", compute=compute)
    # The next stage has not started, so the chain may republish it (its own claim dedupes).
    assert again is Outcome.CONTINUE
    assert compute.calls == 1 and _outputs(runtime) == 1


def test_redelivery_after_a_crash_reuses_the_stored_output(runtime: StageRuntime, job_id: str) -> None:
    compute = Counting()
    run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="d1", compute=compute)
    # The OCR worker claimed the stage and died after storing its output but before advancing the job.
    with transaction(runtime.session_factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state, job.stage, job.claim_token = "running", "ocr", "o1"
        session.add(
            StageOutput(
                document_id=job.document_id, patient_id="p1", stage="ocr", pipeline_version="1", job_id=job_id,
                model_version="x", payload=OcrOutput(model_version="x", lines=[], timings=StageTimings()).model_dump(),
            )
        )  # fmt: skip
    ocr = Counting()
    outcome = run_stage(runtime=runtime, stage=Stage.OCR, job_id=job_id, delivery_id="o1", compute=ocr)  # type: ignore[arg-type]
    assert outcome is Outcome.COMPLETED
    assert ocr.calls == 0, "the stored output must be reused, not recomputed"
    assert _outputs(runtime) == 2
    assert _job(runtime, job_id).stage == "tag"


def test_duplicate_message_for_a_running_stage_is_skipped(runtime: StageRuntime, job_id: str) -> None:
    with transaction(runtime.session_factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state, job.claim_token = "running", "first"
    compute = Counting()
    outcome = run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="second", compute=compute)
    assert outcome is Outcome.SKIPPED and compute.calls == 0


def test_permanent_error_fails_the_job_with_its_code(runtime: StageRuntime, job_id: str) -> None:
    compute = Counting(PermanentError("no text on the page", code="no_text_found"))
    outcome = run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="d1", compute=compute)
    assert outcome is Outcome.FAILED
    job = _job(runtime, job_id)
    assert (job.state, job.stage, job.error_code) == ("failed", "detect", "no_text_found")
    assert job.finished_at is not None


def test_transient_error_propagates_and_attempts_are_capped(runtime: StageRuntime, job_id: str) -> None:
    compute = Counting(TransientError("database busy"))
    for _ in range(3):
        with pytest.raises(TransientError):
            run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="d1", compute=compute)
    assert _job(runtime, job_id).attempts == 3
    outcome = run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="d1", compute=compute)
    assert outcome is Outcome.FAILED
    job = _job(runtime, job_id)
    assert (job.state, job.error_code) == ("failed", "attempts_exhausted")
    assert compute.calls == 3


def test_events_record_every_transition_in_order(runtime: StageRuntime, job_id: str) -> None:
    run_stage(runtime=runtime, stage=Stage.DETECT, job_id=job_id, delivery_id="d1", compute=Counting())
    with runtime.session_factory() as session:
        events = [(e.state, e.stage) for e in session.scalars(select(JobEvent).order_by(JobEvent.id))]
    assert events == [("running", "detect"), ("queued", "ocr")]
