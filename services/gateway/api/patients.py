"""GET /v1/patients/{id}/records: the patient's current normalised records (``?history=1``: every version)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from services.gateway.extensions import ext
from services.gateway.openapi import Operation, Response, documented
from shared.contracts.api import ErrorBody, PatientRecords, PatientRecordView
from shared.db.models import PatientRecord
from shared.errors import NotFoundError
from shared.jobs import iso
from shared.records import current_records, record_versions

bp = Blueprint("patients", __name__)


@bp.get("/v1/patients/<patient_id>/records")
@documented(
    Operation(
        summary="A patient's current medication and lab-result records",
        tag="patients",
        query={"history": "1 to include every version, not only the current one"},
        responses={200: Response("the records", PatientRecords)},
    )
)
def patient_records(patient_id: str) -> ResponseReturnValue:
    history = request.args.get("history", "0") in {"1", "true", "yes"}
    with ext().session_factory() as session:
        rows = current_records(session, patient_id=patient_id, history=history)
    body = PatientRecords(patient_id=patient_id, records=[record_view(r) for r in rows])
    return jsonify(body.model_dump(mode="json"))


@bp.get("/v1/records/<record_id>/versions")
@documented(
    Operation(
        summary="Every version of one record, oldest first",
        tag="patients",
        responses={200: Response("the versions", PatientRecords), 404: Response("unknown record", ErrorBody)},
    )
)
def versions(record_id: str) -> ResponseReturnValue:
    with ext().session_factory() as session:
        rows = record_versions(session, record_id=record_id)
    if not rows:
        raise NotFoundError("no such record", code="record_not_found")
    body = PatientRecords(patient_id=rows[0].patient_id, records=[record_view(r) for r in rows])
    return jsonify(body.model_dump(mode="json"))


def record_view(row: PatientRecord) -> PatientRecordView:
    """The public view of one record version."""
    return PatientRecordView(
        record_id=row.record_id,
        version=row.version,
        kind=row.kind,
        code_system=row.code_system,
        code=row.code,
        display=row.display,
        item=row.payload,
        document_id=row.document_id,
        page=row.page,
        bbox=[float(v) for v in row.bbox],
        produced_by=row.produced_by,
        provenance=row.provenance,
        created_at=iso(row.created_at) or "",
    )
