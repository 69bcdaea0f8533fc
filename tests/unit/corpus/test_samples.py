"""The bundled samples in tests/fixtures/samples: files, sizes, truth, and the conventions the rule tagger reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.contracts.extraction import ExtractionResult
from shared.pages import PageLimits, load_pages
from training.corpus import holdout

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
EXPECTED = {"rx-india-clean": "png", "rx-us-degraded": "jpg", "lab-clean": "png", "lab-pdf": "pdf"}


def _truth(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((SAMPLES / name / "truth.json").read_text())


def test_the_four_samples_are_bundled() -> None:
    assert set(EXPECTED) <= {p.name for p in SAMPLES.iterdir() if p.is_dir()}


@pytest.mark.parametrize(("name", "ext"), EXPECTED.items())
def test_each_sample_is_an_original_and_its_truth(name: str, ext: str) -> None:
    folder = SAMPLES / name
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"original.{ext}", "truth.json"])
    assert (folder / f"original.{ext}").stat().st_size < 400 * 1024
    truth = _truth(name)
    ExtractionResult.model_validate(truth["expected"])
    for kind, key in (("template", "template"), ("font", "font"), ("phrasing", "phrasing")):
        assert holdout.is_allowed(kind, truth[key], "train")
    pages = load_pages((folder / f"original.{ext}").read_bytes(), limits=PageLimits(pdf_dpi=200))
    assert [p.size for p in pages] == [(page["width"], page["height"]) for page in truth["pages"]]


def test_clean_samples_are_readable_resolution() -> None:
    for name in ("rx-india-clean", "lab-clean", "lab-pdf"):
        truth = _truth(name)
        assert truth["condition"] == "clean"
        assert all(200 <= page["dpi"] <= 300 for page in truth["pages"])
    assert _truth("rx-us-degraded")["condition"] == "degraded"


def test_prescription_samples() -> None:
    india = _truth("rx-india-clean")["expected"]
    assert 3 <= len(india["medications"]) <= 4
    assert any(m["drug"]["rxnorm"]["name"] == "metformin" for m in india["medications"])
    assert all(
        m["text"].split()[0].rstrip(".").lower() in ("tab", "cap", "syp", "1", "2", "3", "4")
        for m in india["medications"]
    )
    assert india["prescriber"]["name"].startswith("Dr. ")
    us = _truth("rx-us-degraded")
    assert us["template"] == "rx_us_pad" and us["expected"]["medications"]


def test_lab_samples() -> None:
    clean, pdf = _truth("lab-clean"), _truth("lab-pdf")
    assert len(clean["pages"]) == 1 and len(pdf["pages"]) == 2
    for truth in (clean, pdf):
        results = truth["expected"]["lab_results"]
        assert len(results) >= 8
        assert {r["flag"] for r in results} <= {"H", "L", "N"}
