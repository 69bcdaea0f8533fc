"""The result contract rxlab.extraction/v1: names are stable, unknown fields are refused."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.contracts.extraction import ExtractionResult
from shared.contracts.names import QUEUES, STAGES, TASK_NAMES, next_stage

MINIMAL = {
    "schema": "rxlab.extraction/v1",
    "document_id": "d-1",
    "document_type": "prescription",
    "patient": {"name": "A B", "age": "45", "sex": "M", "date_of_birth": None},
    "prescriber": {"name": "Dr X", "registration": "R-1"},
    "document_date": "2026-03-14",
    "medications": [
        {
            "text": "Tab. Xyz 500 mg 1-0-1 x 5 days",
            "drug": {"text": "Xyz", "rxnorm": None, "clinical_drug": None, "brand": None},
            "strength": {"value": 500, "unit": "mg"},
            "form": "tablet",
            "route": "oral",
            "dose": {"value": 1, "unit": "tablet"},
            "frequency": {"text": "1-0-1", "per_day": 2, "timing_code": "BID", "as_needed": False},
            "duration": {"value": 5, "unit": "d"},
            "quantity": None,
            "confidence": 0.5,
            "page": 1,
            "bbox": [1, 2, 3, 4],
        }
    ],
    "lab_results": [],
    "needs_review": True,
    "review_reasons": ["medication 1: no confident RxNorm match"],
    "model_versions": {"detector": "a", "ocr": "b", "tagger": "c", "vocabulary": "d"},
}


def test_round_trip_keeps_every_name() -> None:
    result = ExtractionResult.model_validate(MINIMAL)
    wire = result.to_json_dict()
    assert wire["schema"] == "rxlab.extraction/v1"
    assert json.loads(json.dumps(wire)) == json.loads(json.dumps({**MINIMAL, **wire}))
    assert set(wire) == set(MINIMAL)


@pytest.mark.parametrize(
    "change",
    [
        {"schema": "rxlab.extraction/v2"},
        {"document_type": "invoice"},
        {"document_date": "14/03/2026"},
        {"unexpected": 1},
    ],
)
def test_invalid_documents_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ExtractionResult.model_validate({**MINIMAL, **change})


def test_stage_names_queues_and_order() -> None:
    assert [s.value for s in STAGES] == ["detect", "ocr", "tag", "normalise"]
    assert TASK_NAMES[STAGES[0]] == "rxlab.detect" and QUEUES[STAGES[-1]] == "normalise"
    assert next_stage(STAGES[-1]) is None and next_stage(STAGES[0]) is STAGES[1]
