"""Line boxes snapped to their ink: on a turned, shaded page, from rough boxes, as the corpus truth draws them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from services.detector.refine import WORD_GAP, refine_lines, snap_line
from shared.contracts.stages import Region
from training.corpus.degrade import rotation_homography, transform_box
from training.evaluation.scoring import iou

ROWS = ["Hemoglobin 13.5 g/dL 13.0 - 17.0", "Total RBC Count 4.52 10^6/uL", "Platelets 265 10^3/uL 150 - 450"]
Box = tuple[float, float, float, float]


def _page(rows: list[str], *, pitch: int = 44) -> tuple[np.ndarray, list[Box]]:
    """Rows drawn close together (as a lab table's), with their ink boxes as the corpus records them."""
    image = Image.new("L", (1000, 400), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 30)
    boxes = []
    for index, text in enumerate(rows):
        position = (80, 130 + pitch * index)
        draw.text(position, text, fill=0, font=font, anchor="ls")
        boxes.append(tuple(float(v) for v in draw.textbbox(position, text, font=font, anchor="ls")))
    return np.asarray(image, dtype=np.uint8), boxes  # type: ignore[return-value]


def _turned(gray: np.ndarray, boxes: list[Box], angle: float) -> tuple[np.ndarray, list[Box]]:
    """The page turned as the corpus degrades a scan, and the truth's boxes: upright boxes of the turned lines."""
    height, width = gray.shape
    matrix = rotation_homography(angle, width, height)
    turned = cv2.warpPerspective(gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=255)
    return np.asarray(turned, dtype=np.uint8), [transform_box(box, matrix, width, height) for box in boxes]


def _rough(box: Box) -> Box:
    """A box as the network gives it: a few pixels off on every side, a quarter short on the right."""
    x0, y0, x1, y1 = box
    return (x0 + 6, y0 + 5, x1 - 0.25 * (x1 - x0), y1 - 4)


def _lines(boxes: list[Box]) -> list[Region]:
    return [Region(cls="lab_row", bbox=box, confidence=0.9) for box in boxes]


@pytest.mark.parametrize("angle", [0.0, 1.5, -3.0])
def test_rough_boxes_of_turned_rows_become_the_truths_boxes(angle: float) -> None:
    gray, printed = _page(ROWS)
    page, truth = _turned(gray, printed, angle)
    refined = refine_lines(page, _lines([_rough(box) for box in truth]))
    assert [r.cls for r in refined] == ["lab_row"] * 3
    for region, box in zip(refined, truth, strict=True):
        assert iou(_rough(box), box) < 0.75  # what the network gave
        assert iou(region.bbox, box) > 0.9, (angle, region.bbox, box)


def test_a_shadow_does_not_join_the_rows() -> None:
    gray, printed = _page(ROWS)
    page, truth = _turned(gray, printed, 2.0)
    light = np.linspace(0.4, 1.0, page.shape[1], dtype=np.float32)[None, :]  # dark on the left, as a shadow
    shaded = np.asarray(page.astype(np.float32) * light, dtype=np.uint8)
    for region, box in zip(refine_lines(shaded, _lines([_rough(b) for b in truth])), truth, strict=True):
        assert iou(region.bbox, box) > 0.9, (region.bbox, box)


def test_a_near_word_joins_the_line_and_a_far_column_does_not() -> None:
    image = Image.new("L", (1400, 200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 30)
    line = draw.textbbox((80, 100), "Tab. Metformin 500 mg", font=font, anchor="ls")
    draw.text((80, 100), "Tab. Metformin 500 mg", fill=0, font=font, anchor="ls")
    core = 22  # about the height of this face's capitals at 30 px
    draw.text((line[2] + 4 * WORD_GAP * core, 100), "1-0-1", fill=0, font=font, anchor="ls")
    page = np.asarray(image, dtype=np.uint8)
    x0, y0, x1, y1 = (float(v) for v in line)
    cut = (x0, y0, x0 + 0.6 * (x1 - x0), y1)  # stops inside "500 mg": the words after it are near
    snapped = snap_line(page, cut)
    assert snapped[2] == pytest.approx(x1, abs=3)  # "mg" joined, the far "1-0-1" (a table's next column) not


def test_boxes_without_ink_and_other_classes_stay_as_they_came() -> None:
    gray = _page(ROWS)[0]
    blank_box = (500.0, 300.0, 900.0, 330.0)  # below the rows: paper only
    regions = [
        Region(cls="header", bbox=(70.0, 90.0, 700.0, 240.0), confidence=0.8),
        Region(cls="medication_line", bbox=blank_box, confidence=0.5),
    ]
    assert refine_lines(gray, regions) == regions


def test_two_boxes_of_one_row_become_one_the_more_confident() -> None:
    gray, printed = _page(ROWS)
    first, second = _rough(printed[0]), (printed[0][0] + 2, printed[0][1] + 3, printed[0][2] - 40, printed[0][3])
    regions = [
        Region(cls="lab_row", bbox=first, confidence=0.6),
        Region(cls="lab_row", bbox=second, confidence=0.8),
        Region(cls="lab_row", bbox=_rough(printed[1]), confidence=0.7),
    ]
    refined = refine_lines(gray, regions)
    assert [r.confidence for r in refined] == [0.8, 0.7]
    assert iou(refined[0].bbox, printed[0]) > 0.9


def test_specks_between_the_rows_do_not_stretch_a_line_into_the_paper() -> None:
    gray, printed = _page(ROWS)
    rng = np.random.default_rng(0)
    noisy = gray.copy()
    ys, xs = rng.integers(100, 250, size=400), rng.integers(80, 600, size=400)
    noisy[ys, xs] = 0  # single dark pixels, as JPEG noise and dust leave
    for region, box in zip(refine_lines(noisy, _lines([_rough(b) for b in printed])), printed, strict=True):
        assert iou(region.bbox, box) > 0.9, (region.bbox, box)


@pytest.mark.parametrize("fill", [0, 255, 128])
def test_a_page_of_one_colour_keeps_every_box_on_the_page(fill: int) -> None:
    page = np.full((300, 400), fill, dtype=np.uint8)
    boxes = [(10.0, 10.0, 200.0, 40.0), (350.0, 280.0, 400.0, 300.0), (0.0, 0.0, 1.0, 1.0)]
    for region in refine_lines(page, _lines(boxes)):
        x0, y0, x1, y1 = region.bbox
        assert 0 <= x0 <= x1 <= 400 and 0 <= y0 <= y1 <= 300
