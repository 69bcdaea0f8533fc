"""Ground truth of generated documents: contract, boxes, tokens, codes against the vocabulary files, values."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image

from shared.contracts.extraction import ExtractionResult
from tests.unit.corpus.conftest import Written
from training.corpus.schema import LINE_KINDS, REGION_CLASSES, TOKEN_LABELS, valid_bio

NAMES = ("rx_clean", "rx_photo", "lab_pdf", "lab_scan", "planned")


def _inside(inner: list[float], outer: list[float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


@pytest.mark.parametrize("name", NAMES)
def test_truth_validates_against_the_contract(corpus: dict[str, Written], name: str) -> None:
    truth = corpus[name].truth
    result = ExtractionResult.model_validate(truth["expected"])
    assert result.document_id == truth["doc_id"]
    assert result.document_type == truth["document_type"]
    assert set(result.model_versions.model_dump(exclude_none=True).values()) == {"truth"}
    assert result.needs_review is False and result.review_reasons == []
    items = result.medications if truth["document_type"] == "prescription" else result.lab_results
    assert items, "a document has at least one medication or lab result"
    assert all(item.confidence == 1.0 for item in items)
    kind = "medication" if truth["document_type"] == "prescription" else "lab_result"
    lines = [(p["page"], ln["text"], ln["bbox"]) for p in truth["pages"] for ln in p["lines"] if ln["kind"] == kind]
    assert [(i.page, i.text, list(i.bbox)) for i in items] == lines
    assert truth["condition"] in ("clean", "degraded")
    assert result.patient.age is not None and result.patient.age.isdigit()
    assert result.document_date is not None


@pytest.mark.parametrize("name", NAMES)
def test_boxes_lie_inside_pages_and_lines_inside_their_region(corpus: dict[str, Written], name: str) -> None:
    written = corpus[name]
    for page in written.truth["pages"]:
        with Image.open(written.folder / page["image"]) as image:
            assert image.size == (page["width"], page["height"])
        frame = [0, 0, page["width"], page["height"]]
        assert {r["cls"] for r in page["regions"]} <= set(REGION_CLASSES)
        for box in [r["bbox"] for r in page["regions"]] + [ln["bbox"] for ln in page["lines"]]:
            assert _inside(box, frame), box
            assert box[0] < box[2] and box[1] < box[3], box
        for line in page["lines"]:
            assert line["kind"] in LINE_KINDS
            own = [r["bbox"] for r in page["regions"] if r["cls"] == line["region"]]
            assert any(_inside(line["bbox"], region) for region in own), (line["text"], line["region"])


@pytest.mark.parametrize("name", NAMES)
def test_tokens_join_to_the_text_and_labels_are_bio(corpus: dict[str, Written], name: str) -> None:
    for page in corpus[name].truth["pages"]:
        for line in page["lines"]:
            assert " ".join(token["text"] for token in line["tokens"]) == line["text"]
            labels = [token["label"] for token in line["tokens"]]
            assert valid_bio(labels), labels
            assert all(label == "O" or label[2:] in TOKEN_LABELS for label in labels)


def test_valid_bio_rejects_broken_sequences() -> None:
    assert valid_bio(["B-DRUG", "I-DRUG", "O", "B-DOSE"])
    assert not valid_bio(["O", "I-DRUG"])
    assert not valid_bio(["B-DRUG", "I-DOSE"])
    assert not valid_bio(["B-NOT_A_LABEL"])


def _entities(line: dict[str, Any], label: str) -> list[str]:
    """Texts of the entities of one label in a line's tokens (a comma typed after an entity is not part of it)."""
    found: list[list[str]] = []
    for token in line["tokens"]:
        if token["label"] == f"B-{label}":
            found.append([token["text"]])
        elif token["label"] == f"I-{label}":
            found[-1].append(token["text"])
    return [" ".join(words).removesuffix(",") for words in found]


@pytest.mark.parametrize("name", ["rx_clean", "rx_photo", "planned"])
def test_medication_values_are_the_printed_words(corpus: dict[str, Written], name: str) -> None:
    truth = corpus[name].truth
    assert truth["document_type"] == "prescription"
    lines = {ln["text"]: ln for p in truth["pages"] for ln in p["lines"] if ln["kind"] == "medication"}
    for medication in truth["expected"]["medications"]:
        line = lines[medication["text"]]
        assert _entities(line, "DRUG") == [medication["drug"]["text"]]
        assert _entities(line, "FREQUENCY") == [medication["frequency"]["text"]]
        if medication["form"] in ("tablet", "capsule", "syrup"):
            assert medication["route"] == "oral"
        if medication["route"] is None:
            assert not _entities(line, "ROUTE")


