"""The interim rule tagger: line kinds, entities and document type."""

from __future__ import annotations

import pytest

from services.tagger.rules import document_type, tag_line
from shared.contracts.stages import TextLine


def tag(text: str) -> tuple[str, list[tuple[str, str]]]:
    line = tag_line(TextLine(page=1, text=text, bbox=(0, 0, 1, 1), confidence=1.0))
    return line.kind, [(e.label, e.text) for e in line.entities]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Tab. Metformin 500 mg 1-0-1 x 30 days", "medication"),
        ("Cap Omeprazole 20mg OD before food x 14 days", "medication"),
        ("Lisinopril 10 mg tablet, Sig: 1 tab PO daily, Disp #30, Refills 2", "medication"),
        ("Hemoglobin 11.2 L g/dL 13.0 - 17.0", "lab_result"),
        ("Thank you for visiting", "other"),
    ],
)
def test_line_kinds(text: str, kind: str) -> None:
    assert tag(text)[0] == kind


def test_lab_row_entities() -> None:
    assert tag("Total Cholesterol 245 H mg/dL < 200") == (
        "lab_result",
        [("TEST", "Total Cholesterol"), ("VALUE", "245"), ("FLAG", "H"), ("UNIT", "mg/dL"), ("REF_RANGE", "< 200")],
    )


def test_patient_and_prescriber_lines() -> None:
    assert tag("Patient Name: Ravi Kumar  Age: 45 Y / M") == (
        "patient",
        [("PATIENT_NAME", "Ravi Kumar"), ("AGE_SEX", "45 Y / M")],
    )
    assert tag("Dr. Anita Sharma, MBBS")[1] == [("PRESCRIBER", "Dr. Anita Sharma")]


def test_document_type_from_lines() -> None:
    rx = [
        tag_line(TextLine(page=1, text=t, bbox=(0, 0, 1, 1), confidence=1.0)) for t in ["Rx", "Tab. Dolo 650 mg 1-0-1"]
    ]
    lab = [
        tag_line(TextLine(page=1, text=t, bbox=(0, 0, 1, 1), confidence=1.0))
        for t in ["Laboratory report", "Hemoglobin 13.1 g/dL 13.0 - 17.0", "WBC 7.2 10^3/uL 4.0 - 11.0"]
    ]
    assert document_type(rx) == "prescription"
    assert document_type(lab) == "lab_report"
    assert document_type([]) == "unknown"


def test_detected_medication_line_is_a_medication_without_a_form_word() -> None:
    text = "Ciprofloxacin 0.3% eye drops - use 2 drops OU every 12 hours"
    plain = TextLine(page=1, text=text, bbox=(0, 0, 10, 10), confidence=0.9)
    hinted = plain.model_copy(update={"region_cls": "medication_line"})
    assert tag_line(plain).kind == "lab_result"  # what the text patterns alone make of it
    assert tag_line(hinted).kind == "medication"
    dated = TextLine(page=1, text="Date: 12/03/2026", bbox=(0, 0, 10, 10), confidence=0.9, region_cls="medication_line")
    assert tag_line(dated).kind == "date"


def test_header_line_carries_every_header_entity() -> None:
    kind, entities = tag("Ref. By: Dr. Farhan Bhat Report Date: 06/04/2025")
    assert kind == "date"
    assert ("PRESCRIBER", "Dr. Farhan Bhat") in entities
    assert ("DATE", "06/04/2025") in entities
    assert tag("Patient Name: Imran Yadav Sample ID: LAB100746")[1] == [("PATIENT_NAME", "Imran Yadav")]


@pytest.mark.parametrize(
    "text",
    ["Moxifloxacin 0.5% gtt 1 drop in both eyes bid #1 RF 11", "Doxycycline 200mg inj IV qd x 5 days #1 RF 11"],
)
def test_compact_us_lines_are_medications(text: str) -> None:
    assert tag(text)[0] == "medication"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ALP 182 High U/L [45 - 130]", [("TEST", "ALP"), ("VALUE", "182"), ("FLAG", "High"), ("UNIT", "U/L")]),
        ("FT4 2.51 ng/dl [0.55 - 1.83]", [("TEST", "FT4"), ("VALUE", "2.51"), ("UNIT", "ng/dl")]),
        ("RBC # 5.81 H 10^6/uL 4.50-5.50", [("TEST", "RBC #"), ("VALUE", "5.81"), ("FLAG", "H"), ("UNIT", "10^6/uL")]),
        ("A/G Ratio 2.39 [1.00 - 2.50]", [("TEST", "A/G Ratio"), ("VALUE", "2.39")]),
    ],
)
def test_lab_rows_with_word_flags_digit_names_and_no_unit(text: str, expected: list[tuple[str, str]]) -> None:
    kind, entities = tag(text)
    assert kind == "lab_result"
    assert [e for e in entities if e[0] != "REF_RANGE"] == expected


def test_page_numbers_are_not_lab_rows() -> None:
    assert tag("Page 1 of 2")[0] == "other"
