"""GET /v1/patients/{id}/fhir: the repository as a FHIR Bundle, validated with fhir.resources (R4B models).

The records are written by the normaliser's real repository code from the expected extraction of two bundled
samples (a prescription and a lab report), whose codes come from the vocabulary files.
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from flask.testing import FlaskClient

from services.gateway.extensions import ext
from services.normaliser.repository import write_records
from shared.contracts.extraction import ExtractionResult
from shared.contracts.stages import NormaliseOutput, StageTimings
from shared.db.models import Job
from shared.jobs import DONE, put_stage_output
from tests.conftest import SAMPLES
from tests.unit.gateway.test_documents import png_bytes, submit


def finish_with(
    client: FlaskClient, sample: str, *, patient: str, seed: int, document_date: str | None = None
) -> ExtractionResult:
    """Submit a document and finish its job with the sample's expected extraction (records written as in a run)."""
    body = submit(client, png_bytes(300 + seed), patient=patient).json
    assert body is not None
    expected = json.loads((SAMPLES / sample / "truth.json").read_text())["expected"]
    result = ExtractionResult.model_validate({**expected, "document_id": body["document_id"]})
    if document_date:
        result = result.model_copy(update={"document_date": document_date})
    output = NormaliseOutput(model_version="normaliser-1", result=result, timings=StageTimings())
    with client.application.app_context(), ext().session_factory() as session, session.begin():
        job = session.get(Job, body["job_id"])
        assert job is not None
        put_stage_output(
            session, job=job, stage="normalise", model_version="normaliser-1", payload=output.model_dump(mode="json")
        )
        write_records(session, job, output)
        job.state, job.stage = DONE, None
    return result


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_bundle_is_valid_fhir_and_carries_the_codes(client: FlaskClient) -> None:
    rx = finish_with(client, "rx-india-clean", patient="p-fhir", seed=1)
    lab = finish_with(client, "lab-clean", patient="p-fhir", seed=2)
    answer = client.get("/v1/patients/p-fhir/fhir")
    assert answer.status_code == 200
    assert answer.mimetype == "application/fhir+json"
    bundle = answer.json
    assert bundle is not None
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])

    requests = _resources(bundle, "MedicationRequest")
    assert len(requests) == len(rx.medications)
    for resource, item in zip(requests, rx.medications, strict=True):
        coded = item.drug.clinical_drug or item.drug.rxnorm
        assert coded is not None
        assert resource["medicationCodeableConcept"]["coding"][0]["code"] == coded.rxcui
        assert resource["dosageInstruction"][0]["text"] == item.text
        if item.frequency and item.frequency.timing_code:
            assert resource["dosageInstruction"][0]["timing"]["code"]["coding"][0]["code"] == item.frequency.timing_code
    observations = _resources(bundle, "Observation")
    assert len(observations) == len(lab.lab_results)
    for resource, result in zip(observations, lab.lab_results, strict=True):
        if result.test.loinc:
            assert resource["code"]["coding"][0] == {
                "system": "http://loinc.org",
                "code": result.test.loinc.code,
                "display": result.test.loinc.name,
            }
        if result.value is not None and result.unit and result.unit.ucum:
            assert resource["valueQuantity"]["value"] == result.value
            assert resource["valueQuantity"]["code"] == result.unit.ucum
        if result.flag:
            assert resource["interpretation"][0]["coding"][0]["code"] == result.flag
    (report,) = _resources(bundle, "DiagnosticReport")
    assert {r["reference"] for r in report["result"]} == {f"Observation/{o['id']}" for o in observations}
    provenance = _resources(bundle, "Provenance")
    targets = {t["reference"] for p in provenance for t in p["target"]}
    made = requests + observations + [report]
    assert targets == {f"{r['resourceType']}/{r['id']}" for r in made}
    (patient,) = _resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "p-fhir"


def test_unknown_patient_is_404(client: FlaskClient) -> None:
    answer = client.get("/v1/patients/nobody/fhir")
    assert answer.status_code == 404
    assert answer.json == {"error": {"code": "patient_not_found", "message": "no records for this patient"}}
