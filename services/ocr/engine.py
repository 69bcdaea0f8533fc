"""OCR engines, chosen by name from a registry.

``tesseract-page``: one Tesseract recognition per page (never one per region); words are grouped into lines by
Tesseract's own block/paragraph/line numbering.
``tesseract-page-prepared`` (the default): the same on the page after light normalisation, deskew and enlargement
of small photographed pages (:mod:`services.ocr.preprocess`), word boxes mapped back to page pixels. ``make eval``
(docs/evaluation.md) measured a lower character error rate on clean and degraded pages (0.021 / 0.086 against 0.031 /
0.139) and better fields of prescriptions and lab reports.
Both run Tesseract in this process through its C API (tesserocr, built from source against the system's
libtesseract, :class:`TesseractApi`): the language model is loaded once per process and the page is handed over as
pixels. pytesseract instead starts the ``tesseract`` command per call, which loads the model again and reads the page
from a PNG it wrote; ``tesseract-page-prepared-cli`` still reads that way, for comparison (``make bench``). Both ways
give the same words and boxes (tests/unit/ocr/test_engine.py).
``rapidocr``: PP-OCRv4 text-line detection and recognition (rapidocr-onnxruntime, the ONNX models inside its wheel)
on the page as it came; see :class:`RapidOcrEngine`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pytesseract
from PIL import Image

from services.ocr.preprocess import PREPROCESS_VERSION, Prepared, as_it_came, prepare
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
        return self.read(self.prepare(page))


# Tesseract's OpenMP threads oversubscribe small machines: one thread per process is ~6x faster on 2 cores. OpenMP
# reads the limit when it starts, so it is set before libtesseract is loaded (tesserocr is imported lazily).
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

#: The columns of Tesseract's TSV word table (its ``tsv`` renderer, which pytesseract's ``image_to_data`` also reads).
TSV_COLUMNS = (
    "level", "page_num", "block_num", "par_num", "line_num", "word_num",
    "left", "top", "width", "height", "conf", "text",
)  # fmt: skip

Backend = Literal["api", "cli"]

#: Tesseract settings of every engine here, named in its version. ``tessedit_do_invert=0``: Tesseract 5 reads every
#: line it is unsure of a second time, inverted, in case it is light text on dark; the documents here print dark on
#: light, and on the val pages the second reading cost a quarter of the recognition time and lowered no error rate
#: (character error rate 0.0268 / 0.0682 without it, 0.0270 / 0.0686 with it, clean / degraded, the 80 val documents).
VARIABLES = {"tessedit_do_invert": "0"}
VARIABLES_VERSION = "noinvert"


def tsv_table(tsv: str) -> dict[str, list[str]]:
    """Tesseract's TSV output as columns (``{"text": [...], "conf": [...], ...}``); a header row is skipped."""
    table: dict[str, list[str]] = {name: [] for name in TSV_COLUMNS}
    for row in tsv.splitlines():
        cells = row.split("\t")
        if cells[0] == "level" or len(cells) < len(TSV_COLUMNS) - 1:
            continue
        cells += [""] * (len(TSV_COLUMNS) - len(cells))
        for name, cell in zip(TSV_COLUMNS, cells, strict=False):
            table[name].append(cell)
    return table


class TesseractApi:
    """One Tesseract instance per process, called through its C API (tesserocr).

    The language model is loaded on first use and kept; a forked child makes its own (an instance is never shared
    across processes), and a lock keeps threads of one process from interleaving their pages.
    """

    def __init__(self, *, lang: str, psm: int, variables: Mapping[str, str] | None = None) -> None:
        self.lang = lang
        self.psm = psm
        self.variables = dict(variables or {})
        self._lock = threading.Lock()
        self._api: Any = None
        self._pid = 0

    @staticmethod
    def library_version() -> str:
        """The libtesseract version tesserocr was built against (``5.3.0``)."""
        import tesserocr

        return str(tesserocr.tesseract_version()).split()[1]

    def _instance(self) -> Any:
        if self._api is None or self._pid != os.getpid():
            import tesserocr

            self._api = tesserocr.PyTessBaseAPI(lang=self.lang, psm=self.psm)
            for name, value in self.variables.items():
                if not self._api.SetVariable(name, value):
                    raise ValueError(f"Tesseract has no variable {name!r}")
            self._pid = os.getpid()
        return self._api

    def image_to_data(self, image: npt.NDArray[np.uint8]) -> dict[str, list[str]]:
        """The word table of a grey page (as ``pytesseract.image_to_data`` gives it, as strings)."""
        pixels = np.ascontiguousarray(image, dtype=np.uint8)
        height, width = pixels.shape
        with self._lock:
            api = self._instance()
            api.SetImageBytes(pixels.tobytes(), width, height, 1, width)
            tsv = str(api.GetTSVText(0))
            api.Clear()
        return tsv_table(tsv)


