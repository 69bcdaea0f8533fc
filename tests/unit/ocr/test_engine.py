"""OCR: Tesseract's word table grouped into lines, and a real Tesseract read of a rendered page."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from services.ocr.engine import TesseractApi, TesseractPageEngine, group_lines, tsv_table
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


def test_tsv_table_reads_tesseract_rows_with_or_without_header() -> None:
    rows = [
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "4\t1\t1\t1\t1\t0\t10\t10\t140\t22\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t10\t40\t20\t91.5\tTab.",
        "5\t1\t1\t1\t1\t2\t60\t12\t50\t20\t80.25\tDolo",
        "5\t1\t1\t1\t1\t3\t120\t10\t30\t20\t95",  # Tesseract leaves the last cell out when it is empty
    ]
    for tsv in ("\n".join(rows), "\n".join(rows[1:])):
        table = tsv_table(tsv)
        assert table["text"] == ["", "Tab.", "Dolo", ""]
        assert table["conf"] == ["-1", "91.5", "80.25", "95"]
        assert [line.text for line in group_lines(table)] == ["Tab. Dolo"]


def _page() -> Image.Image:
    """A small rendered prescription, slightly blurred and turned: enough for Tesseract to be unsure of some words."""
    image = Image.new("L", (1100, 420), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 26)
    for row, text in enumerate(
        [
            "Dr. Asha Rao  Reg. No. 48213",
            "Tab. Metformin 500 mg 1-0-1 x 30 days",
            "Cap. Omeprazole 20 mg OD before food",
        ]
    ):
        draw.text((30, 40 + 110 * row), text, fill=0, font=font)
    return image.rotate(1.5, fillcolor=255, resample=Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1.2))


def _words(engine: TesseractPageEngine, image: Image.Image) -> list[list[tuple[str, tuple[float, ...], int]]]:
    """Each line's words, boxes and whole-percent confidences (pytesseract's table truncates them to integers)."""
    return [
        [(w.text, w.bbox, int(round(w.confidence * 100, 6))) for w in line.words]
        for line in engine.read(engine.prepare(image))
    ]


def test_api_reads_what_the_tesseract_command_reads() -> None:
    """In-process Tesseract (tesserocr) and the command pytesseract runs give the same words, boxes and confidences,
    on the page as it came and cleaned up: one engine, two ways of calling it (so one version)."""
    image = _page()
    for preprocess in (False, True):
        api = TesseractPageEngine(preprocess=preprocess, backend="api")
        cli = TesseractPageEngine(preprocess=preprocess, backend="cli")
        read = _words(api, image)
        assert read == _words(cli, image)
        assert "Metformin" in {w for line in read for w, _, _ in line}
        assert api.version == cli.version
        assert "-noinvert" in api.version


def _read_in_child(api: TesseractApi, pixels: np.ndarray, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(api.image_to_data(pixels)["text"])


def test_api_instance_is_made_again_in_a_forked_child() -> None:
    """A worker forked after the parent loaded the model reads with its own Tesseract, and reads the same."""
    api = TesseractApi(lang="eng", psm=6)
    pixels = np.asarray(_page(), dtype=np.uint8)
    words = api.image_to_data(pixels)["text"]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(api, pixels, queue))
    child.start()
    assert queue.get(timeout=60) == words
    child.join(timeout=30)
    assert child.exitcode == 0


def test_api_refuses_an_unknown_variable() -> None:
    api = TesseractApi(lang="eng", psm=6, variables={"no_such_variable": "1"})
    with pytest.raises(ValueError, match="no_such_variable"):
        api.image_to_data(np.full((40, 40), 255, dtype=np.uint8))
