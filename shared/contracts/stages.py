"""Outputs of the pipeline stages, stored in the database keyed by (document, stage, pipeline version).

Each stage reads the previous stage's output from the database (task arguments are ids only) and writes its
own. Every output names the model version that made it and carries its preprocess / infer / postprocess
timings, so provenance and latency can be reported per stage.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.extraction import BBox, DocumentType, ExtractionResult


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageTimings(_Model):
    """Wall-clock milliseconds spent in each step of a stage."""

    preprocess_ms: float = 0.0
    infer_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.infer_ms + self.postprocess_ms


class Region(_Model):
    """A detected page region, in pixels of the decoded page image."""

    cls: str
    bbox: BBox
    confidence: float = Field(ge=0.0, le=1.0)


class PageRegions(_Model):
    page: int = Field(ge=1)
    width: int
    height: int
    skew_degrees: float = 0.0
    regions: list[Region]


class DetectOutput(_Model):
    model_version: str
    document_type: DocumentType = "unknown"
    document_type_confidence: float = 0.0
    pages: list[PageRegions]
    timings: StageTimings


class Word(_Model):
    text: str
    bbox: BBox
    confidence: float = Field(ge=0.0, le=1.0)


class TextLine(_Model):
    """One line of text as OCR read it, with the detected region it belongs to."""

    page: int = Field(ge=1)
    text: str
    bbox: BBox
    confidence: float = Field(ge=0.0, le=1.0)
    region_index: int | None = None
    region_cls: str | None = None
    words: list[Word] = Field(default_factory=list)


class OcrOutput(_Model):
    model_version: str
    lines: list[TextLine]
    timings: StageTimings


class Entity(_Model):
    """A tagged span of one line: a label and the words it covers."""

    label: str
    text: str
    confidence: float = Field(ge=0.0, le=1.0)


class TaggedLine(_Model):
    page: int = Field(ge=1)
    text: str
    bbox: BBox
    kind: str = Field(description="medication | lab_result | patient | prescriber | date | other")
    entities: list[Entity]
    confidence: float = Field(ge=0.0, le=1.0)


class TagOutput(_Model):
    model_version: str
    document_type: DocumentType
    lines: list[TaggedLine]
    timings: StageTimings


class NormaliseOutput(_Model):
    model_version: str
    result: ExtractionResult
    timings: StageTimings


STAGE_OUTPUT_TYPES: dict[str, type[BaseModel]] = {
    "detect": DetectOutput,
    "ocr": OcrOutput,
    "tag": TagOutput,
    "normalise": NormaliseOutput,
}
