"""Match calibration: measured precision per method, a logistic model for closest-key matches, the shipped file."""

from __future__ import annotations

import random

import pytest

from services.normaliser.calibration import Calibration, default_path
from training.normaliser.calibrate import Sample, calibrate, logistic_fit, reliability


def sample(method: str, right: bool, *, kind: str = "drug", similarity: float = 1.0, margin: float = 0.0) -> Sample:
    return Sample(kind=kind, method=method, similarity=similarity, margin=margin, right=right, doc="d", text="t")


def test_method_confidence_is_its_smoothed_precision() -> None:
    fit = [sample("exact", True)] * 98 + [sample("corrected", True)] * 8 + [sample("corrected", False)] * 2
    document = calibrate(fit)
    calibration = Calibration.from_json(document)
    assert calibration.confidence(kind="drug", method="exact", similarity=1.0, margin=0.0) == pytest.approx(0.99)
    assert calibration.confidence(kind="drug", method="corrected", similarity=0.95, margin=0.0) == 0.75
    # never seen: as likely right as not, below any review threshold
    assert calibration.confidence(kind="lab", method="part", similarity=0.98, margin=0.0) == 0.5
    assert document["version"].startswith("cal-") and calibrate(fit)["version"] == document["version"]


def test_closest_key_confidence_rises_with_similarity_and_margin() -> None:
    rng = random.Random(3)  # noqa: S311 - test data, not secrets
    fit = []
    for _ in range(400):
        similarity, margin = rng.uniform(0.75, 1.0), rng.uniform(0.0, 0.2)
        truly = 1 / (1 + pow(2.718281828, -(40 * (similarity - 0.85) + 20 * margin)))
        fit.append(sample("fuzzy", rng.random() < truly, similarity=similarity, margin=margin))
    _, w_similarity, w_margin = logistic_fit(fit)
    assert w_similarity > 0 and w_margin > 0
    calibration = Calibration.from_json(calibrate(fit))
    low = calibration.confidence(kind="drug", method="fuzzy", similarity=0.78, margin=0.01)
    high = calibration.confidence(kind="drug", method="fuzzy", similarity=0.95, margin=0.15)
    assert low < 0.3 and high > 0.9
    rows = reliability(calibration, fit)
    assert sum(row["matches"] for row in rows) == len(fit)
    assert rows[0]["share_right"] < rows[-2]["share_right"]  # the low bin is right less often than the high one


def test_no_closest_key_data_means_never_confident() -> None:
    calibration = Calibration.from_json(calibrate([sample("exact", True)]))
    assert calibration.confidence(kind="lab", method="fuzzy", similarity=0.99, margin=0.2) < 0.01


def test_the_shipped_calibration_was_measured_and_checked() -> None:
    import json

    document = json.loads(default_path().read_text())
    assert document["command"] == "make calibrate" and document["fit"]["split"] != document["check"]["split"]
    assert sum(row["matches"] for row in document["check"]["reliability"]) > 0
    calibration = Calibration.load()
    assert calibration.version == document["version"]
    exact = calibration.confidence(kind="drug", method="exact", similarity=1.0, margin=0.0)
    ambiguous = calibration.confidence(kind="lab", method="ambiguous", similarity=1.0, margin=0.0)
    assert ambiguous < 0.9 <= exact
