"""FHIR R4 export of a patient's repository: a ``collection`` Bundle built from the current record versions.

Resources: one Patient; a MedicationRequest per medication record (RxNorm coding, dosage text, timing with the
HL7 GTS code, route, dose, duration bounds, quantity to dispense); an Observation per lab result (LOINC coding,
``valueQuantity`` in UCUM or ``valueString``, reference range, H/L/N interpretation); a DiagnosticReport per lab
report grouping its Observations; and a Provenance per source document linking every resource made from it to the
document and to what produced it. Plain dictionaries (no FHIR library at run time); the tests validate them with
``fhir.resources``. A code is exported only where the record has one: text always, coding when coded.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from shared.contracts.extraction import ExtractionResult, LabResult, Medication
from shared.db.models import PatientRecord

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PATIENT_SYSTEM = "urn:rxlab:patient"
DOCUMENT_SYSTEM = "urn:rxlab:document"
_GENDER = {"M": "male", "F": "female"}
_INTERPRETATION_DISPLAY = {"H": "High", "L": "Low", "N": "Normal"}


@dataclass(frozen=True)
class SourceDocument:
    """What the export needs of a record's source document: its id and its extraction."""

    document_id: str
    result: ExtractionResult


def fhir_id(value: str) -> str:
    """A valid FHIR id (``[A-Za-z0-9-.]{1,64}``) for one of our ids."""
    return re.sub(r"[^A-Za-z0-9\-.]", "-", value)[:64]


def patient_bundle(
    *, patient_id: str, records: list[PatientRecord], documents: dict[str, SourceDocument]
) -> dict[str, Any]:
    """The Bundle of ``records`` (current versions) of ``patient_id``; ``documents`` by document id."""
    patient_ref = f"Patient/{fhir_id(patient_id)}"
    resources: list[dict[str, Any]] = [_patient(patient_id, documents)]
    made_from: dict[str, list[str]] = defaultdict(list)
    observations: dict[str, list[str]] = defaultdict(list)
    for record in records:
        source = documents[record.document_id].result
        if record.kind == "medication":
            resource = _medication_request(record, Medication.model_validate(record.payload), source, patient_ref)
        else:
            resource = _observation(record, LabResult.model_validate(record.payload), source, patient_ref)
            observations[record.document_id].append(f"Observation/{resource['id']}")
        resources.append(resource)
        made_from[record.document_id].append(f"{resource['resourceType']}/{resource['id']}")
    for document_id, results in observations.items():
        report = _diagnostic_report(document_id, documents[document_id].result, results, patient_ref)
        resources.append(report)
        made_from[document_id].append(f"DiagnosticReport/{report['id']}")
    by_document = {r.document_id: r for r in records}
    for document_id, targets in made_from.items():
        resources.append(_provenance(by_document[document_id], targets))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:rxlab:{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }


def _patient(patient_id: str, documents: dict[str, SourceDocument]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": fhir_id(patient_id),
        "identifier": [{"system": PATIENT_SYSTEM, "value": patient_id}],
    }
    # The most recent document that names the patient: names and sex as printed, not verified identity.
    dated = sorted(documents.values(), key=lambda d: d.result.document_date or "")
    named = [d.result.patient for d in dated if d.result.patient.name or d.result.patient.sex]
    if named:
        if named[-1].name:
            resource["name"] = [{"text": named[-1].name}]
        if named[-1].sex:
            resource["gender"] = _GENDER[named[-1].sex]
    return resource


def _codeable(system: str, code: str | None, display: str | None, text: str) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": system, "code": code, **({"display": display} if display else {})}]
    return concept


def _quantity(value: float, unit: str, ucum: str | None = None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit}
    if ucum:
        quantity.update(system=UCUM, code=ucum)
    return quantity


def _medication_request(
    record: PatientRecord, item: Medication, source: ExtractionResult, patient_ref: str
) -> dict[str, Any]:
    drug = item.drug
    coded = drug.clinical_drug or drug.rxnorm
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": fhir_id(record.record_id),
        "status": "unknown",  # read from a prescription image: whether it is still active is not known
        "intent": "order",
        "subject": {"reference": patient_ref},
        "medicationCodeableConcept": _codeable(
            RXNORM, coded.rxcui if coded else None, coded.name if coded else None, drug.text
        ),
        "dosageInstruction": [_dosage(item)],
    }
    if source.document_date:
        resource["authoredOn"] = source.document_date
    if source.prescriber and source.prescriber.name:
        resource["requester"] = {"display": source.prescriber.name}
    if item.quantity is not None:
        resource["dispenseRequest"] = {"quantity": {"value": item.quantity}}
    return resource


