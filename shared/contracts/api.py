"""HTTP request and response bodies of the gateway (also the source of /openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.extraction import ExtractionResult

PATIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Model):
    code: str = Field(description="machine-readable error code, e.g. unsupported_media_type")
    message: str


class ErrorBody(_Model):
    error: ErrorDetail


class SubmitForm(_Model):
    """Form fields of POST /v1/documents (multipart; the file part is named ``file``)."""

    patient_id: str = Field(pattern=PATIENT_ID_PATTERN, description="the pharmacy's patient identifier")
    document_type: Literal["prescription", "lab_report", "auto"] = "auto"
    callback_url: str | None = Field(
        default=None, max_length=2048, pattern=r"^https?://", description="POSTed the job status when it ends"
    )


class SubmitResponse(_Model):
    job_id: str
    document_id: str
    status_url: str


class JobEventView(_Model):
    state: str
    stage: str | None
    attempt: int
    at: str
    detail: str | None = None


class JobStatus(_Model):
    job_id: str
    document_id: str
    patient_id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str | None = Field(description="the current stage (detect, ocr, tag, normalise); null when done")
    attempts: int
    pipeline_version: str
    created_at: str
    updated_at: str
    finished_at: str | None
    timings: dict[str, dict[str, float]] = Field(description="per stage: preprocess_ms, infer_ms, ... total_ms")
    error: ErrorDetail | None
    history: list[JobEventView]
    result: ExtractionResult | None = None


class PatientRecordView(_Model):
    record_id: str
    version: int
    kind: Literal["medication", "lab_result"]
    code_system: str | None
    code: str | None
    display: str | None
    item: dict[str, Any] = Field(description="the medication or lab_result item of rxlab.extraction/v1")
    document_id: str
    page: int
    bbox: list[float]
    produced_by: str
    provenance: dict[str, Any]
    created_at: str


class RecordCorrection(_Model):
    """A reviewer's correction of one record: the whole corrected item, appended as the record's next version."""

    item: dict[str, Any] = Field(description="the corrected medication or lab_result item (rxlab.extraction/v1)")
    based_on_version: int | None = Field(
        default=None, ge=1, description="the version reviewed; refused (409) when another has superseded it since"
    )
    reason: str | None = Field(default=None, max_length=500, description="why, kept in the new version's provenance")


class PatientRecords(_Model):
    patient_id: str
    records: list[PatientRecordView]


class Health(_Model):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
