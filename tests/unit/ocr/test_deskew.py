"""Deskew: the estimated angle, the straightened read, and boxes mapped back to the original page."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from services.ocr.deskew import box_to_page, estimate_skew
from services.ocr.engine import TesseractPageEngine
from services.ocr.pipeline import read_straightened

LINES = [f"Tab. Metformin 500 mg 1-0-1 x {n} days" for n in (5, 10, 15, 30, 45, 60)]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def page() -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    image = Image.new("RGB", (1400, 900), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 30)
    boxes = []
    for index, text in enumerate(LINES):
        box = draw.textbbox((120, 120 + index * 110), text, font=font)
        draw.text((120, 120 + index * 110), text, font=font, fill="black")
        boxes.append(box)
    return image, boxes  # type: ignore[return-value]


@pytest.mark.parametrize("angle", [0.0, 2.5, -4.0])
def test_estimated_skew_is_the_applied_rotation(angle: float) -> None:
    image, _ = page()
    tilted = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    assert estimate_skew(tilted) == pytest.approx(angle, abs=0.2)


def test_box_mapping_follows_the_rotation() -> None:
    image, boxes = page()
    tilted = image.rotate(3.0, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    # A box on the level page lands, mapped, where the dark pixels of that line are on the tilted page.
    x0, y0, x1, y1 = box_to_page(boxes[0], angle=3.0, size=tilted.size)
    dark = np.asarray(tilted.convert("L")) < 128
    # The first line is alone in the top 190 rows of the tilted page.
    assert dark[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1].sum() >= 0.95 * dark[:190].sum()


def test_straightened_read_recovers_tilted_lines() -> None:
    image, boxes = page()
    tilted = image.rotate(4.0, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    engine = TesseractPageEngine()
    lines = read_straightened(engine, tilted, angle=estimate_skew(tilted))
    assert [line.text for line in lines] == LINES
    expected = box_to_page(boxes[2], angle=4.0, size=tilted.size)
    assert lines[2].bbox == pytest.approx(expected, abs=12)
