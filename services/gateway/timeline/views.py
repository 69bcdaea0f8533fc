"""GET /patients/{id}/timeline: what a pharmacist would rather look at than read.

Server-rendered (Jinja + inline SVG computed here, no script, no assets): one small chart per LOINC-coded lab test
with its values over the document dates and the reference range as a band, uncoded tests listed apart, and the
medication history newest first. Built from the patient's current record versions and their source extractions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from services.gateway.api.patients import source_documents
from services.gateway.extensions import ext
from shared.contracts.extraction import LabResult, Medication
from shared.db.models import PatientRecord
from shared.errors import NotFoundError
from shared.fhir import SourceDocument
from shared.records import current_records

bp = Blueprint("timeline", __name__, template_folder="templates")

WIDTH, HEIGHT, PAD = 420, 130, 28


@dataclass
class Point:
    when: str
    value: float
    flag: str | None
    x: float = 0.0
    y: float = 0.0


@dataclass
class Trend:
    """One coded lab test over time, with the SVG geometry of its chart."""

    code: str
    name: str
    unit: str
    points: list[Point] = field(default_factory=list)
    low: float | None = None
    high: float | None = None
    band: tuple[float, float] | None = None  # SVG y of the reference range's top and bottom
    y_labels: tuple[str, str] = ("", "")

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class MedicationEntry:
    when: str
    text: str
    drug: str
    code: str | None
    dose: str
    document_id: str


@bp.get("/patients/<patient_id>/timeline")
def timeline(patient_id: str) -> ResponseReturnValue:
    with ext().session_factory() as session:
        rows = current_records(session, patient_id=patient_id)
        if not rows:
            raise NotFoundError("no records for this patient", code="patient_not_found")
        documents = source_documents(session, rows)
    trends, uncoded = lab_trends(rows, documents)
    return render_template(
        "timeline/timeline.html",
        patient_id=patient_id,
        trends=trends,
        uncoded=uncoded,
        medications=medication_history(rows, documents),
        width=WIDTH,
        height=HEIGHT,
        pad=PAD,
    )


def _when(document: SourceDocument, row: PatientRecord) -> str:
    """The document's printed date, else the day the record was made."""
    return document.result.document_date or row.created_at.date().isoformat()


def lab_trends(rows: list[PatientRecord], documents: dict[str, SourceDocument]) -> tuple[list[Trend], list[LabResult]]:
    """Coded lab results grouped by LOINC code, oldest first, with chart geometry; and the uncoded ones."""
    trends: dict[str, Trend] = {}
    uncoded: list[LabResult] = []
    for row in rows:
        if row.kind != "lab_result":
            continue
        item = LabResult.model_validate(row.payload)
        if item.test.loinc is None or item.value is None:
            uncoded.append(item)
            continue
        trend = trends.setdefault(
            item.test.loinc.code,
            Trend(code=item.test.loinc.code, name=item.test.loinc.name, unit=item.unit.text if item.unit else ""),
        )
        trend.points.append(Point(when=_when(documents[row.document_id], row), value=item.value, flag=item.flag))
        if item.reference_range:
            trend.low = item.reference_range.low if item.reference_range.low is not None else trend.low
            trend.high = item.reference_range.high if item.reference_range.high is not None else trend.high
    for trend in trends.values():
        _layout(trend)
    return sorted(trends.values(), key=lambda t: t.name), uncoded


def _layout(trend: Trend) -> None:
    """Place the points: x by date between the first and last date, y by value with the range in view."""
    trend.points.sort(key=lambda p: p.when)
    values = [p.value for p in trend.points] + [v for v in (trend.low, trend.high) if v is not None]
    top, bottom = max(values), min(values)
    span = (top - bottom) or abs(top) or 1.0
    top, bottom = top + 0.1 * span, bottom - 0.1 * span
    days = [date.fromisoformat(p.when).toordinal() for p in trend.points]
    first, last = min(days), max(days)

    def y_of(value: float) -> float:
        return PAD + (top - value) / (top - bottom) * (HEIGHT - 2 * PAD)

    for point, day in zip(trend.points, days, strict=True):
        share = (day - first) / (last - first) if last > first else 0.5
        point.x = PAD + share * (WIDTH - 2 * PAD)
        point.y = y_of(point.value)
    if trend.low is not None or trend.high is not None:
        trend.band = (
            y_of(trend.high if trend.high is not None else top),
            y_of(trend.low if trend.low is not None else bottom),
        )
    trend.y_labels = (f"{top:.3g}", f"{bottom:.3g}")


def medication_history(rows: list[PatientRecord], documents: dict[str, SourceDocument]) -> list[MedicationEntry]:
    """Every current medication record, newest document first."""
    entries = []
    by_document: dict[str, list[PatientRecord]] = defaultdict(list)
    for row in rows:
        if row.kind == "medication":
            by_document[row.document_id].append(row)
    for document_id, meds in by_document.items():
        for row in meds:
            item = Medication.model_validate(row.payload)
            coded = item.drug.clinical_drug or item.drug.rxnorm
            parts = [
                f"{item.strength.value:g} {item.strength.unit}" if item.strength else "",
                item.frequency.text if item.frequency else "",
                f"x {item.duration.value:g} {item.duration.unit}" if item.duration else "",
            ]
            entries.append(
                MedicationEntry(
                    when=_when(documents[document_id], row),
                    text=item.text,
                    drug=coded.name if coded else item.drug.text,
                    code=coded.rxcui if coded else None,
                    dose=" ".join(p for p in parts if p),
                    document_id=document_id,
                )
            )
    return sorted(entries, key=lambda e: e.when, reverse=True)
