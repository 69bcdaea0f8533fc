"""OCR: Tesseract's word table grouped into lines, and a real Tesseract read of a rendered page."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from services.ocr.engine import TesseractPageEngine, group_lines
from services.ocr.pipeline import best_region
from shared.contracts.stages import Region


def test_group_lines_orders_words_and_skips_empty_rows() -> None:
    data = {
        "text": ["", "Tab.", "Dolo", "650", "Hb", "  "],
        "conf": [-1, 90, 80, 70, 95, -1],
        "left": [0, 10, 60, 120, 10, 0],
        "top": [0, 10, 12, 10, 50, 0],
        "width": [0, 40, 50, 30, 20, 0],
        "height": [0, 20, 20, 20, 18, 0],
        "block_num": [1, 1, 1, 1, 2, 2],
        "par_num": [1, 1, 1, 1, 1, 1],
        "line_num": [1, 1, 1, 1, 1, 1],
    }
    lines = group_lines(data)
    assert [line.text for line in lines] == ["Tab. Dolo 650", "Hb"]
    assert lines[0].bbox == (10.0, 10.0, 150.0, 32.0)
    assert abs(lines[0].confidence - 0.8) < 1e-9


def test_best_region_by_overlap() -> None:
    regions = [
        Region(cls="header", bbox=(0, 0, 100, 50), confidence=0.9),
        Region(cls="medication_line", bbox=(0, 50, 100, 100), confidence=0.9),
    ]
    assert best_region((10, 60, 90, 80), regions) == 1
    assert best_region((200, 200, 210, 210), regions) is None


def test_tesseract_reads_a_rendered_line() -> None:
    image = Image.new("RGB", (900, 120), "white")
    font = ImageFont.truetype("DejaVuSans.ttf", 36)
    ImageDraw.Draw(image).text((20, 30), "Tab. Metformin 500 mg 1-0-1", fill="black", font=font)
    lines = TesseractPageEngine().read_page(image)
    assert [line.text for line in lines] == ["Tab. Metformin 500 mg 1-0-1"]
    assert lines[0].confidence > 0.8
    x0, y0, _, y1 = lines[0].bbox
    assert 10 <= x0 <= 30 and 25 <= y0 <= 45 and y1 <= 90
