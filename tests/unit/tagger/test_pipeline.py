"""The tag stage: the document type it decides (or is told) is a prior on every word's tag."""

from __future__ import annotations

import pytest

from services.tagger import pipeline
from services.tagger.model import TaggedWord, entity_spans, get_model
from shared.contracts.names import Stage
from shared.contracts.stages import OcrOutput, TextLine
from shared.pages import PageLimits
from shared.stage_runner import StageInput
from shared.timing import StepTimer

LAB_LINES = ["Haemoglobin 11.2 L g/dL 13.0-17.0", "Serum Creatinine 0.89 mg/dL 0.60-1.10", "Sodium 140 mmol/L 135-145"]


def _stage_input(texts: list[str], requested: str = "auto") -> StageInput:
    lines = [
        TextLine(page=1, text=text, bbox=(0.0, 20.0 * i, 500.0, 20.0 * i + 18), confidence=0.9)
        for i, text in enumerate(texts)
    ]
    ocr = OcrOutput(model_version="test", lines=lines, timings=StepTimer().timings())
    return StageInput(
        document_id="doc", requested_type=requested, original=b"", limits=PageLimits(), outputs={Stage.OCR: ocr}
    )


def _confidences(tagged: list[list[TaggedWord]]) -> list[float]:
    return [round(min(w.confidence for w in words), 4) for words in tagged]


def test_the_stage_decodes_with_the_type_it_read_from_the_lines() -> None:
    out = pipeline.run(_stage_input(LAB_LINES))
    assert out.document_type == "lab_report"
    raw = get_model().tag([t.split() for t in LAB_LINES])
    with_prior = get_model().retag(raw, "lab_report")
    assert _confidences(with_prior) != _confidences(raw)  # the prior moved the probabilities of these lines
    assert [line.confidence for line in out.lines] == _confidences(with_prior)
    assert "typeprior" in out.model_version


@pytest.mark.parametrize("requested", ["prescription", "lab_report"])
def test_a_type_the_order_named_is_the_prior(requested: str) -> None:
    out = pipeline.run(_stage_input(LAB_LINES, requested))
    assert out.document_type == requested
    expected = get_model().tag([t.split() for t in LAB_LINES], document_type=requested)
    assert [line.confidence for line in out.lines] == _confidences(expected)
    assert [[e.label for e in line.entities] for line in out.lines] == [
        [span.label for span in entity_spans(words)] for words in expected
    ]
