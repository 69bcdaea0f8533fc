"""The fixed label sets of the corpus and the printed-line model every layout draws from.

A printed line is a sequence of :class:`Segment` (words with one entity label or none); its text is the segments
joined by single spaces, and its token labels are the BIO tags of the whitespace tokens. The region classes, token
labels and line kinds below are the contract with the detector, tagger and evaluation code: extend, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: Detector classes, in the order of the YOLO class ids.
REGION_CLASSES: tuple[str, ...] = (
    "header",
    "patient",
    "prescriber",
    "medications",
    "lab_table",
    "signature",
    "stamp",
    "footer",
)

#: Entity labels of the token classifier (BIO tags are ``B-<label>``, ``I-<label>`` and ``O``).
TOKEN_LABELS: tuple[str, ...] = (
    "DRUG",
    "STRENGTH",
    "FORM",
    "ROUTE",
    "DOSE",
    "FREQUENCY",
    "DURATION",
    "QUANTITY",
    "REFILLS",
    "INSTRUCTION",
    "TEST",
    "VALUE",
    "UNIT",
    "REF_RANGE",
    "FLAG",
    "PATIENT_NAME",
    "AGE_SEX",
    "DATE",
    "PRESCRIBER",
    "REGISTRATION",
)

LINE_KINDS: tuple[str, ...] = ("medication", "lab_result", "patient", "prescriber", "date", "other")

LineKind = Literal["medication", "lab_result", "patient", "prescriber", "date", "other"]
DocumentType = Literal["prescription", "lab_report"]
Condition = Literal["clean", "degraded"]
Box = tuple[float, float, float, float]
Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]


@dataclass(frozen=True, slots=True)
class Segment:
    """Words printed together with one entity label (None: outside any entity).

    Attributes:
        text: The words, separated by single spaces, no leading or trailing space.
        label: One of :data:`TOKEN_LABELS`, or None.
    """

    text: str
    label: str | None = None

    def __post_init__(self) -> None:
        if self.text != " ".join(self.text.split()) or not self.text:
            raise ValueError(f"segment text must be words separated by single spaces: {self.text!r}")
        if self.label is not None and self.label not in TOKEN_LABELS:
            raise ValueError(f"unknown token label {self.label!r}")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Segments drawn together starting at one x position (a table cell, or a whole line).

    Attributes:
        segments: What is printed.
        x: Left edge in page pixels (or the right edge when ``align`` is ``right``).
        align: ``left`` or ``right``.
    """

    segments: tuple[Segment, ...]
    x: float
    align: Literal["left", "right"] = "left"

    @property
    def text(self) -> str:
        """The printed text: the words joined by single spaces."""
        return " ".join(segment.text for segment in self.segments)


@dataclass(slots=True)
class LineSpec:
    """A printed line before drawing: its chunks, kind and the expected item it carries.

    Attributes:
        chunks: One chunk for running text, several for a table row.
        kind: The line kind.
        payload: For medication and lab-result lines, the expected item's fields (without text, page, bbox).
    """

    chunks: list[Chunk]
    kind: LineKind = "other"
    payload: dict[str, Any] | None = None

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Every segment of every chunk, in reading order."""
        return tuple(segment for chunk in self.chunks for segment in chunk.segments)

    @property
    def text(self) -> str:
        """The printed text: the words joined by single spaces."""
        return line_text(self.segments)


@dataclass(slots=True)
class RenderedLine:
    """A drawn line with its tight box in page pixels.

    ``quad`` is the line's own outline when the page was warped (a degraded scan or photo): the printed box's four
    corners (top-left, top-right, bottom-right, bottom-left) after the page's homography. ``bbox`` then encloses it,
    so on a rotated page the boxes of neighbouring lines overlap while their quads do not. None: not warped, the
    outline is ``bbox`` itself.
    """

    text: str
    bbox: Box
    region: str
    kind: LineKind
    tokens: list[dict[str, str]]
    payload: dict[str, Any] | None = None
    quad: Quad | None = None


@dataclass(slots=True)
class RenderedRegion:
    cls: str
    bbox: Box


@dataclass(slots=True)
class RenderedPage:
    """One page image with everything drawn on it (boxes in its pixels)."""

    image: Any  # PIL.Image.Image; Any keeps this module free of imaging imports
    dpi: int
    regions: list[RenderedRegion] = field(default_factory=list)
    lines: list[RenderedLine] = field(default_factory=list)


def line_text(segments: tuple[Segment, ...] | list[Segment]) -> str:
    """The printed text of segments: their words joined by single spaces."""
    return " ".join(segment.text for segment in segments)


def bio_tokens(segments: tuple[Segment, ...] | list[Segment]) -> list[dict[str, str]]:
    """Whitespace tokens with BIO labels; each segment with a label is one entity.

    Args:
        segments: The printed segments of one line.

    Returns:
        ``[{"text": word, "label": "B-DRUG" | "I-DRUG" | "O"}, ...]`` in reading order.
    """
    tokens: list[dict[str, str]] = []
    for segment in segments:
        for position, word in enumerate(segment.text.split()):
            prefix = "B" if position == 0 else "I"
            label = "O" if segment.label is None else f"{prefix}-{segment.label}"
            tokens.append({"text": word, "label": label})
    return tokens


def valid_bio(labels: list[str]) -> bool:
    """True when every tag is ``O`` or ``B-``/``I-`` of a known label, and each ``I-X`` follows ``B-X`` or ``I-X``."""
    previous = "O"
    for tag in labels:
        if tag != "O":
            prefix, _, name = tag.partition("-")
            if prefix not in ("B", "I") or name not in TOKEN_LABELS:
                return False
            if prefix == "I" and previous[2:] != name:
                return False
        previous = tag
    return True