class TesseractPageEngine(Engine):
    """Whole-page Tesseract with word boxes (psm configurable), on the prepared page when ``preprocess``.

    ``backend`` ``"api"`` (the default) runs Tesseract in this process (:class:`TesseractApi`); ``"cli"`` through
    pytesseract, a ``tesseract`` process per page.
    """

    def __init__(self, *, lang: str = "eng", psm: int = 6, preprocess: bool = False, backend: Backend = "api") -> None:
        self.lang = lang
        self.psm = psm
        self.preprocess = preprocess
        self.backend = backend
        self._api = TesseractApi(lang=lang, psm=psm, variables=VARIABLES) if backend == "api" else None

    @cached_property
    def version(self) -> str:
        # The same for both backends: the same library, model and settings read the same words (the unit tests).
        steps = f"-{PREPROCESS_VERSION}" if self.preprocess else ""
        library = self._api.library_version() if self._api else str(pytesseract.get_tesseract_version())
        return f"tesseract-{library}-{self.lang}-psm{self.psm}-{VARIABLES_VERSION}{steps}"

    def prepare(self, page: Image.Image) -> Prepared:
        gray = np.asarray(page.convert("L"), dtype=np.uint8)
        return prepare(gray) if self.preprocess else as_it_came(gray)

    def read(self, prepared: Prepared) -> list[OcrLine]:
        if self._api is not None:
            data: dict[str, list[Any]] = dict(self._api.image_to_data(prepared.image))
        else:
            config = " ".join([f"--psm {self.psm}", *(f"-c {k}={v}" for k, v in VARIABLES.items())])
            data = pytesseract.image_to_data(
                prepared.image, lang=self.lang, config=config, output_type=pytesseract.Output.DICT
            )
        lines = group_lines(data)
        if not prepared.moved:
            return lines
        width, height = prepared.page_size
        return [join_words([_on_page(word, prepared, width, height) for word in line.words]) for line in lines]


def _on_page(word: Word, prepared: Prepared, width: int, height: int) -> Word:
    return Word(text=word.text, bbox=_clip(prepared.on_page(word.bbox), width, height), confidence=word.confidence)


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
    return [join_words(words) for _, words in sorted(grouped.items())]


def join_words(words: list[Word]) -> OcrLine:
    """One line of ``words`` (in their order): their text joined by spaces, the box around them, their mean
    confidence."""
    x0 = min(w.bbox[0] for w in words)
    y0 = min(w.bbox[1] for w in words)
    x1 = max(w.bbox[2] for w in words)
    y1 = max(w.bbox[3] for w in words)
    confidence = sum(w.confidence for w in words) / len(words)
    return OcrLine(
        text=" ".join(w.text for w in words), bbox=(x0, y0, x1, y1), confidence=confidence, words=tuple(words)
    )


Point = tuple[float, float]


class RapidOcrEngine(Engine):
    """PP-OCRv4 through rapidocr-onnxruntime: DB text-line detection, then CTC recognition of each line.

    The models are the ONNX files inside the rapidocr-onnxruntime wheel (nothing is downloaded). They are loaded on
    first use (``version`` or ``read``), so once per process and in the worker's child; importing this module needs
    no rapidocr. ONNX Runtime runs one intra-op and one inter-op thread: the stages run one worker process per core.

    The 180° line classifier is off: the corpus never turns a line over (scans ±5°, photos ±3° plus perspective),
    and on the degraded pages tried it only flipped upright lines.

    rapidocr returns one quadrilateral per run of text, and a run ends at a wide gap: a table row comes back as one
    run per cell ("Glucose, Fasting" / "87" / "mg/dL"). The stages after OCR read a line as a printed row (Tesseract's
    lines, the tagger's training data), so the runs of one row are joined, left to right (:func:`group_rows`).
    Words get no box of their own from rapidocr here: each run's text is split on spaces and every word takes the
    part of the run's quadrilateral proportional to its characters (:func:`split_line`). The recogniser often reads
    no space between words ("Age/Sex:67Yrs/Male"), more often on degraded pages; such words come out as one.
    Putting spaces back where its character positions stand far apart was tried and not adopted.
    """

    @cached_property
    def _reader(self) -> Any:
        from rapidocr_onnxruntime import RapidOCR

        return RapidOCR(use_cls=False, intra_op_num_threads=1, inter_op_num_threads=1)

    @cached_property
    def version(self) -> str:
        """``rapidocr-onnxruntime-<version>-<det model>-<rec model>-rows`` (model files without ``.onnx``; runs joined).

        Asking for it loads the models (the worker's warm-up does).
        """
        from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
        from rapidocr_onnxruntime.utils import read_yaml

        _ = self._reader  # built from the same default configuration, so from the files named here
        config = read_yaml(DEFAULT_CFG_PATH)
        models = "-".join(Path(config[part]["model_path"]).stem for part in ("Det", "Rec"))
        return f"rapidocr-onnxruntime-{installed_version('rapidocr-onnxruntime')}-{models}-rows"

    def prepare(self, page: Image.Image) -> Prepared:
        return as_it_came(np.asarray(page.convert("L"), dtype=np.uint8))

    def read(self, prepared: Prepared) -> list[OcrLine]:
        found, _ = self._reader(prepared.image, use_cls=False)
        height, width = prepared.image.shape
        runs = []
        for quad, text, score in found or []:
            corners = tuple((float(x), float(y)) for x, y in quad)
            confidence = min(max(float(score), 0.0), 1.0)
            words = tuple(
                Word(text=word, bbox=_clip(box, width, height), confidence=confidence)
                for word, box in split_line(str(text), corners)
            )
            if words:
                runs.append(Run(quad=corners, words=words))
        return [join_words([word for run in row for word in run.words]) for row in group_rows(runs)]


