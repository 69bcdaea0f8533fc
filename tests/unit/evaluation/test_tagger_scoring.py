"""make eval scores the tagger as the tag stage decodes it: with the prior of the document's type."""

from __future__ import annotations

from typing import Any

from services.tagger.model import get_model
from shared.contracts.stages import TextLine, Word
from training.evaluation.run import _collect_tags

TOKENS = [("Serum", "B-TEST"), ("Creatinine", "I-TEST"), ("0.89", "B-VALUE"), ("mg/dL", "B-UNIT")]


def _truth_line() -> dict[str, Any]:
    return {
        "text": " ".join(t for t, _ in TOKENS),
        "bbox": [0, 100, 800, 130],
        "tokens": [{"text": t, "label": label} for t, label in TOKENS],
    }


def _read_line() -> TextLine:
    words = [
        Word(text=t, bbox=(200.0 * i, 102.0, 200.0 * i + 150, 128.0), confidence=0.9) for i, (t, _) in enumerate(TOKENS)
    ]
    return TextLine(
        page=1, text=" ".join(t for t, _ in TOKENS), bbox=(0.0, 102.0, 750.0, 128.0), confidence=0.9, words=words
    )


def _scored(document_type: str) -> dict[str, tuple[list[Any], list[Any]]]:
    tags: dict[str, tuple[list[Any], list[Any]]] = {"truth": ([], []), "ocr": ([], [])}
    _collect_tags(tags, [_truth_line()], [_read_line()], document_type=document_type)
    return tags


def test_printed_and_ocr_text_are_decoded_with_the_documents_type() -> None:
    words = [t for t, _ in TOKENS]
    for kind in ("lab_report", "prescription"):
        tags = _scored(kind)
        expected = [w.tag for w in get_model().tag([words], document_type=kind)[0]]
        assert tags["truth"] == ([[label for _, label in TOKENS]], [expected])
        assert tags["ocr"][0] == [[label for _, label in TOKENS]]  # gold aligned to the OCR words
        assert tags["ocr"][1] == [expected]


def test_the_type_reaches_the_model_for_both_texts(monkeypatch: Any) -> None:
    from training.evaluation import run

    seen: list[str | None] = []

    class Spy:
        def tag(self, lines: Any, *, document_type: str | None = None) -> Any:
            seen.append(document_type)
            return get_model().tag(lines, document_type=document_type)

    monkeypatch.setattr(run, "get_tagger", Spy)
    _scored("lab_report")
    assert seen == ["lab_report", "lab_report"]
