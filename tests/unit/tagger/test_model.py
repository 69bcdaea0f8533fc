"""The shipped token classifier: it loads, tags lines it never saw as its labels say, and spans assemble."""

from __future__ import annotations

import numpy as np
import pytest

from services.tagger.model import FOREIGN_WEIGHT, TYPE_LABELS, TaggedWord, entity_spans, get_model
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


def _word(text: str, **probs: float) -> TaggedWord:
    """A word the model gave these tag probabilities (the rest spread evenly)."""
    tags = get_model().tags
    rest = (1.0 - sum(probs.values())) / (len(tags) - len(probs))
    vector = np.array([probs.get(tag.replace("-", "_"), rest) for tag in tags], dtype=np.float32)
    return TaggedWord(text, tags[int(vector.argmax())], float(vector.max()), vector)


def test_the_document_type_outweighs_a_slim_lead_of_the_other_types_label() -> None:
    # The model leans to a drug, but on a lab report a test is the likelier reading once the prior applies.
    assert FOREIGN_WEIGHT < 0.4 / 0.5 and FOREIGN_WEIGHT < 0.3 / 0.6
    line = [_word("Seren", B_DRUG=0.5, B_TEST=0.4), _word("2", B_STRENGTH=0.6, B_VALUE=0.3)]
    (lab,) = get_model().retag([line], "lab_report")
    assert [w.tag for w in lab] == ["B-TEST", "B-VALUE"]
    assert lab[0].confidence > 0.4  # renormalised: a probability again, above the model's own 0.4
    (rx,) = get_model().retag([line], "prescription")
    assert [w.tag for w in rx] == ["B-DRUG", "B-STRENGTH"]


def test_a_confident_reading_keeps_its_label_whatever_the_type() -> None:
    # "Vit D3" is prescribed and tested alike: a label far surer than the type's own survives the prior.
    line = [_word("Vit", B_TEST=0.95), _word("D3", I_TEST=0.95)]
    (rx,) = get_model().retag([line], "prescription")
    assert [w.tag for w in rx] == ["B-TEST", "I-TEST"]


def test_retagging_starts_from_the_models_probabilities_each_time() -> None:
    line = [_word("Seren", B_DRUG=0.5, B_TEST=0.4)]
    (lab,) = get_model().retag([line], "lab_report")
    (again,) = get_model().retag([lab], "prescription")
    (direct,) = get_model().retag([line], "prescription")
    assert again == direct
    assert lab[0].probs is line[0].probs


def test_an_unknown_type_leaves_the_tags_as_the_model_gave_them() -> None:
    line = [_word("Seren", B_DRUG=0.5, B_TEST=0.4)]
    (same,) = get_model().retag([line], "unknown")
    assert same == line


def test_the_type_labels_are_the_models_and_no_label_is_both_types() -> None:
    labels = {tag[2:] for tag in get_model().tags if tag != "O"}
    rx, lab = TYPE_LABELS["prescription"], TYPE_LABELS["lab_report"]
    assert rx | lab <= labels
    assert not rx & lab
    assert labels - rx - lab == {"PATIENT_NAME", "AGE_SEX", "DATE", "PRESCRIBER", "REGISTRATION"}


def test_tag_with_a_known_type_is_tag_then_retag() -> None:
    lines = [["Tab", "Dolo", "650", "mg"], ["Serum", "Creatinine", "0.89", "mg/dL"]]
    model = get_model()
    assert model.tag(lines, document_type="lab_report") == model.retag(model.tag(lines), "lab_report")