@cache
def _sig_rows(vocab_dir: Path) -> dict[str, dict[str, str]]:
    with (vocab_dir / "sig" / "sig_abbreviations.csv").open(newline="") as handle:
        return {row["abbrev"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize("name", ["rx_clean", "rx_photo"])
def test_frequency_values_come_from_the_sig_table(corpus: dict[str, Written], vocab_dir: Path, name: str) -> None:
    rows = _sig_rows(vocab_dir)
    per_unit = {"h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30}
    checked = 0
    for medication in corpus[name].truth["expected"]["medications"]:
        frequency = medication["frequency"]
        key = frequency["text"].upper().replace(".", "")
        if "-" in key:  # an Indian pattern: one administration per non-zero slot
            assert frequency["per_day"] == sum(slot != "0" for slot in key.split("-"))
            checked += 1
        elif key in rows:
            row = rows[key]
            assert frequency["timing_code"] == (row["fhir_timing_code"] or None)
            assert frequency["as_needed"] == (row["kind"] == "as_needed")
            if row["times_per_period"]:
                expected = float(row["times_per_period"]) * per_unit[row["period_unit"]] / float(row["period"])
                assert frequency["per_day"] == pytest.approx(expected)
            checked += 1
    assert checked, "no frequency of a known form was checked"


@pytest.mark.parametrize("name", ["lab_pdf", "lab_scan"])
def test_lab_values_flags_and_ranges(corpus: dict[str, Written], name: str) -> None:
    truth = corpus[name].truth
    lines = {ln["text"]: ln for p in truth["pages"] for ln in p["lines"] if ln["kind"] == "lab_result"}
    for result in truth["expected"]["lab_results"]:
        line = lines[result["text"]]
        assert _entities(line, "TEST") == [result["test"]["text"]]
        assert _entities(line, "VALUE") == [result["value_text"]]
        assert float(result["value_text"]) == result["value"]
        bounds = result["reference_range"]
        assert _entities(line, "REF_RANGE") == [bounds["text"]]
        low, high, value = bounds["low"], bounds["high"], result["value"]
        derived = "H" if high is not None and value > high else "L" if low is not None and value < low else "N"
        assert result["flag"] == derived
        printed = _entities(line, "FLAG")
        if derived == "N":
            assert printed == []
        else:
            assert printed and printed[0][0].upper() == derived
    assert len(truth["expected"]["lab_results"]) >= 5


# ---------------------------------------------------------------------------------------------------------- codes
@cache
def _rxnorm_letter(vocab_dir: Path, letter: str) -> list[dict[str, Any]]:
    name = "0-9" if letter.isdigit() else letter.upper()
    data: list[dict[str, Any]] = json.loads((vocab_dir / "rxnorm" / f"{name}.json").read_text())
    return data


@cache
def _loinc_names(vocab_dir: Path) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for file in ("h17.csv", "c17.csv"):
        with (vocab_dir / "loinc" / file).open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["LOINC"] and row["LVL"] != "LVL":
                    names.setdefault(row["LOINC"], set()).add(row["LONG_COMMON_NAME"])
    return names


def _check_medication_codes(vocab_dir: Path, medication: dict[str, Any]) -> None:
    concept, scd, brand = medication["drug"]["rxnorm"], medication["drug"]["clinical_drug"], medication["drug"]["brand"]
    assert concept["tty"] == "IN"
    entries = [e for e in _rxnorm_letter(vocab_dir, concept["name"][0]) if e["RXCUI"] == concept["rxcui"]]
    assert len(entries) == 1 and entries[0]["TTY"] == "IN" and entries[0]["Name"] == concept["name"]
    scds = {s["RXCUI"]: s for c in entries[0]["SCDCs"] for s in c["SCDs"]}
    assert scd["rxcui"] in scds, f"{scd} is not a clinical drug of {concept['name']}"
    assert scds[scd["rxcui"]]["Name"] == scd["name"]
    if brand is not None:
        brands = {bn["Name"] for sbd in scds[scd["rxcui"]].get("SBDs", []) for bn in sbd["BNs"]}
        assert brand in brands


@pytest.mark.parametrize("name", NAMES)
def test_codes_exist_in_the_vocabulary_files_with_their_names(
    corpus: dict[str, Written], vocab_dir: Path, name: str
) -> None:
    expected = corpus[name].truth["expected"]
    for medication in expected["medications"]:
        _check_medication_codes(vocab_dir, medication)
    loinc = _loinc_names(vocab_dir)
    for result in expected["lab_results"]:
        code = result["test"]["loinc"]
        assert code["code"] in loinc
        assert code["name"] in loinc[code["code"]]


# ---------------------------------------------------------------------------------------------------------- files
def test_pdf_has_two_pages_of_the_truth_size_at_200_dpi(corpus: dict[str, Written]) -> None:
    written = corpus["lab_pdf"]
    assert written.original.suffix == ".pdf"
    assert len(written.truth["pages"]) == 2
    pdf = pdfium.PdfDocument(written.original.read_bytes())
    try:
        assert len(pdf) == 2
        for index, page in enumerate(written.truth["pages"]):
            image = pdf[index].render(scale=200 / 72).to_pil()
            assert image.size == (page["width"], page["height"])
            assert page["dpi"] == 200
    finally:
        pdf.close()
    numbers = [ln["text"] for p in written.truth["pages"] for ln in p["lines"] if ln["text"].startswith("Page ")]
    assert numbers == ["Page 1 of 2", "Page 2 of 2"]


def test_formats_and_conditions(corpus: dict[str, Written]) -> None:
    assert corpus["rx_clean"].original.name == "original.png"
    assert corpus["rx_photo"].original.name == "original.jpg"
    assert corpus["rx_photo"].truth["condition"] == "degraded"
    assert corpus["rx_clean"].truth["condition"] == "clean"
    with Image.open(corpus["rx_photo"].original) as image:
        assert image.format == "JPEG"
