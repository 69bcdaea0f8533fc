"""Normalise stage: turn tagged lines into the coded rxlab.extraction/v1 result.

preprocess: group the tagged lines by kind; infer: parse and code every medication and lab result against the
vocabulary index (loaded once per process); postprocess: assemble the result, with review reasons for anything
uncertain. The final transaction of the stage appends the items to the patient's repository
(:func:`services.normaliser.repository.write_records`).
"""

from __future__ import annotations

import logging
import threading

from services.normaliser import assemble
from services.normaliser.calibration import get_calibration
from services.normaliser.vocabulary import VocabularyIndex, build_index
from services.normaliser.vocabulary.build import index_version, source_version
from shared.contracts.extraction import ModelVersions
from shared.contracts.names import Stage
from shared.contracts.stages import DetectOutput, NormaliseOutput, OcrOutput, TagOutput
from shared.settings import get_settings
from shared.stage_runner import StageInput
from shared.timing import StepTimer

log = logging.getLogger(__name__)
VERSION = "normaliser-1"
_lock = threading.Lock()
_index: VocabularyIndex | None = None


def get_vocabulary() -> VocabularyIndex:
    """The vocabulary index of this process (built from RXLAB_VOCAB_DIR on first use if missing or stale)."""
    global _index  # noqa: PLW0603 - one read-only index per process
    with _lock:
        if _index is None:
            settings = get_settings()
            sources = {"rxnorm": settings.vocab_dir / "rxnorm", "loinc": settings.vocab_dir / "loinc"}
            if index_version(settings.vocab_index) != source_version(**sources):
                log.warning("vocabulary index missing or stale; building it from %s", settings.vocab_dir)
                build_index(**sources, out=settings.vocab_index)
            _index = VocabularyIndex.open(settings.vocab_index)
        return _index


def page_confidence(ocr: OcrOutput) -> dict[int, float]:
    """Each page's mean OCR word confidence (0–1), over the words read on it; pages with no word are left out."""
    words: dict[int, list[float]] = {}
    for line in ocr.lines:
        words.setdefault(line.page, []).extend(word.confidence for word in line.words)
    return {page: sum(found) / len(found) for page, found in words.items() if found}


def warm_up() -> None:
    """Open the vocabulary index and read the match calibration once in this process."""
    get_vocabulary()
    get_calibration()


def run(stage_input: StageInput) -> NormaliseOutput:
    """Code and assemble the document's extraction."""
    timer = StepTimer()
    vocabulary = get_vocabulary()
    detect: DetectOutput = stage_input.output(Stage.DETECT, DetectOutput)
    ocr: OcrOutput = stage_input.output(Stage.OCR, OcrOutput)
    tag: TagOutput = stage_input.output(Stage.TAG, TagOutput)
    with timer.step("preprocess"):
        groups = assemble.group_lines(tag.lines)
    with timer.step("infer"):
        calibration = get_calibration()
        medications = [
            assemble.medication(line, vocabulary=vocabulary, calibration=calibration) for line in groups.medications
        ]
        sex = assemble.patient(groups.header).sex
        labs = [
            assemble.lab_result(line, vocabulary=vocabulary, calibration=calibration, sex=sex)
            for line in groups.lab_results
        ]
        labs, repeated = assemble.unique_lab_codes(labs)
        implausible = assemble.implausible_values(labs, vocabulary)
    with timer.step("postprocess"):
        versions = ModelVersions(
            detector=detect.model_version,
            ocr=ocr.model_version,
            tagger=tag.model_version,
            vocabulary=vocabulary.version,
            normaliser=calibration.version,
        )
        result = assemble.result(
            document_id=stage_input.document_id,
            document_type=tag.document_type,
            groups=groups,
            medications=medications,
            lab_results=labs,
            model_versions=versions,
            reasons_found=[*repeated, *implausible],
            page_confidence=page_confidence(ocr),
        )
    return NormaliseOutput(model_version=VERSION, result=result, timings=timer.timings())
