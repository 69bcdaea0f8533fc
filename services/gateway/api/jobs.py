"""GET /v1/jobs/{id}: state, stage, attempts, per-stage timings, last error, history and the result."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from services.gateway.extensions import ext
from services.gateway.openapi import Operation, Response, documented
from shared.contracts.api import ErrorBody, ErrorDetail, JobEventView, JobStatus
from shared.contracts.extraction import ExtractionResult
from shared.db.models import Job
from shared.errors import NotFoundError
from shared.jobs import DONE, get_stage_output, iso, job_events

bp = Blueprint("jobs", __name__)


@bp.get("/v1/jobs/<job_id>")
@documented(
    Operation(
        summary="A job's state, stage, attempts, timings, last error, history and (when done) its result",
        tag="jobs",
        responses={200: Response("the job", JobStatus), 404: Response("unknown job", ErrorBody)},
    )
)
def get_job(job_id: str) -> ResponseReturnValue:
    with ext().session_factory() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFoundError("no such job", code="job_not_found")
        status = job_status(session, job)
    return jsonify(status.model_dump(mode="json", by_alias=True))


def job_status(session: Session, job: Job) -> JobStatus:
    """The public view of a job."""
    result = None
    if job.state == DONE:
        row = get_stage_output(
            session, document_id=job.document_id, stage="normalise", pipeline_version=job.pipeline_version
        )
        if row is not None:
            result = ExtractionResult.model_validate(row.payload["result"])
    return JobStatus(
        job_id=job.id,
        document_id=job.document_id,
        patient_id=job.patient_id,
        state=job.state,
        stage=job.stage,
        attempts=job.attempts,
        pipeline_version=job.pipeline_version,
        created_at=iso(job.created_at) or "",
        updated_at=iso(job.updated_at) or "",
        finished_at=iso(job.finished_at),
        timings=job.timings or {},
        error=ErrorDetail(code=job.error_code, message=job.error_message or "") if job.error_code else None,
        history=[
            JobEventView(state=e.state, stage=e.stage, attempt=e.attempt, at=iso(e.at) or "", detail=e.detail)
            for e in job_events(session, job.id)
        ],
        result=result,
    )
