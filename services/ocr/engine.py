"""OCR engines, chosen by name from a registry.

``tesseract-page`` (the default): one Tesseract call per page (pytesseract starts a process per call, ~100 ms, so it
is never called per region); words are grouped into lines by Tesseract's own block/paragraph/line numbering.
``tesseract-page-prepared``: the same call on the page after light normalisation and deskew
(:mod:`services.ocr.preprocess`), word boxes mapped back to page pixels. ``make eval`` (docs/evaluation.md) found it
better on prescriptions, worse on lab reports and slower, so it is not the default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pytesseract
from PIL import Image

from services.ocr.preprocess import PREPROCESS_VERSION, Prepared, as_it_came, page_box, prepare
from shared.contracts.stages import Word
from shared.settings import get_settings


@dataclass(frozen=True, slots=True)
class OcrLine:
    text: str
    bbox: tuple[float, float, float, float]
    confidence: float
    words: tuple[Word, ...]


class Engine(Protocol):
    @property
    def version(self) -> str: ...

    def prepare(self, page: Image.Image) -> Prepared:
        """The page as the engine reads it (cleaned up or as it came) and the map back to page pixels."""
        ...

    def read(self, prepared: Prepared) -> list[OcrLine]:
        """Read every line of a prepared page, boxes in the original page's pixels."""
        ...

    def read_page(self, page: Image.Image) -> list[OcrLine]:
        """``read(prepare(page))``."""
        ...


class TesseractPageEngine:
    """Whole-page Tesseract with word boxes (psm configurable), on the prepared page when ``preprocess``."""

    def __init__(self, *, lang: str = "eng", psm: int = 6, preprocess: bool = False) -> None:
        self.lang = lang
        self.psm = psm
        self.preprocess = preprocess
        # Tesseract's OpenMP threads oversubscribe small machines: one thread per process is ~6x faster on 2 cores.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    @cached_property
    def version(self) -> str:
        steps = f"-{PREPROCESS_VERSION}" if self.preprocess else ""
        return f"tesseract-{pytesseract.get_tesseract_version()}-{self.lang}-psm{self.psm}{steps}"

    def prepare(self, page: Image.Image) -> Prepared:
        gray = np.asarray(page.convert("L"), dtype=np.uint8)
        return prepare(gray) if self.preprocess else as_it_came(gray)

    def read(self, prepared: Prepared) -> list[OcrLine]:
        data = pytesseract.image_to_data(
            prepared.image, lang=self.lang, config=f"--psm {self.psm}", output_type=pytesseract.Output.DICT
        )
        lines = group_lines(data)
        if prepared.angle == 0.0:
            return lines
        height, width = prepared.image.shape
        return [_line([_on_page(word, prepared.to_page, width, height) for word in line.words]) for line in lines]

    def read_page(self, page: Image.Image) -> list[OcrLine]:
        return self.read(self.prepare(page))


def _on_page(word: Word, to_page: npt.NDArray[np.float64], width: int, height: int) -> Word:
    x0, y0, x1, y1 = page_box(word.bbox, to_page)
    box = (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height))
    return Word(text=word.text, bbox=box, confidence=word.confidence)


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


ENGINES: dict[str, Callable[[], Engine]] = {
    "tesseract-page": TesseractPageEngine,
    "tesseract-page-prepared": lambda: TesseractPageEngine(preprocess=True),
}
_loaded: dict[str, Engine] = {}


def get_engine(name: str | None = None) -> Engine:
    """Return the engine ``name`` (default: the ``RXLAB_OCR_ENGINE`` setting), created once per process."""
    name = name or get_settings().ocr_engine
    if name not in _loaded:
        _loaded[name] = ENGINES[name]()
    return _loaded[name]