def _dosage(item: Medication) -> dict[str, Any]:
    dosage: dict[str, Any] = {"text": item.text}
    repeat: dict[str, Any] = {}
    frequency = item.frequency
    if frequency and frequency.per_day:
        if float(frequency.per_day).is_integer():
            repeat.update(frequency=int(frequency.per_day), period=1, periodUnit="d")
        else:
            repeat.update(frequency=1, period=round(1 / frequency.per_day, 4), periodUnit="d")
    if item.duration:
        unit = {"d": "d", "wk": "wk", "mo": "mo"}[item.duration.unit]
        repeat["boundsDuration"] = {"value": item.duration.value, "unit": unit, "system": UCUM, "code": unit}
    timing: dict[str, Any] = {}
    if repeat:
        timing["repeat"] = repeat
    if frequency and frequency.timing_code:
        timing["code"] = {"coding": [{"system": GTS, "code": frequency.timing_code}], "text": frequency.text}
    if timing:
        dosage["timing"] = timing
    if frequency and frequency.as_needed:
        dosage["asNeededBoolean"] = True
    if item.route:
        dosage["route"] = {"text": item.route}
    if item.dose:
        dosage["doseAndRate"] = [{"doseQuantity": _quantity(item.dose.value, item.dose.unit)}]
    return dosage


def _observation(record: PatientRecord, item: LabResult, source: ExtractionResult, patient_ref: str) -> dict[str, Any]:
    loinc = item.test.loinc
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": fhir_id(record.record_id),
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
        "code": _codeable(LOINC, loinc.code if loinc else None, loinc.name if loinc else None, item.test.text),
        "subject": {"reference": patient_ref},
    }
    if source.document_date:
        resource["effectiveDateTime"] = source.document_date
    if item.value is not None:
        unit = item.unit
        resource["valueQuantity"] = _quantity(item.value, unit.text if unit else "", unit.ucum if unit else None)
    else:
        resource["valueString"] = item.value_text
    reference = item.reference_range
    if reference:
        bounds: dict[str, Any] = {"text": reference.text}
        unit = item.unit
        for key, bound in (("low", reference.low), ("high", reference.high)):
            if bound is not None:
                bounds[key] = _quantity(bound, unit.text if unit else "", unit.ucum if unit else None)
        resource["referenceRange"] = [bounds]
    if item.flag:
        coding = {"system": INTERPRETATION, "code": item.flag, "display": _INTERPRETATION_DISPLAY[item.flag]}
        resource["interpretation"] = [{"coding": [coding]}]
    return resource


def _diagnostic_report(
    document_id: str, source: ExtractionResult, results: list[str], patient_ref: str
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": fhir_id(f"report-{document_id}"),
        "identifier": [{"system": DOCUMENT_SYSTEM, "value": document_id}],
        "status": "final",
        "code": {"text": "Laboratory report"},
        "subject": {"reference": patient_ref},
        "result": [{"reference": ref} for ref in results],
    }
    if source.document_date:
        report["effectiveDateTime"] = source.document_date
    return report


def _provenance(record: PatientRecord, targets: list[str]) -> dict[str, Any]:
    """Links every resource made from one document to that document and to what produced it."""
    versions = record.provenance.get("model_versions", {})
    what: dict[str, Any] = {"identifier": {"system": DOCUMENT_SYSTEM, "value": record.document_id}}
    if versions:
        what["display"] = "made by " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    recorded = record.created_at if record.created_at.tzinfo else record.created_at.replace(tzinfo=UTC)
    return {
        "resourceType": "Provenance",
        "id": fhir_id(f"prov-{record.document_id}"),
        "target": [{"reference": ref} for ref in targets],
        "recorded": recorded.isoformat(),
        "agent": [{"who": {"display": record.produced_by}}],
        "entity": [{"role": "source", "what": what}],
    }
