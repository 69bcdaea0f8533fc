"""The rapidocr engine: words split from line outlines, a real read of a rendered page, the registry and setting."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image, ImageDraw, ImageFont
from pydantic import ValidationError

from services.ocr.engine import ENGINES, OcrLine, RapidOcrEngine, Run, get_engine, group_rows, split_line
from shared.contracts.stages import Word
from shared.settings import Settings

LINES = ["Tab. Metformin 500 mg 1-0-1 x 30 days", "Cap. Omeprazole 20 mg 1-0-0 before food", "Hemoglobin 13.5 g/dL"]
LEFT, TOP, PITCH = 60, 120, 150


def _printed_words(draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont) -> list[list[tuple[str, tuple]]]:
    """Each printed line's words with their ink boxes (page pixels), as PIL laid them out."""
    lines = []
    for row, text in enumerate(LINES):
        words, prefix = [], ""
        for word in text.split(" "):
            x = LEFT + draw.textlength(prefix, font=font)
            words.append((word, draw.textbbox((x, TOP + PITCH * row), word, font=font)))
            prefix += word + " "
        lines.append(words)
    return lines


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    """One engine for the module: the models load once."""
    return RapidOcrEngine()


@pytest.fixture(scope="module")
def page(engine: RapidOcrEngine) -> tuple[list[OcrLine], list[list[tuple[str, tuple]]]]:
    """One rendered page, read once."""
    image = Image.new("L", (1400, 700), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 40)
    for row, text in enumerate(LINES):
        draw.text((LEFT, TOP + PITCH * row), text, fill=0, font=font)
    return engine.read_page(image), _printed_words(draw, font)


def _run(text: str, x0: float, y0: float, x1: float, *, height: float = 30.0, slope: float = 0.0) -> Run:
    """A run of text whose top edge starts at (x0, y0) and climbs ``slope`` per pixel to x1."""
    y1 = y0 + slope * (x1 - x0)
    quad = ((x0, y0), (x1, y1), (x1, y1 + height), (x0, y0 + height))
    return Run(quad=quad, words=(Word(text=text, bbox=(x0, min(y0, y1), x1, max(y0, y1) + height), confidence=0.9),))


def test_split_line_gives_each_word_its_share_of_a_level_outline() -> None:
    # 10 characters over 100 px: 10 px each; "ab" is characters 1-2, "cdefg" 5-9 (the spaces count too).
    words = split_line(" ab  cdefg", [(0, 0), (100, 0), (100, 20), (0, 20)])
    assert words == [("ab", (10.0, 0.0, 30.0, 20.0)), ("cdefg", (50.0, 0.0, 100.0, 20.0))]


def test_split_line_follows_a_tilted_outline() -> None:
    # The outline climbs 10 px over its 80: "efg" (characters 5-7 of 8) starts 5/8 of the way along and up.
    words = split_line("abcd efg", [(0, 10), (80, 0), (80, 20), (0, 30)])
    assert words[0] == ("abcd", (0.0, 5.0, 40.0, 30.0))
    assert words[1] == ("efg", (50.0, 0.0, 80.0, 23.75))


def test_split_line_of_spaces_only_has_no_words() -> None:
    assert split_line("   ", [(0, 0), (10, 0), (10, 5), (0, 5)]) == []


def test_group_rows_joins_the_cells_of_a_table_row_left_to_right() -> None:
    runs = [
        _run("87", 600, 102, 640),
        _run("Glucose", 100, 100, 260),
        _run("mg/dL", 800, 98, 880),
        _run("PPBS", 100, 150, 170),
        _run("95", 600, 151, 640),
    ]
    rows = group_rows(runs)
    assert [[run.words[0].text for run in row] for row in rows] == [["Glucose", "87", "mg/dL"], ["PPBS", "95"]]


def test_group_rows_follows_the_page_slant_across_wide_gaps() -> None:
    # A page turned by ~4° (slope 0.07): 1000 px to the right, a row's cells are 70 px lower, more than a row pitch
    # (45 px) - level rows would take the right-hand cell for the next row's.
    slope = 0.07
    runs = []
    for row in range(3):
        top = 100 + 45 * row
        runs.append(_run(f"name{row}", 100, top, 500, slope=slope))
        runs.append(_run(f"value{row}", 1100, top + slope * 1000, 1200, slope=slope))
    rows = group_rows(runs)
    assert [[run.words[0].text for run in row] for row in rows] == [[f"name{r}", f"value{r}"] for r in range(3)]


