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


def _correct(client: FlaskClient, record_id: str, body: Any, actor: str = "qa-anna") -> Any:
    return client.post(f"/v1/records/{record_id}/versions", json=body, headers={"X-Rxlab-Actor": actor})


def test_a_reviewers_correction_is_a_new_version_naming_what_it_corrects_and_is_audited(client: FlaskClient) -> None:
    from shared.db.models import AuditEvent

    result = finish_with(client, "lab-clean", patient="p-qa", seed=14)
    original = _records(client, "p-qa")[0]
    fixed = {**original["item"], "value": 7.25, "value_text": "7.25"}
    answer = _correct(client, original["record_id"], {"item": fixed, "based_on_version": 1, "reason": "misread"})
    assert answer.status_code == 201, answer.json
    new = answer.json
    assert (new["record_id"], new["version"], new["produced_by"]) == (original["record_id"], 2, "reviewer:qa-anna")
    assert new["item"]["value"] == 7.25 and new["created_at"]
    assert (new["code_system"], new["code"]) == (original["code_system"], original["code"])
    assert new["provenance"]["corrects"] == {"version": 1, "produced_by": original["produced_by"]}
    assert new["provenance"]["reason"] == "misread"
    assert new["provenance"]["model_versions"] == result.model_versions.model_dump()  # what read it first
    current = _records(client, "p-qa")
    assert [r for r in current if r["record_id"] == original["record_id"]] == [new]
    versions = client.get(f"/v1/records/{original['record_id']}/versions").json
    assert versions is not None and versions["records"] == [original, new]
    with client.application.app_context(), ext().session_factory() as session:
        events = session.query(AuditEvent).filter(AuditEvent.target == original["record_id"]).all()
    assert [(e.actor, e.action, e.detail) for e in events] == [
        ("qa-anna", "correct_record", {"version": 2, "corrects": 1})
    ]


def test_a_correction_of_a_version_since_superseded_or_not_a_valid_item_is_refused_and_adds_nothing(
    client: FlaskClient,
) -> None:
    finish_with(client, "lab-clean", patient="p-qa2", seed=15)
    original = _records(client, "p-qa2")[0]
    record_id = original["record_id"]
    assert _correct(client, record_id, {"item": original["item"], "based_on_version": 1}).status_code == 201
    stale = _correct(client, record_id, {"item": original["item"], "based_on_version": 1}, actor="qa-ben")
    assert stale.status_code == 409 and stale.json["error"]["code"] == "version_conflict"
    medication = {"text": "Tab X", "drug": {"text": "X"}, "confidence": 0.5, "page": 1, "bbox": [0, 0, 1, 1]}
    for body, code in (
        ({"item": medication}, "invalid_item"),  # a lab result's record takes a lab-result item
        ({"item": {**original["item"], "page": 0}}, "invalid_item"),
        ({"item": original["item"], "version": 3}, "invalid_fields"),
        ({}, "invalid_fields"),
    ):
        refused = _correct(client, record_id, body)
        assert refused.status_code == 422 and refused.json["error"]["code"] == code, (body, refused.json)
    assert _correct(client, "lab-000000000000000000000000", {"item": original["item"]}).status_code == 404
    versions = client.get(f"/v1/records/{record_id}/versions").json
    assert versions is not None and [v["version"] for v in versions["records"]] == [1, 2]
