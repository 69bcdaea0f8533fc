"""Tag stage: label what each OCR line says (drug, strength, test, value, …) and decide the document type.

preprocess: the non-empty OCR lines, split into words; infer: the token classifier (:mod:`services.tagger.model`),
one batched call per document; postprocess: entities per line, each line's kind from its entities, and the
document type from the line kinds and cue words (or the one the order named), after which every word is decoded
again with that type's prior (:meth:`services.tagger.model.TokenTagger.retag`; no second model run).
"""

from __future__ import annotations

import re

from services.tagger.model import TYPE_LABELS, Span, TaggedWord, entity_spans, get_model
from shared.contracts.names import Stage
from shared.contracts.stages import Entity, OcrOutput, TaggedLine, TagOutput, TextLine
from shared.stage_runner import StageInput
from shared.timing import StepTimer

#: A line's kind is that of the first of these labels among its entities (a header line may carry several).
KIND_OF_LABEL: tuple[tuple[str, str], ...] = (
    ("DRUG", "medication"),
    ("TEST", "lab_result"),
    ("PATIENT_NAME", "patient"),
    ("AGE_SEX", "patient"),
    ("PRESCRIBER", "prescriber"),
    ("REGISTRATION", "prescriber"),
    ("DATE", "date"),
)
_LAB_WORDS = re.compile(
    r"\b(?:laboratory|lab|pathology|diagnostics|reference|biological|test|investigation|specimen|sample)\b",
    re.IGNORECASE,
)
_RX_WORDS = re.compile(r"(?:\bRx\b|℞|\bprescription\b|\bsig\b|\bdisp\b|\brefills?\b)", re.IGNORECASE)


def warm_up() -> None:
    """Load the token classifier once in this process."""
    _ = get_model().version


def run(stage_input: StageInput) -> TagOutput:
    """Tag every OCR line of the document."""
    timer = StepTimer()
    model = get_model()
    ocr: OcrOutput = stage_input.output(Stage.OCR, OcrOutput)
    with timer.step("preprocess"):
        lines = [line for line in ocr.lines if line.text.strip()]
        words = [line.text.split() for line in lines]
    requested = stage_input.requested_type
    known = requested if requested in TYPE_LABELS else None
    with timer.step("infer"):
        tagged_words = model.tag(words, document_type=known)
    with timer.step("postprocess"):
        tagged = _lines(lines, tagged_words)
        doc_type = known or document_type(tagged)
        if known is None and doc_type in TYPE_LABELS:
            # The type read from the lines, now a prior on every word (services/tagger/model.py).
            tagged = _lines(lines, model.retag(tagged_words, doc_type))
    return TagOutput(model_version=model.version, document_type=doc_type, lines=tagged, timings=timer.timings())


def _lines(lines: list[TextLine], tagged_words: list[list[TaggedWord]]) -> list[TaggedLine]:
    """The tagged lines: each OCR line with its entities, kind and weakest word confidence."""
    tagged = []
    for line, tags in zip(lines, tagged_words, strict=True):
        spans = entity_spans(tags)
        tagged.append(
            TaggedLine(
                page=line.page,
                text=line.text,
                bbox=line.bbox,
                kind=line_kind(spans),
                entities=[Entity(label=s.label, text=s.text, confidence=s.confidence) for s in spans],
                confidence=round(min((t.confidence for t in tags), default=0.0), 4),
            )
        )
    return tagged


def line_kind(spans: list[Span]) -> str:
    """``medication``, ``lab_result``, ``patient``, ``prescriber``, ``date`` or ``other`` from a line's entities."""
    labels = {span.label for span in spans}
    return next((kind for label, kind in KIND_OF_LABEL if label in labels), "other")


def document_type(lines: list[TaggedLine]) -> str:
    """``prescription``, ``lab_report`` or ``unknown`` from line kinds and cue words."""
    meds = sum(1 for line in lines if line.kind == "medication")
    labs = sum(1 for line in lines if line.kind == "lab_result")
    text = " ".join(line.text for line in lines)
    lab_score = 2 * labs + len(_LAB_WORDS.findall(text))
    rx_score = 2 * meds + 2 * len(_RX_WORDS.findall(text))
    if lab_score == rx_score == 0:
        return "unknown"
    return "lab_report" if lab_score > rx_score else "prescription"
