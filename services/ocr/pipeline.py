"""OCR stage: read the text of each page and attach every line to the detected region it falls in.

The page is read whole, in one engine call (not region by region: crops of slightly skewed rows catch pieces of
their neighbours, and the command-line engine would start a process per crop). Of what it read, the words inside
what the detector found to be clutter (``CLUTTER``: stamps, whose ink Tesseract reads as stray words) are dropped,
unless they also lie in a region of another class (a row or a caption a stamp was pressed over); with the
whole-page detector nothing is.

The words are dropped after reading, not painted out before it: Tesseract reads the whole page differently once
any of it changes. Painting the stamps white changed lines far from them (on one degraded val page, 16 of the 27
lines clear of its stamp), so the fields came out better on some pages and worse on others, and the stamp's own box
also held pieces of the rows it was pressed over (docs/evaluation.md, 2026-12-07).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.ocr.engine import OcrLine, get_engine, join_words
from shared.contracts.names import Stage
from shared.contracts.stages import DetectOutput, OcrOutput, Region, TextLine
from shared.stage_runner import StageInput
from shared.timing import StepTimer

#: Detected region classes whose words the OCR stage drops, found with at least this confidence.
CLUTTER = frozenset({"stamp"})
CLUTTER_CONFIDENCE = 0.5
#: How much of a word's box must lie inside a region for the word to count as in it.
INSIDE = 0.5
#: Named in the stage's version after the engine's (provenance): what it drops and from what confidence.
CLUTTER_VERSION = f"drop-{'-'.join(sorted(CLUTTER))}{CLUTTER_CONFIDENCE}-words"


def version() -> str:
    """The OCR stage's version: the engine's, then which words the stage drops from what it read."""
    return f"{get_engine().version}+{CLUTTER_VERSION}"


def warm_up() -> None:
    """Create the engine and ask for its version once in this process (runs Tesseract; loads rapidocr's models)."""
    _ = get_engine().version


def run(stage_input: StageInput) -> OcrOutput:
    """Read every page; lines keep page coordinates and the index/class of their region."""
    timer = StepTimer()
    engine = get_engine()
    detected: DetectOutput = stage_input.output(Stage.DETECT, DetectOutput)
    lines: list[TextLine] = []
    with timer.step("preprocess"):
        pages = stage_input.pages
    for page_regions, image in zip(detected.pages, pages, strict=True):
        with timer.step("preprocess"):
            prepared = engine.prepare(image)
        with timer.step("infer"):
            read = engine.read(prepared)
        with timer.step("postprocess"):
            regions = page_regions.regions
            # A line kept from under a stamp is the stamp's only if it touches no other region.
            read_regions = [None if is_clutter(r) else r for r in regions]
            lines.extend(
                _assign(line, page=page_regions.page, regions=regions, read_regions=read_regions)
                for line in drop_clutter(read, regions)
            )
    return OcrOutput(model_version=version(), lines=lines, timings=timer.timings())


def is_clutter(region: Region) -> bool:
    """Whether the region is clutter, found confidently enough to drop its words."""
    return region.cls in CLUTTER and region.confidence >= CLUTTER_CONFIDENCE


def clutter(regions: list[Region]) -> list[tuple[float, float, float, float]]:
    """The boxes of the regions not to read."""
    return [r.bbox for r in regions if is_clutter(r)]


def drop_clutter(read: list[OcrLine], regions: list[Region]) -> list[OcrLine]:
    """The lines read without the words inside clutter (and in no other region); a line left empty goes."""
    boxes = clutter(regions)
    if not boxes:
        return read
    others = [r.bbox for r in regions if r.cls not in CLUTTER]
    kept = []
    for line in read:
        words = [w for w in line.words if not (_inside_any(w.bbox, boxes) and not _inside_any(w.bbox, others))]
        if len(words) == len(line.words):
            kept.append(line)
        elif words:
            kept.append(join_words(words))
    return kept


def _inside_any(bbox: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]]) -> bool:
    """Whether at least ``INSIDE`` of ``bbox`` lies in one of ``boxes``."""
    area = max(bbox[2] - bbox[0], 0.0) * max(bbox[3] - bbox[1], 0.0)
    return area > 0 and any(_overlap(bbox, box) >= INSIDE * area for box in boxes)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _assign(line: OcrLine, *, page: int, regions: list[Region], read_regions: Sequence[Region | None]) -> TextLine:
    """The line in the region of ``read_regions`` (the regions, clutter as None) covering most of it, else in any."""
    index = best_region(line.bbox, read_regions)
    if index is None:
        index = best_region(line.bbox, regions)
    return TextLine(
        page=page,
        text=line.text,
        bbox=line.bbox,
        confidence=line.confidence,
        region_index=index,
        region_cls=regions[index].cls if index is not None else None,
        words=list(line.words),
    )


def best_region(bbox: tuple[float, float, float, float], regions: Sequence[Region | None]) -> int | None:
    """Index of the region covering most of ``bbox`` (None if it touches none; a None region is skipped)."""
    best, best_area = None, 0.0
    for index, region in enumerate(regions):
        if region is None:
            continue
        area = _overlap(bbox, region.bbox)
        if area > best_area:
            best, best_area = index, area
    return best
