"""Writes a finished extraction to the patient's repository: one appended record version per item.

Runs inside the normalise stage's final transaction (see :func:`shared.stage_runner.run_stage`), so the records,
the stage output and the ``done`` transition commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from shared.contracts.extraction import LabResult, Medication
from shared.contracts.stages import NormaliseOutput
from shared.db.models import Document, Job, StageOutput
from shared.records import append_version, provenance_of, record_id_for, record_of


def write_records(session: Session, job: Job, output: BaseModel) -> None:
    """Append the medications and lab results of ``output`` to the job's patient.

    Args:
        session: the open session of the stage's final transaction.
        job: the job being finished.
        output: the normalise stage's output (a :class:`NormaliseOutput`).
    """
    if not isinstance(output, NormaliseOutput):
        raise TypeError("write_records expects the normalise stage output")
    document = session.get(Document, job.document_id)
    if document is None:
        raise LookupError("the job's document is gone")
    base = _provenance(session, job, document, output)
    items: list[tuple[str, Medication | LabResult]] = [("medication", m) for m in output.result.medications]
    items += [("lab_result", r) for r in output.result.lab_results]
    counters: dict[str, int] = {}
    for kind, item in items:
        index = counters.get(kind, 0)
        counters[kind] = index + 1
        append_version(
            session,
            record=record_of(
                item,
                record_id=record_id_for(
                    patient_id=job.patient_id, document_sha256=document.sha256, kind=kind, index=index
                ),
                patient_id=job.patient_id,
                kind=kind,
                document_id=document.id,
                job_id=job.id,
                provenance=base,
                produced_by=f"pipeline:{job.pipeline_version}",
            ),
        )


def _provenance(session: Session, job: Job, document: Document, output: NormaliseOutput) -> dict[str, Any]:
    stages = {
        row.stage: {"stage_output_id": row.id, "model_version": row.model_version}
        for row in session.query(StageOutput).filter(
            StageOutput.document_id == document.id, StageOutput.pipeline_version == job.pipeline_version
        )
    }
    return provenance_of(
        document_id=document.id,
        document_sha256=document.sha256,
        job_id=job.id,
        pipeline_version=job.pipeline_version,
        stage_outputs=stages,
        model_versions=output.result.model_versions.model_dump(),
    )
