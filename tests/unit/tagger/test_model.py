"""The shipped token classifier: it loads, tags lines it never saw as its labels say, and spans assemble."""

from __future__ import annotations

import pytest

from services.tagger.model import TaggedWord, entity_spans, get_model
from services.tagger.pipeline import document_type, line_kind
from shared.contracts.stages import TaggedLine


def _entities(text: str) -> dict[str, str]:
    (tagged,) = get_model().tag([text.split()])
    return {span.label: span.text for span in entity_spans(tagged)}


def test_the_shipped_model_loads_once_and_names_its_file() -> None:
    assert get_model() is get_model()
    assert get_model().version.startswith("minilm-tagger-")
    assert len(get_model().tags) == 41


def test_an_indian_medication_line_is_tagged_field_by_field() -> None:
    found = _entities("Tab. Pantoprazole 40 mg 1-0-0 before food x 14 days")
    assert found["DRUG"] == "Pantoprazole"
    assert found["STRENGTH"] == "40 mg"
    assert found["FREQUENCY"] == "1-0-0"
    assert "14 days" in found["DURATION"]


def test_a_lab_row_is_tagged_test_value_unit_range() -> None:
    found = _entities("Haemoglobin 11.2 L g/dL 13.0-17.0")
    assert found["TEST"] == "Haemoglobin"
    assert found["VALUE"] == "11.2"
    assert found["UNIT"] == "g/dL"
    assert found["REF_RANGE"] == "13.0-17.0"


def test_boilerplate_has_no_entities() -> None:
    assert _entities("This is an electronically generated report") == {}


def test_every_word_gets_a_tag_and_empty_lines_stay_empty() -> None:
    tagged = get_model().tag([["Sodium", "140", "mmol/L"], [], ["word"] * 200])
    assert [len(t) for t in tagged] == [3, 0, 200]
    assert all(0.0 <= w.confidence <= 1.0 for line in tagged for w in line)


def test_spans_join_words_and_take_the_lowest_confidence() -> None:
    words = [
        TaggedWord("Tab.", "B-FORM", 0.9),
        TaggedWord("Dolo", "B-DRUG", 0.8),
        TaggedWord("650", "I-DRUG", 0.6),
        TaggedWord("650", "I-STRENGTH", 0.7),
        TaggedWord("daily", "O", 0.99),
    ]
    spans = entity_spans(words)
    assert [(s.label, s.text, s.confidence) for s in spans] == [
        ("FORM", "Tab.", 0.9),
        ("DRUG", "Dolo 650", 0.6),
        ("STRENGTH", "650", 0.7),
    ]


@pytest.mark.parametrize(
    ("labels", "kind"),
    [({"DRUG", "STRENGTH"}, "medication"), ({"TEST", "VALUE"}, "lab_result"), ({"DATE"}, "date"), (set(), "other")],
)
def test_line_kind_follows_the_entities(labels: set[str], kind: str) -> None:
    spans = entity_spans([TaggedWord(label, f"B-{label}", 1.0) for label in sorted(labels)])
    assert line_kind(spans) == kind


def test_document_type_from_line_kinds() -> None:
    lab = TaggedLine(page=1, text="Sodium 140 mmol/L", bbox=(0, 0, 1, 1), kind="lab_result", entities=[], confidence=1)
    assert document_type([lab, lab]) == "lab_report"
    assert document_type([]) == "unknown"


def test_a_separator_between_fields_is_never_an_entity() -> None:
    (tagged,) = get_model().tag([["Tab", "Hydroxyzine", "25", "mg", "-", "2", "tablets", "twice", "daily"]])
    assert tagged[4].tag == "O"
    assert 0.0 <= tagged[4].confidence <= 1.0


def test_a_document_batched_by_sub_token_count_comes_back_in_input_order() -> None:
    lines = [
        ["Haemoglobin", "11.2", "L", "g/dL", "13.0-17.0"],
        [],
        ["Tab.", "Pantoprazole", "40", "mg", "1-0-0", "before", "food", "x", "14", "days"],
        ["Rx"],
        ["Serum", "Creatinine", "0.89", "mg/dL", "(0.60", "-", "1.10)"],
        ["Tab", "Dolo", "650", "mg"],
    ]
    tagged = get_model().tag(lines)
    assert [[w.text for w in line] for line in tagged] == lines
    assert tagged[1] == []
    assert tagged[2][1].tag == "B-DRUG"
    assert tagged[0][0].tag == "B-TEST"