@dataclass(frozen=True, slots=True)
class Run:
    """One run of text rapidocr found: its outline (top-left, top-right, bottom-right, bottom-left) and its words."""

    quad: tuple[Point, ...]
    words: tuple[Word, ...]

    @property
    def left(self) -> float:
        return min(x for x, _ in self.quad)

    @property
    def right(self) -> float:
        return max(x for x, _ in self.quad)

    @property
    def centre(self) -> Point:
        return sum(x for x, _ in self.quad) / 4, sum(y for _, y in self.quad) / 4

    @property
    def height(self) -> float:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self.quad
        return (float(np.hypot(x3 - x0, y3 - y0)) + float(np.hypot(x2 - x1, y2 - y1))) / 2

    @property
    def slope(self) -> float | None:
        """dy/dx of the run's centre line; None for a run taller than it is long (its direction says nothing)."""
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self.quad
        dx, dy = (x1 + x2 - x0 - x3) / 2, (y1 + y2 - y0 - y3) / 2
        return dy / dx if dx > self.height else None


def group_rows(runs: Sequence[Run]) -> list[list[Run]]:
    """The runs of each printed row, left to right; the rows top to bottom.

    Taken left to right, a run joins the row whose last run ends before it starts (half a line height of overlap
    allowed) and whose centre, carried along the page's slant to the run's centre, is within half a line height of
    it; the nearest such row, else a new one. The slant is the median slope of the runs long enough to have one, so
    the cells of a row on a page turned by a few degrees still meet across wide gaps.
    """
    slopes = [run.slope for run in runs if run.slope is not None]
    slant = float(np.median(slopes)) if slopes else 0.0

    def offset(row: list[Run], run: Run) -> float:
        (x0, y0), (x1, y1) = row[-1].centre, run.centre
        return abs(y0 + slant * (x1 - x0) - y1)

    def fits(row: list[Run], run: Run) -> bool:
        limit = min(run.height, row[-1].height) / 2
        return run.left >= row[-1].right - limit and offset(row, run) < limit

    rows: list[list[Run]] = []
    for run in sorted(runs, key=lambda r: r.left):
        candidates = [row for row in rows if fits(row, run)]
        if candidates:
            min(candidates, key=lambda row: offset(row, run)).append(run)
        else:
            rows.append([run])
    return sorted(rows, key=lambda row: row[0].centre[1] - slant * row[0].centre[0])


def split_line(text: str, quad: Sequence[Point]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Split a line on spaces and give each word the part of the line's outline proportional to its characters.

    Args:
        text: the line as read; runs of spaces separate words, leading and trailing spaces are ignored.
        quad: the line's outline, corners top-left, top-right, bottom-right, bottom-left (page pixels).

    Returns:
        ``(word, (x0, y0, x1, y1))`` per word in reading order: the box enclosing the stretch of the outline between
        the word's first and last character, where every character (spaces included) has the same width.
    """
    tl, tr, br, bl = (np.asarray(point, dtype=np.float64) for point in quad)
    words: list[tuple[str, tuple[float, float, float, float]]] = []
    start = 0
    for word in text.split(" "):
        if word:
            a, b = start / len(text), (start + len(word)) / len(text)
            corners = np.array([tl + (tr - tl) * a, tl + (tr - tl) * b, bl + (br - bl) * b, bl + (br - bl) * a])
            x0, y0 = corners.min(axis=0)
            x1, y1 = corners.max(axis=0)
            words.append((word, (float(x0), float(y0), float(x1), float(y1))))
        start += len(word) + 1
    return words


def _clip(box: Sequence[float], width: int, height: int) -> tuple[float, float, float, float]:
    """``box`` (x0, y0, x1, y1) cut to the page."""
    x0, y0, x1, y1 = box
    return (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height))


ENGINES: dict[str, Callable[[], Engine]] = {
    "tesseract-page": TesseractPageEngine,
    "tesseract-page-prepared": lambda: TesseractPageEngine(preprocess=True),
    "tesseract-page-prepared-cli": lambda: TesseractPageEngine(preprocess=True, backend="cli"),
    "rapidocr": RapidOcrEngine,
}
_loaded: dict[str, Engine] = {}


def get_engine(name: str | None = None) -> Engine:
    """Return the engine ``name`` (default: the ``RXLAB_OCR_ENGINE`` setting), created once per process."""
    name = name or get_settings().ocr_engine
    if name not in _loaded:
        _loaded[name] = ENGINES[name]()
    return _loaded[name]
