"""The per-patient repository's rules over HTTP: records are versioned, never edited in place, and name what made them.

The records are written by the normaliser's real repository code (:func:`services.normaliser.repository.write_records`)
from the expected extraction of a bundled lab report, whose codes come from the vocabulary files.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from services.gateway.extensions import ext
from services.normaliser.repository import write_records
from shared.contracts.extraction import ExtractionResult
from shared.contracts.stages import NormaliseOutput, StageTimings
from shared.db.models import Job
from tests.unit.gateway.test_fhir import finish_with


def _records(client: FlaskClient, patient: str, *, history: bool = False) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/patients/{patient}/records" + ("?history=1" if history else ""))
    assert answer.status_code == 200 and answer.json is not None
    assert answer.json["patient_id"] == patient
    return list(answer.json["records"])


def _rewrite(client: FlaskClient, result: ExtractionResult, document_id: str) -> None:
    """The normalise stage finishing the same document's job again (a re-run with other model versions)."""
    output = NormaliseOutput(model_version="normaliser-2", result=result, timings=StageTimings())
    with client.application.app_context(), ext().session_factory() as session, session.begin():
        job = session.query(Job).filter(Job.document_id == document_id).one()
        write_records(session, job, output)


def test_every_record_names_the_document_stage_outputs_and_model_versions_that_made_it(client: FlaskClient) -> None:
    result = finish_with(client, "lab-clean", patient="p-prov", seed=11)
    records = _records(client, "p-prov")
    assert len(records) == len(result.lab_results) > 0
    for record, item in zip(records, result.lab_results, strict=True):
        assert record["version"] == 1 and record["produced_by"].startswith("pipeline:")
        assert record["kind"] == "lab_result" and record["document_id"] == result.document_id
        assert record["item"] == item.model_dump(mode="json")
        assert (record["page"], record["bbox"]) == (item.page, list(item.bbox))
        provenance = record["provenance"]
        assert provenance["document_id"] == result.document_id and len(provenance["document_sha256"]) == 64
        assert provenance["model_versions"] == result.model_versions.model_dump()
        assert provenance["stage_outputs"]["normalise"]["model_version"] == "normaliser-1"
        assert (provenance["page"], provenance["bbox"]) == (item.page, list(item.bbox))
        if item.test.loinc is not None:
            assert (record["code_system"], record["code"]) == ("LOINC", item.test.loinc.code)


def test_a_new_extraction_of_the_same_upload_supersedes_and_the_old_version_stays_as_it_was(
    client: FlaskClient,
) -> None:
    first = finish_with(client, "lab-clean", patient="p-ver", seed=12)
    finish_with(client, "rx-india-clean", patient="p-other", seed=13)  # another patient's records stay apart
    before = _records(client, "p-ver")
    changed = first.lab_results[0].model_copy(update={"value": 99.5, "value_text": "99.5"})
    second = first.model_copy(update={"lab_results": [changed, *first.lab_results[1:]]})
    _rewrite(client, second, first.document_id)

    current = _records(client, "p-ver")
    assert [r["record_id"] for r in current] == [r["record_id"] for r in before]  # superseded, not duplicated
    assert {r["version"] for r in current} == {2}
    assert current[0]["item"]["value"] == 99.5
    everything = _records(client, "p-ver", history=True)
    assert len(everything) == 2 * len(before)
    assert all(r["record_id"] in {b["record_id"] for b in before} for r in everything)

    answer = client.get(f"/v1/records/{before[0]['record_id']}/versions")
    assert answer.status_code == 200 and answer.json is not None
    old, new = answer.json["records"]
    assert (old["version"], new["version"]) == (1, 2)
    assert old == before[0]  # version 1 is exactly what it was: nothing is edited in place
    assert old["item"]["value"] == first.lab_results[0].value != new["item"]["value"]
    assert answer.json["patient_id"] == "p-ver"
    others = _records(client, "p-other")
    assert others and {r["version"] for r in others} == {1}
    assert not {r["record_id"] for r in others} & {r["record_id"] for r in everything}


def test_versions_of_an_unknown_record_are_a_404_with_the_error_body(client: FlaskClient) -> None:
    answer = client.get("/v1/records/lab-000000000000000000000000/versions")
    assert answer.status_code == 404 and answer.json is not None
    assert answer.json["error"]["code"] == "record_not_found"
