"""The per-patient repository: append-only versions of medication and lab-result records.

A record is never updated: a new extraction or a correction appends version n+1 of the same ``record_id``;
the current record is its highest version. ``record_id`` is derived from (patient, original bytes, kind,
position), so re-processing the same upload supersedes instead of duplicating. A reviewer's correction
(:func:`correct_record`) is such a version too, produced by ``reviewer:<actor>``, naming the version it corrects.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from shared.contracts.extraction import LabResult, Medication
from shared.db.models import PatientRecord
from shared.errors import ConflictError, NotFoundError, ValidationError, problems_of
from shared.operations import audit


def record_id_for(*, patient_id: str, document_sha256: str, kind: str, index: int) -> str:
    """The stable id of the ``index``-th item of ``kind`` in a patient's document."""
    digest = hashlib.sha256(f"{patient_id}\0{document_sha256}\0{kind}\0{index}".encode()).hexdigest()
    return f"{kind[:3]}-{digest[:24]}"


def append_version(session: Session, *, record: PatientRecord) -> PatientRecord:
    """Insert ``record`` as the next version of its ``record_id`` (version is assigned here)."""
    latest = session.scalar(select(func.max(PatientRecord.version)).where(PatientRecord.record_id == record.record_id))
    record.version = (latest or 0) + 1
    session.add(record)
    return record


def current_records(session: Session, *, patient_id: str, history: bool = False) -> list[PatientRecord]:
    """A patient's records: the current version of each (or every version with ``history``)."""
    query = select(PatientRecord).where(PatientRecord.patient_id == patient_id)
    if not history:
        newer = aliased(PatientRecord)
        query = query.where(
            ~select(newer.id)
            .where(newer.record_id == PatientRecord.record_id, newer.version > PatientRecord.version)
            .exists()
        )
    return list(
        session.scalars(query.order_by(PatientRecord.created_at, PatientRecord.record_id, PatientRecord.version))
    )


def record_versions(session: Session, *, record_id: str) -> list[PatientRecord]:
    """Every version of one record, oldest first."""
    query = select(PatientRecord).where(PatientRecord.record_id == record_id).order_by(PatientRecord.version)
    return list(session.scalars(query))


def provenance_of(**parts: Any) -> dict[str, Any]:
    """A provenance document (inputs and model versions that made a record)."""
    return {key: value for key, value in parts.items() if value is not None}


def record_of(
    item: Medication | LabResult,
    *,
    record_id: str,
    patient_id: str,
    kind: str,
    document_id: str,
    job_id: str | None,
    provenance: dict[str, Any],
    produced_by: str,
) -> PatientRecord:
    """A record version of ``item``: filed under its code (the name as read when uncoded), its page and box kept in
    the columns and in ``provenance`` (which this adds them to). The version is assigned by :func:`append_version`.
    """
    if isinstance(item, Medication):
        concept = item.drug.rxnorm
        system, code, display = ("RxNorm", concept.rxcui, concept.name) if concept else (None, None, item.drug.text)
    else:
        loinc = item.test.loinc
        system, code, display = ("LOINC", loinc.code, loinc.name) if loinc else (None, None, item.test.text)
    return PatientRecord(
        record_id=record_id,
        patient_id=patient_id,
        kind=kind,
        code_system=system,
        code=code,
        display=display,
        payload=item.model_dump(mode="json"),
        document_id=document_id,
        job_id=job_id,
        page=item.page,
        bbox=list(item.bbox),
        provenance={**provenance, "page": item.page, "bbox": list(item.bbox)},
        produced_by=produced_by,
    )


def correct_record(
    session: Session,
    *,
    record_id: str,
    item: Any,
    actor: str,
    reason: str | None = None,
    based_on_version: int | None = None,
) -> PatientRecord:
    """Append a reviewer's corrected ``item`` as the next version of a record, and audit it.

    Args:
        session: An open session (the caller commits).
        record_id: The record corrected.
        item: The whole corrected medication or lab-result item (``rxlab.extraction/v1``), of the record's kind.
        actor: Who corrects (``produced_by`` becomes ``reviewer:<actor>``).
        reason: Why, kept in the new version's provenance.
        based_on_version: The version the reviewer looked at; when another version has superseded it since, the
            correction is refused rather than silently overwriting what the reviewer did not see.

    Raises:
        NotFoundError: no such record (``record_not_found``).
        ConflictError: ``based_on_version`` is not the current version (``version_conflict``).
        ValidationError: ``item`` is not a valid item of the record's kind (``invalid_item``).
    """
    versions = record_versions(session, record_id=record_id)
    if not versions:
        raise NotFoundError("no such record", code="record_not_found")
    current = versions[-1]
    if based_on_version is not None and based_on_version != current.version:
        raise ConflictError(
            f"the record is at version {current.version}, not {based_on_version}: review the current version",
            code="version_conflict",
        )
    model: type[Medication] | type[LabResult] = Medication if current.kind == "medication" else LabResult
    try:
        corrected = model.model_validate(item)
    except PydanticValidationError as exc:
        raise ValidationError(f"not a valid {current.kind} item: {problems_of(exc)}", code="invalid_item") from None
    provenance = {
        **current.provenance,
        "corrects": {"version": current.version, "produced_by": current.produced_by},
        **({"reason": reason} if reason else {}),
    }
    record = append_version(
        session,
        record=record_of(
            corrected,
            record_id=record_id,
            patient_id=current.patient_id,
            kind=current.kind,
            document_id=current.document_id,
            job_id=current.job_id,
            provenance=provenance,
            produced_by=f"reviewer:{actor}",
        ),
    )
    audit(
        session,
        actor=actor,
        action="correct_record",
        target=record_id,
        count=1,
        detail={"version": record.version, "corrects": current.version},
    )
    session.flush()  # the version's number is taken now (a concurrent one fails here), and its time is set
    return record
