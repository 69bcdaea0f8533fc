"""The eval scorer: perfect = 1.0, empty = 0.0, perturbed in between; mAP on known boxes.

Codes here are opaque test identifiers: the scorer compares codes, it does not look them up.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from training.evaluation.detection import Box, mean_ap
from training.evaluation.scoring import merge, pair_items, score_document

TRUTH: dict[str, Any] = {
    "document_type": "prescription",
    "medications": [
        {
            "text": "Tab. Glimepiride 2 mg 1-0-0 x 30 days",
            "drug": {"text": "Glimepiride", "rxnorm": {"rxcui": "test-in-1", "name": "glimepiride", "tty": "IN"},
                     "clinical_drug": {"rxcui": "test-scd-1", "name": "glimepiride 2 MG Oral Tablet"}, "brand": None},
            "strength": {"value": 2, "unit": "mg"}, "form": "tablet", "route": "oral", "dose": None,
            "frequency": {"text": "1-0-0", "per_day": 1, "timing_code": "QD", "as_needed": False},
            "duration": {"value": 30, "unit": "d"}, "quantity": None, "confidence": 1.0, "page": 1,
            "bbox": [100, 200, 900, 240],
        },
        {
            "text": "Cap. Omeprazole 20 mg OD x 14 days",
            "drug": {"text": "Omeprazole", "rxnorm": {"rxcui": "test-in-2", "name": "omeprazole", "tty": "IN"},
                     "clinical_drug": None, "brand": None},
            "strength": {"value": 20, "unit": "mg"}, "form": "capsule", "route": "oral", "dose": None,
            "frequency": {"text": "OD", "per_day": 1, "timing_code": None, "as_needed": False},
            "duration": {"value": 14, "unit": "d"}, "quantity": None, "confidence": 1.0, "page": 1,
            "bbox": [100, 260, 900, 300],
        },
    ],
    "lab_results": [],
}  # fmt: skip


def test_perfect_prediction_scores_one() -> None:
    summary = merge([score_document(predicted=copy.deepcopy(TRUTH), truth=TRUTH)])
    assert summary["document_type_accuracy"] == 1.0
    scored = {name: row for name, row in summary["fields"].items() if row["tp"] + row["fn"]}
    assert scored and all(row["f1"] == 1.0 for row in scored.values())
    assert summary["confidently_wrong_codes"] == 0


def test_empty_prediction_scores_zero() -> None:
    empty = {"document_type": "unknown", "medications": [], "lab_results": []}
    summary = merge([score_document(predicted=empty, truth=TRUTH)])
    assert summary["document_type_accuracy"] == 0.0
    assert summary["fields"]["drug"]["f1"] == 0.0
    assert summary["fields"]["rxnorm_ingredient"]["recall"] == 0.0


def test_perturbed_prediction_scores_in_between() -> None:
    predicted = copy.deepcopy(TRUTH)
    predicted["medications"][0]["drug"]["rxnorm"]["rxcui"] = "test-in-wrong"  # wrong code, confidently
    predicted["medications"][1]["frequency"]["per_day"] = 2
    summary = merge([score_document(predicted=predicted, truth=TRUTH)])
    fields = summary["fields"]
    assert fields["rxnorm_ingredient"] == {"tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert 0.0 < fields["frequency_per_day"]["f1"] < 1.0
    assert fields["strength"]["f1"] == 1.0
    assert summary["confidently_wrong_codes"] == 1


def test_extra_predicted_item_lowers_precision_only() -> None:
    predicted = copy.deepcopy(TRUTH)
    extra = copy.deepcopy(TRUTH["medications"][0])
    extra.update(text="Syp. Something 5 ml", bbox=[100, 400, 900, 440])
    extra["drug"]["text"] = "Something"
    predicted["medications"].append(extra)
    drug = merge([score_document(predicted=predicted, truth=TRUTH)])["fields"]["drug"]
    assert drug["recall"] == 1.0 and drug["precision"] == pytest.approx(2 / 3, abs=1e-4)


def test_code_accuracy_counts_correct_wrong_and_abstained_on_correctly_tagged_drugs() -> None:
    predicted = copy.deepcopy(TRUTH)
    predicted["medications"][0]["drug"]["text"] = "Glimepir1de"  # an OCR slip: still the drug the tagger found
    predicted["medications"][0]["drug"]["rxnorm"]["rxcui"] = "test-in-wrong"
    predicted["medications"][1]["drug"]["rxnorm"] = None  # no confident match: sent to review
    accuracy = merge([score_document(predicted=predicted, truth=TRUTH)])["code_accuracy"]["rxnorm_ingredient"]
    assert accuracy == {"items": 2, "correct": 0, "wrong": 1, "abstained": 1, "accuracy": 0.0}
    predicted["medications"][0]["drug"]["text"] = "Tab"  # the tagger missed the drug: not the normaliser's item
    accuracy = merge([score_document(predicted=predicted, truth=TRUTH)])["code_accuracy"]["rxnorm_ingredient"]
    assert accuracy["items"] == 1
    perfect = merge([score_document(predicted=copy.deepcopy(TRUTH), truth=TRUTH)])["code_accuracy"]
    assert perfect["rxnorm_ingredient"]["accuracy"] == perfect["frequency_per_day"]["accuracy"] == 1.0
    assert perfect["loinc"]["items"] == 0 and perfect["loinc"]["accuracy"] is None


def test_pairing_follows_the_names_when_boxes_overlap_neighbouring_rows() -> None:
    def row(text: str, test: str, top: float, bottom: float) -> dict[str, Any]:
        return {"text": text, "test": {"text": test, "loinc": None}, "page": 1, "bbox": [100, top, 900, bottom]}

    truth = [row("Total Cholesterol 165 mg/dL <200 Impedance", "Total Cholesterol", 1106, 1148),
             row("Serum Triglycerides 94 mg/dL < 150 Colorimetric", "Serum Triglycerides", 1132, 1177)]  # fmt: skip
    # a skewed photo: the triglycerides row's box overlaps the cholesterol row's truth box more than its own
    predicted = [row("Total Cholesteroi e ~", "Total Cholesteroi", 1098, 1123),
                 row("Serum Triglycerides i zi a Impedance", "Serum Triglycerides", 1123, 1150)]  # fmt: skip
    pairs, unmatched_pred, unmatched_truth = pair_items(predicted, truth)
    assert not unmatched_pred and not unmatched_truth
    assert {(p["test"]["text"], t["test"]["text"]) for p, t in pairs} == {
        ("Total Cholesteroi", "Total Cholesterol"),
        ("Serum Triglycerides", "Serum Triglycerides"),
    }


def test_a_row_read_only_in_part_still_pairs_by_its_name() -> None:
    truth = [{"text": "Metoprolol 37.5 mg tablet - take 1 tablet PO every 8 hours - Qty: 90", "page": 1,
              "drug": {"text": "Metoprolol"}, "bbox": [129.6, 384.0, 800.5, 421.2]}]  # fmt: skip
    predicted = [{"text": "Metoprolol 37.5 mg tablet", "page": 1, "drug": {"text": "Metoprolol"},
                  "bbox": [130.0, 385.0, 375.0, 411.0]}]  # fmt: skip
    pairs, _, _ = pair_items(predicted, truth)
    assert len(pairs) == 1
    predicted[0]["drug"]["text"] = "Clobetasol"  # a different drug in an overlapping box is not the same item
    predicted[0]["text"] = "Clobetasol 0.05% gel"
    assert pair_items(predicted, truth)[0] == []


def test_mean_ap() -> None:
    truth = [[Box("lab_row", (0, 0, 100, 20)), Box("lab_row", (0, 30, 100, 50)), Box("date", (0, 60, 50, 70))]]
    perfect = [[Box("lab_row", (0, 0, 100, 20), 0.9), Box("lab_row", (0, 30, 100, 50), 0.8),
                Box("date", (0, 60, 50, 70), 0.9)]]  # fmt: skip
    assert mean_ap(predictions=perfect, truths=truth, classes=["lab_row", "date"])["all"] == {
        "map50": 1.0,
        "map50_95": 1.0,
    }
    half = [[Box("lab_row", (0, 0, 100, 20), 0.9)]]
    table = mean_ap(predictions=half, truths=truth, classes=["lab_row", "date", "footer"])
    assert table["lab_row"]["map50"] == pytest.approx(0.5, abs=0.01)
    assert table["date"]["map50"] == 0.0 and table["footer"]["map50"] is None
    shifted = [[Box("lab_row", (0, 4, 100, 24), 0.9), Box("lab_row", (0, 34, 100, 54), 0.9)]]
    row = mean_ap(predictions=shifted, truths=truth, classes=["lab_row"])["lab_row"]
    assert row["map50"] == 1.0 and row["map50_95"] is not None and 0.3 < row["map50_95"] < 1.0


def _lab_document(ucum: str) -> dict[str, Any]:
    row = {
        "text": "Platelet Count 265 thou/mm3 150 - 450",
        "test": {"text": "Platelet Count", "loinc": None},
        "value": 265, "value_text": "265", "unit": {"text": "thou/mm3", "ucum": ucum},
        "reference_range": {"low": 150, "high": 450}, "flag": None, "confidence": 1.0, "page": 1,
        "bbox": [100, 200, 900, 240],
    }  # fmt: skip
    return {"document_type": "lab_report", "medications": [], "lab_results": [row]}


@pytest.mark.parametrize(("predicted", "right"), [("10*3/uL", True), ("10*3/mm3", True), ("10*3/mL", False)])
def test_units_are_compared_as_ucum_units_a_cubic_millimetre_being_a_microlitre(predicted: str, right: bool) -> None:
    summary = merge([score_document(predicted=_lab_document(predicted), truth=_lab_document("10*3/mm3"))])
    assert summary["fields"]["unit"]["f1"] == (1.0 if right else 0.0)
