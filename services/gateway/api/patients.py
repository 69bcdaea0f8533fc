"""A patient's repository: GET /v1/patients/{id}/records (``?history=1``: every version), record versions, a
reviewer's correction (POST /v1/records/{id}/versions: a new version, never an overwrite), FHIR."""

from __future__ import annotations

import json

from flask import Blueprint, g, jsonify, request
from flask import Response as Response_
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.gateway.errors import parse_body
from services.gateway.extensions import ext
from services.gateway.openapi import Operation, Response, documented
from shared.contracts.api import ErrorBody, PatientRecords, PatientRecordView, RecordCorrection
from shared.contracts.extraction import ExtractionResult
from shared.db.models import Job, PatientRecord
from shared.db.session import transaction
from shared.errors import ConflictError, NotFoundError
from shared.fhir import SourceDocument, patient_bundle
from shared.jobs import get_stage_output, iso
from shared.records import correct_record, current_records, record_versions
from shared.settings import get_settings

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


@bp.post("/v1/records/<record_id>/versions")
@documented(
    Operation(
        summary="Correct a record: the corrected item becomes its next version (the old one stays); audited",
        tag="patients",
        json_body=RecordCorrection,
        responses={
            201: Response("the new version", PatientRecordView),
            404: Response("unknown record", ErrorBody),
            409: Response("the reviewed version is no longer the current one", ErrorBody),
            422: Response("not a valid item of the record's kind", ErrorBody),
        },
    )
)
def correct(record_id: str) -> ResponseReturnValue:
    body = parse_body(RecordCorrection, request.get_json(silent=True))
    try:
        with transaction(ext().session_factory) as session:
            row = correct_record(
                session,
                record_id=record_id,
                item=body.item,
                actor=g.actor,
                reason=body.reason,
                based_on_version=body.based_on_version,
            )
            version = row.version
    except IntegrityError:  # another version of the record was committed at the same moment
        raise ConflictError(
            "the record changed while it was corrected: review it again", code="version_conflict"
        ) from None
    with ext().session_factory() as session:  # read back as committed, so it reads as GET shows it
        stored = next(r for r in record_versions(session, record_id=record_id) if r.version == version)
    return jsonify(record_view(stored).model_dump(mode="json")), 201


@bp.get("/v1/patients/<patient_id>/fhir")
@documented(
    Operation(
        summary="A patient's current records as a FHIR R4 Bundle: Patient, MedicationRequest, Observation, "
        "DiagnosticReport, Provenance",
        tag="patients",
        responses={
            200: Response("a FHIR Bundle", media_type="application/fhir+json"),
            404: Response("no records", ErrorBody),
        },
    )
)
def patient_fhir(patient_id: str) -> ResponseReturnValue:
    with ext().session_factory() as session:
        rows = current_records(session, patient_id=patient_id)
        if not rows:
            raise NotFoundError("no records for this patient", code="patient_not_found")
        documents = source_documents(session, rows)
    bundle = patient_bundle(patient_id=patient_id, records=rows, documents=documents)
    return Response_(json.dumps(bundle), mimetype="application/fhir+json")


def source_documents(session: Session, rows: list[PatientRecord]) -> dict[str, SourceDocument]:
    """The extraction each record came from (the normalise output of its job's pipeline version)."""
    documents: dict[str, SourceDocument] = {}
    for row in rows:
        if row.document_id in documents:
            continue
        job = session.get(Job, row.job_id) if row.job_id else None
        output = get_stage_output(
            session,
            document_id=row.document_id,
            stage="normalise",
            pipeline_version=job.pipeline_version if job else get_settings().pipeline_version,
        )
        if output is None:
            raise NotFoundError("a record's source extraction is gone", code="extraction_not_found")
        result = ExtractionResult.model_validate(output.payload["result"])
        documents[row.document_id] = SourceDocument(document_id=row.document_id, result=result)
    return documents


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
