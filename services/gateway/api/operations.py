"""Operator endpoints: list jobs by filters, re-queue one or in bulk, cancel. Every action is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from services.gateway.errors import parse_body
from services.gateway.extensions import ext
from services.gateway.openapi import Operation, Response, documented
from shared.contracts.api import ErrorBody
from shared.jobs import iso
from shared.operations import JobFilter, cancel_job, list_jobs, requeue_job, requeue_matching

bp = Blueprint("operations", __name__)
StageName = Literal["detect", "ocr", "tag", "normalise"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobSummary(_Model):
    job_id: str
    document_id: str
    patient_id: str
    state: str
    stage: str | None
    attempts: int
    error_code: str | None
    error_message: str | None
    pipeline_version: str
    created_at: str
    updated_at: str


class JobList(_Model):
    jobs: list[JobSummary]
    next_cursor: str | None


class JobFilterBody(_Model):
    state: Literal["queued", "running", "done", "failed", "cancelled"] | None = None
    stage: StageName | None = None
    error: str | None = Field(default=None, description="error code")
    patient_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_filter(self) -> JobFilter:
        return JobFilter(
            state=self.state,
            stage=self.stage,
            error_code=self.error,
            patient_id=self.patient_id,
            since=self.since,
            until=self.until,
        )


class RequeueBody(_Model):
    from_stage: StageName | None = None
    pipeline_version: str | None = Field(default=None, max_length=32)


class BulkRequeueBody(RequeueBody):
    filter: JobFilterBody
    limit: int = Field(default=1000, ge=1, le=10000)


class BulkRequeueResult(_Model):
    requeued: int
    job_ids: list[str]


class _Limit(_Model):
    limit: int = Field(default=50, ge=1, le=500)


def summary(job: Any) -> JobSummary:
    return JobSummary(
        job_id=job.id,
        document_id=job.document_id,
        patient_id=job.patient_id,
        state=job.state,
        stage=job.stage,
        attempts=job.attempts,
        error_code=job.error_code,
        error_message=job.error_message,
        pipeline_version=job.pipeline_version,
        created_at=iso(job.created_at) or "",
        updated_at=iso(job.updated_at) or "",
    )


@bp.get("/v1/jobs")
@documented(
    Operation(
        summary="List jobs by state, stage, error code, patient and time window (newest first, paginated)",
        tag="operations",
        query={
            "state": "queued | running | done | failed | cancelled",
            "stage": "detect | ocr | tag | normalise",
            "error": "error code, e.g. attempts_exhausted",
            "patient_id": "one patient's jobs",
            "since": "ISO time: updated at or after",
            "until": "ISO time: updated before",
            "limit": "page size (1-500, default 50)",
            "cursor": "next_cursor of the previous page",
        },
        responses={200: Response("a page of jobs", JobList), 422: Response("invalid filter", ErrorBody)},
    )
)
def jobs_list() -> ResponseReturnValue:
    args = request.args
    where = parse_body(JobFilterBody, {k: args[k] for k in JobFilterBody.model_fields if k in args}).to_filter()
    limit = parse_body(_Limit, {"limit": args.get("limit", 50)}).limit
    with ext().session_factory() as session:
        rows, cursor = list_jobs(session, where=where, limit=limit, cursor=args.get("cursor"))
    return jsonify(JobList(jobs=[summary(j) for j in rows], next_cursor=cursor).model_dump())


@bp.post("/v1/jobs/<job_id>/requeue")
@documented(
    Operation(
        summary="Re-queue a job (optionally from a stage, optionally under a newer pipeline version)",
        tag="operations",
        json_body=RequeueBody,
        responses={
            202: Response("re-queued", JobSummary),
            404: Response("unknown job", ErrorBody),
            409: Response("the job is running", ErrorBody),
            422: Response("invalid stage or version", ErrorBody),
        },
    )
)
def requeue_one(job_id: str) -> ResponseReturnValue:
    body: RequeueBody = parse_body(RequeueBody, request.get_json(silent=True))
    extensions = ext()
    job = requeue_job(
        session_factory=extensions.session_factory,
        celery=extensions.celery,
        job_id=job_id,
        actor=g.actor,
        from_stage=body.from_stage,
        pipeline_version=body.pipeline_version,
    )
    return jsonify(summary(job).model_dump()), 202


@bp.post("/v1/jobs/requeue")
@documented(
    Operation(
        summary="Re-queue every finished, failed or cancelled job matching a filter; answers how many",
        tag="operations",
        json_body=BulkRequeueBody,
        responses={202: Response("re-queued", BulkRequeueResult), 422: Response("invalid filter", ErrorBody)},
    )
)
def requeue_bulk() -> ResponseReturnValue:
    body: BulkRequeueBody = parse_body(BulkRequeueBody, request.get_json(silent=True))
    extensions = ext()
    ids = requeue_matching(
        session_factory=extensions.session_factory,
        celery=extensions.celery,
        where=body.filter.to_filter(),
        actor=g.actor,
        from_stage=body.from_stage,
        pipeline_version=body.pipeline_version,
        limit=body.limit,
    )
    return jsonify(BulkRequeueResult(requeued=len(ids), job_ids=ids).model_dump()), 202


@bp.post("/v1/jobs/<job_id>/cancel")
@documented(
    Operation(
        summary="Cancel a queued or running job",
        tag="operations",
        responses={
            200: Response("cancelled", JobSummary),
            404: Response("unknown job", ErrorBody),
            409: Response("already finished", ErrorBody),
        },
    )
)
def cancel(job_id: str) -> ResponseReturnValue:
    job = cancel_job(session_factory=ext().session_factory, job_id=job_id, actor=g.actor)
    return jsonify(summary(job).model_dump())
