"""What the detector calls clutter (stamps) is dropped from what OCR read, after reading; nothing else is."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from services.ocr import pipeline
from services.ocr.engine import join_words
from shared.contracts.names import Stage
from shared.contracts.stages import DetectOutput, PageRegions, Region, Word
from shared.pages import PageLimits
from shared.stage_runner import StageInput
from shared.timing import StepTimer

LINES = ["Tab. Metformin 500 mg 1-0-1 x 30 days", "BLUE CROSS PHARMACY SEAL", "Hemoglobin 13.5 g/dL"]
#: Where the second row is printed on the page (x0, y0, x1, y1).
STAMPED_ROW = (40.0, 250.0, 1300.0, 330.0)


def _page() -> Image.Image:
    image = Image.new("L", (1400, 700), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 40)
    for row, text in enumerate(LINES):
        draw.text((60, 120 + 150 * row), text, fill=0, font=font)
    return image


def _word(text: str, bbox: tuple[float, float, float, float]) -> Word:
    return Word(text=text, bbox=bbox, confidence=0.9)


def test_words_inside_a_confident_stamp_are_dropped_and_a_line_keeps_the_rest() -> None:
    stamp = Region(cls="stamp", bbox=(500.0, 100.0, 700.0, 300.0), confidence=0.8)
    mixed = join_words([_word("Sign", (300.0, 150.0, 380.0, 180.0)), _word("CLINIC", (520.0, 150.0, 640.0, 180.0))])
    inked = join_words([_word("INDORE", (540.0, 220.0, 660.0, 250.0))])
    clear = join_words([_word("Metformin", (100.0, 400.0, 300.0, 430.0))])
    kept = pipeline.drop_clutter([mixed, inked, clear], [stamp])
    assert [line.text for line in kept] == ["Sign", "Metformin"]
    assert kept[0].bbox == (300.0, 150.0, 380.0, 180.0) and kept[1] is clear


def test_words_of_a_row_a_stamp_was_pressed_over_are_kept() -> None:
    stamp = Region(cls="stamp", bbox=(500.0, 100.0, 700.0, 300.0), confidence=0.8)
    row = Region(cls="medication_line", bbox=(80.0, 140.0, 900.0, 190.0), confidence=0.6)
    line = join_words([_word("Tab.", (90.0, 150.0, 150.0, 180.0)), _word("500", (560.0, 150.0, 620.0, 180.0))])
    stray = join_words([_word("INDORE", (540.0, 220.0, 660.0, 250.0))])
    assert pipeline.drop_clutter([line, stray], [stamp, row]) == [line]


def test_a_word_half_outside_the_stamp_is_kept_and_an_unsure_stamp_drops_nothing() -> None:
    stamp = Region(cls="stamp", bbox=(500.0, 100.0, 700.0, 300.0), confidence=0.8)
    edge = join_words([_word("Dr.", (440.0, 150.0, 540.0, 180.0))])  # 40 of its 100 px inside
    assert pipeline.drop_clutter([edge], [stamp]) == [edge]
    unsure = Region(cls="stamp", bbox=stamp.bbox, confidence=pipeline.CLUTTER_CONFIDENCE - 0.01)
    inked = join_words([_word("INDORE", (540.0, 220.0, 660.0, 250.0))])
    assert pipeline.drop_clutter([inked], [unsure]) == [inked]


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


def test_the_ocr_stage_drops_a_confident_stamps_words_but_reads_the_rest() -> None:
    body = Region(cls="medication_line", bbox=(40.0, 100.0, 1300.0, 180.0), confidence=0.9)
    stamp = Region(cls="stamp", bbox=STAMPED_ROW, confidence=0.8)
    read = pipeline.run(_stage_input([body, stamp]))
    assert [line.text for line in read.lines] == [LINES[0], LINES[2]]
    assert read.lines[0].region_cls == "medication_line" and read.lines[1].region_cls is None


def test_the_ocr_stage_reads_a_row_under_a_stamp() -> None:
    row = Region(cls="lab_row", bbox=(40.0, 255.0, 1300.0, 325.0), confidence=0.7)
    stamp = Region(cls="stamp", bbox=STAMPED_ROW, confidence=0.8)
    read = pipeline.run(_stage_input([stamp, row]))
    assert [line.text for line in read.lines] == LINES
    assert read.lines[1].region_cls == "lab_row"


def test_an_unsure_stamp_and_other_classes_are_read() -> None:
    unsure = Region(cls="stamp", bbox=STAMPED_ROW, confidence=pipeline.CLUTTER_CONFIDENCE - 0.01)
    signature = Region(cls="signature", bbox=STAMPED_ROW, confidence=0.9)
    for regions in ([unsure], [signature]):
        read = pipeline.run(_stage_input(regions))
        assert [line.text for line in read.lines] == LINES


def test_the_stage_version_names_the_engine_and_what_it_drops() -> None:
    read = pipeline.run(_stage_input([]))
    assert read.model_version == f"{pipeline.get_engine().version}+drop-stamp0.5-words"
