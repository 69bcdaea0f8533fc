"""Detect stage: decode the pages, find the regions worth reading, in reading order."""

from __future__ import annotations

from services.detector.model import get_detector
from shared.contracts.stages import DetectOutput, PageRegions
from shared.stage_runner import StageInput
from shared.timing import StepTimer


def warm_up() -> None:
    """Load the detector once in this process."""
    get_detector()


def run(stage_input: StageInput) -> DetectOutput:
    """Detect the regions of every page of the document."""
    timer = StepTimer()
    detector = get_detector()
    with timer.step("preprocess"):
        pages = stage_input.pages
    with timer.step("infer"):
        regions = detector.detect(pages)
    with timer.step("postprocess"):
        result = [
            PageRegions(page=index + 1, width=page.width, height=page.height, regions=page_regions)
            for index, (page, page_regions) in enumerate(zip(pages, regions, strict=True))
        ]
    return DetectOutput(model_version=detector.version, pages=result, timings=timer.timings())
