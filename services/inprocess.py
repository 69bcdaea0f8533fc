"""The embedded pipeline: the same stage code, run in this process, with no broker, server or database.

Used by ``rxlab extract``, ``make eval`` and ``make bench``. Each stage's ``run`` is the very function the
Celery workers call; only the transport differs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from services.detector import pipeline as detect
from services.normaliser import pipeline as normalise
from services.ocr import pipeline as ocr
from services.tagger import pipeline as tag
from shared.contracts.extraction import ExtractionResult
from shared.contracts.names import STAGES, Stage
from shared.contracts.stages import NormaliseOutput
from shared.pages import PageLimits, inspect_document
from shared.stage_runner import ComputeFn, StageInput

COMPUTE: dict[Stage, ComputeFn] = {
    Stage.DETECT: detect.run,
    Stage.OCR: ocr.run,
    Stage.TAG: tag.run,
    Stage.NORMALISE: normalise.run,
}
WARM_UP = (detect.warm_up, ocr.warm_up, tag.warm_up, normalise.warm_up)


@dataclass(frozen=True)
class Extraction:
    result: ExtractionResult
    outputs: dict[Stage, Any]


def warm_up() -> None:
    """Load every stage's model once (so that the first document is not charged for it)."""
    for load in WARM_UP:
        load()


def extract(
    *, data: bytes, limits: PageLimits, document_id: str | None = None, document_type: str = "auto"
) -> Extraction:
    """Run detect → ocr → tag → normalise over one document's bytes.

    Args:
        data: the original file (JPEG, PNG, TIFF or PDF).
        limits: decoding guards (pixels, pages, PDF dpi).
        document_id: the id to report (default: ``sha256:<first 16 hex>`` of the bytes).
        document_type: ``prescription``, ``lab_report`` or ``auto``.

    Raises:
        RxlabError: the document is invalid or a stage failed permanently.
    """
    inspect_document(data, limits=limits)
    stage_input = StageInput(
        document_id=document_id or f"sha256:{hashlib.sha256(data).hexdigest()[:16]}",
        requested_type=document_type,
        original=data,
        limits=limits,
    )
    for stage in STAGES:
        stage_input.outputs[stage] = COMPUTE[stage](stage_input)
    final: NormaliseOutput = stage_input.output(Stage.NORMALISE, NormaliseOutput)
    return Extraction(result=final.result, outputs=dict(stage_input.outputs))