def test_group_rows_keeps_overlapping_runs_apart() -> None:
    # Two runs at one height that overlap along it are two rows (one printed over the other, e.g. a stamp).
    rows = group_rows([_run("a", 100, 100, 400), _run("b", 300, 104, 600)])
    assert len(rows) == 2


def test_rapidocr_joins_the_cells_of_a_printed_table_row(engine: RapidOcrEngine) -> None:
    image = Image.new("L", (1400, 760), 255)  # short side at least 736 px: rapidocr enlarges smaller pages
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 36)
    cells = ((60, "Hemoglobin"), (600, "13.5"), (900, "g/dL"))
    for x, cell in cells:
        draw.text((x, 120), cell, fill=0, font=font)
    lines = engine.read_page(image)
    assert [line.text for line in lines] == ["Hemoglobin 13.5 g/dL"]
    for word, (x, _) in zip(lines[0].words, cells, strict=True):
        assert abs(word.bbox[0] - x) < 15


def test_rapidocr_reads_every_printed_line(page: tuple[list[OcrLine], list[list[tuple[str, tuple]]]]) -> None:
    lines, _ = page
    # The recogniser may drop a space ("Hemoglobin13.5g/dL"), never a character of these clean lines.
    assert [line.text.replace(" ", "") for line in lines] == [text.replace(" ", "") for text in LINES]
    assert lines[0].text == LINES[0]
    assert all(line.confidence > 0.9 for line in lines)
    for line in lines:
        assert line.text == " ".join(word.text for word in line.words)


def test_rapidocr_word_boxes_are_on_the_printed_words(
    page: tuple[list[OcrLine], list[list[tuple[str, tuple]]]],
) -> None:
    lines, printed = page
    for line, truth in zip(lines, printed, strict=True):
        # Every word box lies on its printed line (a few pixels of slack around the ink) ...
        _, (x0, y0, _, _) = truth[0]
        _, (_, _, x1, y1) = truth[-1]
        for word in line.words:
            assert x0 - 8 <= word.bbox[0] < word.bbox[2] <= x1 + 8
            assert y0 - 15 <= word.bbox[1] < word.bbox[3] <= y1 + 15
        # ... and where the words came out as printed, each box's centre is inside that word's ink.
        if [w.text for w in line.words] == [text for text, _ in truth]:
            for word, (_, ink) in zip(line.words, truth, strict=True):
                centre = ((word.bbox[0] + word.bbox[2]) / 2, (word.bbox[1] + word.bbox[3]) / 2)
                assert ink[0] <= centre[0] <= ink[2] and ink[1] <= centre[1] <= ink[3], (word.text, ink)


def test_rapidocr_version_names_the_package_and_model_files(engine: RapidOcrEngine) -> None:
    version = engine.version
    assert version.startswith("rapidocr-onnxruntime-1.")
    assert version.endswith("-ch_PP-OCRv4_det_infer-ch_PP-OCRv4_rec_infer-rows")


def test_the_setting_and_the_registry_accept_rapidocr() -> None:
    assert Settings(ocr_engine="rapidocr").ocr_engine == "rapidocr"
    with pytest.raises(ValidationError):
        Settings(ocr_engine="rapid-ocr")  # type: ignore[arg-type]
    assert "rapidocr" in ENGINES
    assert isinstance(get_engine("rapidocr"), RapidOcrEngine)


def test_the_tesseract_engines_need_no_rapidocr() -> None:
    # A fresh interpreter where rapidocr cannot be imported: the module, the registry and a tesseract engine work.
    code = (
        "import sys; sys.modules['rapidocr_onnxruntime'] = None\n"
        "from services.ocr.engine import get_engine\n"
        "assert get_engine('tesseract-page').version.startswith('tesseract-')\n"
        "engine = get_engine('rapidocr')\n"
        "try:\n    engine.version\nexcept ImportError:\n    print('no rapidocr')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no rapidocr"
