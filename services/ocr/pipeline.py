"""OCR stage: read the text of each page and attach every line to the detected region it falls in.

The page is read whole, in one engine call (not region by region: crops of slightly skewed rows catch pieces of
their neighbours, and the command-line engine would start a process per crop). What the detector found to be
clutter (``CLUTTER``: stamps, whose ink Tesseract reads as stray words) is painted white first; with the whole-page
detector nothing is.
"""

from __future__ import annotations

from services.ocr.engine import OcrLine, get_engine
from services.ocr.preprocess import blank
from shared.contracts.names import Stage
from shared.contracts.stages import DetectOutput, OcrOutput, Region, TextLine
from shared.stage_runner import StageInput
from shared.timing import StepTimer

#: Detected region classes the OCR stage does not read, found with at least this confidence.
CLUTTER = frozenset({"stamp"})
CLUTTER_CONFIDENCE = 0.5
#: Named in the stage's version after the engine's (provenance): what it paints out and from what confidence.
CLUTTER_VERSION = f"blank-{'-'.join(sorted(CLUTTER))}{CLUTTER_CONFIDENCE}"


def version() -> str:
    """The OCR stage's version: the engine's, then what the stage paints out before it reads."""
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
            prepared = blank(prepared, clutter(page_regions.regions))
        with timer.step("infer"):
            read = engine.read(prepared)
        with timer.step("postprocess"):
            lines.extend(_assign(line, page=page_regions.page, regions=page_regions.regions) for line in read)
    return OcrOutput(model_version=version(), lines=lines, timings=timer.timings())


def clutter(regions: list[Region]) -> list[tuple[float, float, float, float]]:
    """The boxes of the regions not to read."""
    return [r.bbox for r in regions if r.cls in CLUTTER and r.confidence >= CLUTTER_CONFIDENCE]


def _assign(line: OcrLine, *, page: int, regions: list[Region]) -> TextLine:
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


def best_region(bbox: tuple[float, float, float, float], regions: list[Region]) -> int | None:
    """Index of the region covering most of ``bbox`` (None if it touches none)."""
    best, best_area = None, 0.0
    for index, region in enumerate(regions):
        x0, y0 = max(bbox[0], region.bbox[0]), max(bbox[1], region.bbox[1])
        x1, y1 = min(bbox[2], region.bbox[2]), min(bbox[3], region.bbox[3])
        area = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        if area > best_area:
            best, best_area = index, area
    return best
