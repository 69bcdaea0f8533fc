"""OCR engines, chosen by name from a registry.

``tesseract-page``: one Tesseract call per page (pytesseract starts a process per call, ~100 ms, so it is
never called per region); words are grouped into lines by Tesseract's own block/paragraph/line numbering.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import pytesseract
from PIL import Image

from shared.contracts.stages import Word


@dataclass(frozen=True, slots=True)
class OcrLine:
    text: str
    bbox: tuple[float, float, float, float]
    confidence: float
    words: tuple[Word, ...]


class Engine(Protocol):
    @property
    def version(self) -> str: ...

    def read_page(self, page: Image.Image) -> list[OcrLine]:
        """Read every line of a page image, boxes in page pixels."""
        ...


class TesseractPageEngine:
    """Whole-page Tesseract with word boxes (psm configurable)."""

    def __init__(self, *, lang: str = "eng", psm: int = 6) -> None:
        self.lang = lang
        self.psm = psm
        # Tesseract's OpenMP threads oversubscribe small machines: one thread per process is ~6x faster on 2 cores.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    @cached_property
    def version(self) -> str:
        return f"tesseract-{pytesseract.get_tesseract_version()}-{self.lang}-psm{self.psm}"

    def read_page(self, page: Image.Image) -> list[OcrLine]:
        data = pytesseract.image_to_data(
            page.convert("L"), lang=self.lang, config=f"--psm {self.psm}", output_type=pytesseract.Output.DICT
        )
        return group_lines(data)


def group_lines(data: dict[str, list[Any]]) -> list[OcrLine]:
    """Group Tesseract's word table into lines (keys block/par/line), skipping empty and non-word rows."""
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for i, raw in enumerate(data["text"]):
        text = str(raw).strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        left, top, width, height = (float(data[k][i]) for k in ("left", "top", "width", "height"))
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        grouped.setdefault(key, []).append(
            Word(text=text, bbox=(left, top, left + width, top + height), confidence=min(1.0, conf / 100.0))
        )
    return [_line(words) for _, words in sorted(grouped.items())]


def _line(words: list[Word]) -> OcrLine:
    x0 = min(w.bbox[0] for w in words)
    y0 = min(w.bbox[1] for w in words)
    x1 = max(w.bbox[2] for w in words)
    y1 = max(w.bbox[3] for w in words)
    confidence = sum(w.confidence for w in words) / len(words)
    return OcrLine(
        text=" ".join(w.text for w in words), bbox=(x0, y0, x1, y1), confidence=confidence, words=tuple(words)
    )


ENGINES: dict[str, Callable[[], Engine]] = {"tesseract-page": TesseractPageEngine}
_loaded: dict[str, Engine] = {}


def get_engine(name: str = "tesseract-page") -> Engine:
    """Return the engine ``name``, created once per process."""
    if name not in _loaded:
        _loaded[name] = ENGINES[name]()
    return _loaded[name]
