"""What the detector calls clutter (stamps) is painted out before OCR reads the page; nothing else is."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from services.ocr import pipeline
from services.ocr.engine import TesseractPageEngine
from services.ocr.preprocess import blank, prepare
from shared.contracts.names import Stage
from shared.contracts.stages import DetectOutput, PageRegions, Region
from shared.pages import PageLimits
from shared.stage_runner import StageInput
from shared.timing import StepTimer

LINES = ["Tab. Metformin 500 mg 1-0-1 x 30 days", "BLUE CROSS PHARMACY SEAL", "Hemoglobin 13.5 g/dL"]
#: Where the second row is printed on the page (x0, y0, x1, y1), before the page is turned.
STAMPED_ROW = (40.0, 250.0, 1300.0, 330.0)


def _page(angle: float = 0.0) -> Image.Image:
    image = Image.new("L", (1400, 700), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 40)
    for row, text in enumerate(LINES):
        draw.text((60, 120 + 150 * row), text, fill=0, font=font)
    if angle:
        gray = np.asarray(image, dtype=np.uint8)
        matrix = cv2.getRotationMatrix2D((700, 350), angle, 1.0)
        image = Image.fromarray(cv2.warpAffine(gray, matrix, (1400, 700), flags=cv2.INTER_CUBIC, borderValue=255))
    return image


def test_blank_paints_a_page_box_white_on_the_levelled_and_enlarged_image() -> None:
    # Photographed (the sheet on a darker desk, turned with it) and under 1300 px wide.
    small = np.asarray(_page().resize((700, 350), Image.Resampling.BILINEAR), dtype=np.uint8)
    matrix = cv2.getRotationMatrix2D((410, 235), 3.0, 1.0)
    photo = cv2.warpAffine(
        np.pad(small, 60, constant_values=80), matrix, (820, 470), flags=cv2.INTER_CUBIC, borderValue=80
    )
    prepared = prepare(np.asarray(photo, dtype=np.uint8))
    assert prepared.moved and prepared.angle != 0.0 and prepared.image.shape == (2 * 470, 2 * 820)  # enlarged
    x0, y0, x1, y1 = STAMPED_ROW
    corners = np.array([[x, y, 1.0] for x in (60 + x0 / 2, 60 + x1 / 2) for y in (60 + y0 / 2, 60 + y1 / 2)]) @ matrix.T
    half = (*(corners.min(axis=0) - 4), *(corners.max(axis=0) + 4))  # the row in the photo's pixels
    blanked = blank(prepared, [half])
    assert blanked.to_page is prepared.to_page and blanked.page_size == prepared.page_size
    assert not np.array_equal(blanked.image, prepared.image)
    texts = [line.text for line in TesseractPageEngine(preprocess=True).read(blanked)]
    assert texts == [LINES[0], LINES[2]]


def test_blank_with_no_boxes_is_the_prepared_page_itself() -> None:
    prepared = prepare(np.asarray(_page(), dtype=np.uint8))
    assert blank(prepared, []) is prepared


def _stage_input(regions: list[Region]) -> StageInput:
    page = _page()
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    detected = DetectOutput(
        model_version="test",
        pages=[PageRegions(page=1, width=page.width, height=page.height, regions=regions)],
        timings=StepTimer().timings(),
    )
    return StageInput(
        document_id="doc",
        requested_type="auto",
        original=buffer.getvalue(),
        limits=PageLimits(),
        outputs={Stage.DETECT: detected},
    )


def test_the_ocr_stage_does_not_read_a_confident_stamp_but_reads_the_rest() -> None:
    body = Region(cls="medication_line", bbox=(40.0, 100.0, 1300.0, 180.0), confidence=0.9)
    stamp = Region(cls="stamp", bbox=STAMPED_ROW, confidence=0.8)
    read = pipeline.run(_stage_input([body, stamp]))
    assert [line.text for line in read.lines] == [LINES[0], LINES[2]]
    assert read.lines[0].region_cls == "medication_line" and read.lines[1].region_cls is None


def test_an_unsure_stamp_and_other_classes_are_read() -> None:
    unsure = Region(cls="stamp", bbox=STAMPED_ROW, confidence=pipeline.CLUTTER_CONFIDENCE - 0.01)
    signature = Region(cls="signature", bbox=STAMPED_ROW, confidence=0.9)
    for regions in ([unsure], [signature]):
        read = pipeline.run(_stage_input(regions))
        assert [line.text for line in read.lines] == LINES


def test_the_stage_version_names_the_engine_and_what_it_paints_out() -> None:
    read = pipeline.run(_stage_input([]))
    assert read.model_version == f"{pipeline.get_engine().version}+blank-stamp0.5"
