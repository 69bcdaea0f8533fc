"""The per-patient repository: append-only versions of medication and lab-result records.

A record is never updated: a new extraction or a correction appends version n+1 of the same ``record_id``;
the current record is its highest version. ``record_id`` is derived from (patient, original bytes, kind,
position), so re-processing the same upload supersedes instead of duplicating.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from shared.db.models import PatientRecord


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
