"""Tag stage: label what each OCR line says (drug, strength, test, value, …) and decide the document type."""

from __future__ import annotations

from services.tagger import rules
from shared.contracts.names import Stage
from shared.contracts.stages import OcrOutput, TagOutput
from shared.stage_runner import StageInput
from shared.timing import StepTimer


def warm_up() -> None:
    """Nothing to load for the interim rules; the transformer model will load here."""


def run(stage_input: StageInput) -> TagOutput:
    """Tag every OCR line of the document."""
    timer = StepTimer()
    ocr: OcrOutput = stage_input.output(Stage.OCR, OcrOutput)
    with timer.step("preprocess"):
        lines = [line for line in ocr.lines if line.text.strip()]
    with timer.step("infer"):
        tagged = [rules.tag_line(line) for line in lines]
    with timer.step("postprocess"):
        requested = stage_input.requested_type
        doc_type = requested if requested in {"prescription", "lab_report"} else rules.document_type(tagged)
    return TagOutput(
        model_version=rules.VERSION,
        document_type=doc_type,
        lines=tagged,
        timings=timer.timings(),
    )
