"""Page clean-up before OCR: light evened out, rows levelled, word boxes taken back to the page as it came."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from services.ocr.engine import TesseractPageEngine
from services.ocr.preprocess import Bend, normalise_light, pair_counts, prepare, skew_search

LINES = ["Tab. Metformin 500 mg 1-0-1 x 30 days", "Cap. Omeprazole 20 mg 1-0-0 before food", "Hemoglobin 13.5 g/dL"]


def _page(
    lines: list[str] = LINES,
    *,
    size: tuple[int, int] = (1400, 700),
    font_size: int = 40,
    at: tuple[int, int, int] = (60, 120, 150),
) -> np.ndarray:
    """``lines`` printed black on white: left margin, first row's top and row pitch ``at``."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", font_size)
    left, top, pitch = at
    for row, text in enumerate(lines):
        draw.text((left, top + pitch * row), text, fill=0, font=font)
    return np.asarray(image, dtype=np.uint8)


def _turned(gray: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    height, width = gray.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    turned = cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_CUBIC, borderValue=255)
    return np.asarray(turned, dtype=np.uint8), np.asarray(matrix, dtype=np.float64)


def test_light_normalisation_takes_a_shadow_off_the_paper_and_keeps_the_ink() -> None:
    page = _page().astype(np.float32)
    light = np.linspace(0.45, 1.0, page.shape[1], dtype=np.float32)[None, :]  # dark on the left, as a shadow
    shaded = np.asarray(page * light, dtype=np.uint8)
    even = normalise_light(shaded)
    ink = _page() < 128
    assert np.ptp(shaded[~ink]) > 100  # the paper goes from grey to white before
    paper = even[~ink]
    assert np.percentile(paper, 5) > 225  # and is white everywhere after
    assert np.median(even[ink]) < 100  # while the ink stays dark, on the shadowed side too
    assert np.median(even[:, :300][ink[:, :300]]) < 120


@pytest.mark.parametrize("angle", [-4.0, -1.5, 2.0, 5.0])
def test_skew_search_finds_the_rotation_that_levels_the_rows(angle: float) -> None:
    turned, _ = _turned(_page(), angle)
    assert skew_search(turned).angle == pytest.approx(-angle, abs=0.3)


def test_the_projected_search_picks_the_angle_that_turning_the_ink_image_did() -> None:
    from services.ocr import preprocess

    def reference(gray: np.ndarray) -> float:  # the search before it projected the ink's pixels (2026-12-06)
        ink = cv2.threshold(255 - gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
        small = cv2.resize(ink, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        height, width = small.shape
        scores = []
        for angle in np.arange(-preprocess.MAX_SKEW, preprocess.MAX_SKEW + preprocess.SKEW_STEP / 2, 0.25):
            matrix = cv2.getRotationMatrix2D((width / 2, height / 2), float(angle), 1.0)
            profile = cv2.warpAffine(small, matrix, (width, height)).sum(axis=1, dtype=np.float64)
            scores.append((float(np.sum(np.diff(profile) ** 2)), -len(scores), float(angle)))
        return max(scores)[2]  # the first of the sharpest, as skew_search keeps it

    # A wide page, and one whose rows run off its edges when turned (the turned pixels outside the frame drop out).
    wide = np.asarray(cv2.resize(_page(), (4200, 700), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    tight = np.asarray(_page()[80:480, 40:1000], dtype=np.uint8)
    for page in (_page(), wide, tight):
        for angle in (-5.2, -3.3, 0.0, 0.6, 1.1, 4.6):
            turned, _ = _turned(page, angle)
            assert skew_search(turned).angle == reference(turned)


def _light_reference(gray: np.ndarray) -> np.ndarray:
    """The light normalisation before it worked on (gray, paper) pairs (2026-12-06): float32 images of the page."""
    from services.ocr import preprocess

    paper = preprocess.paper_brightness(gray)[0]
    ratio = gray.astype(np.float32) / np.maximum(paper.astype(np.float32), 1.0)
    ink = min(float(np.percentile(ratio, preprocess.INK_PERCENTILE)), preprocess.PAPER_SHARE - 0.2)
    share = preprocess.PAPER_SHARE
    return np.asarray(np.clip((ratio - ink) / (share - ink) * 255.0, 0, 255), dtype=np.uint8)


def test_light_normalisation_gives_the_bytes_the_float_images_gave() -> None:
    rng = np.random.default_rng(5)
    page = _page().astype(np.float32)
    light = np.linspace(0.45, 1.0, page.shape[1], dtype=np.float32)[None, :]
    shaded = np.clip(page * light + rng.normal(0, 12, page.shape), 0, 255).astype(np.uint8)
    faint = np.asarray(170 + _page() * (60 / 255), dtype=np.uint8)  # grey ink on grey paper
    blank = np.full((300, 400), 233, dtype=np.uint8)  # no ink: the percentile falls between equal ratios
    for gray in (_page(), shaded, faint, blank, rng.integers(0, 256, (97, 131), dtype=np.uint8)):
        assert np.array_equal(normalise_light(gray), _light_reference(gray))


def test_the_paper_smoothed_small_is_within_four_levels_of_the_full_size_blur() -> None:
    from services.ocr import preprocess

    rng = np.random.default_rng(3)
    page = _page(size=(1403, 997))  # sides that do not divide by the scale
    photo = np.full(page.shape, 70, dtype=np.uint8)  # the sheet on a dark table: the sharpest light there is
    photo[60:-80, 90:-50] = page[60:-80, 90:-50]
    photo = np.clip(photo + rng.normal(0, 8, page.shape), 0, 255).astype(np.uint8)
    for gray in (page, photo):  # at 1/8 of the size the photo's comes 12 levels off
        quiet = cv2.medianBlur(gray, 3)
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (preprocess.LIGHT_KERNEL, preprocess.LIGHT_KERNEL))
        full = cv2.GaussianBlur(cv2.morphologyEx(quiet, cv2.MORPH_CLOSE, kernel), (0, 0), preprocess.LIGHT_SIGMA)
        paper = preprocess.paper_brightness(gray)[0]
        assert paper.shape == gray.shape and paper.dtype == np.uint8
        assert np.abs(paper.astype(int) - full).max() <= 4


def test_the_ratio_percentile_is_numpys_of_the_ratios_themselves() -> None:
    from services.ocr.preprocess import ratio_percentile

    rng = np.random.default_rng(11)
    for size in (1, 2, 3, 7, 50, 101, 499):  # small: the two order statistics differ and are interpolated
        for _ in range(40):
            gray, paper = rng.integers(0, 256, (2, size), dtype=np.uint8)
            ratio = gray.astype(np.float32) / np.maximum(paper.astype(np.float32), 1.0)
            counts = np.bincount((gray.astype(np.uint16) << 8) | paper, minlength=65536)
            for percentile in (1.0, 37.5, 50.0, 99.0):
                assert ratio_percentile(counts, percentile) == float(np.percentile(ratio, percentile))


def test_a_level_page_is_left_as_it_is() -> None:
    prepared = prepare(_page())
    assert prepared.angle == 0.0
    assert np.array_equal(prepared.to_page, [[1, 0, 0], [0, 1, 0]])


def test_a_page_without_ink_is_left_as_it_is() -> None:
    for gray in (np.full((300, 1400), 255, dtype=np.uint8), np.full((300, 1400), 140, dtype=np.uint8)):
        prepared = prepare(gray)
        assert prepared.angle == 0.0 and not prepared.moved


def test_on_page_takes_a_levelled_box_back_onto_the_turned_page() -> None:
    turned, matrix = _turned(_page(), 3.0)
    prepared = prepare(turned)
    # A point of the original page, turned, then levelled again by prepare, comes back where it was turned to.
    point = np.array([700.0, 270.0])
    on_turned = matrix[:, :2] @ point + matrix[:, 2]
    levelled = cv2.invertAffineTransform(prepared.to_page)
    on_prepared = levelled[:, :2] @ on_turned + levelled[:, 2]
    assert prepared.bend is None
    x0, y0, x1, y1 = prepared.on_page((on_prepared[0] - 1, on_prepared[1] - 1, on_prepared[0] + 1, on_prepared[1] + 1))
    assert x0 <= on_turned[0] <= x1 and y0 <= on_turned[1] <= y1
    assert x1 - x0 < 4 and y1 - y0 < 4


def test_tesseract_reads_a_turned_shaded_page_and_boxes_land_on_its_rows() -> None:
    turned, matrix = _turned(_page(), 4.0)
    shaded = np.asarray(turned.astype(np.float32) * np.linspace(0.5, 1.0, turned.shape[0])[:, None], dtype=np.uint8)
    lines = TesseractPageEngine(preprocess=True).read_page(Image.fromarray(shaded))
    assert [line.text for line in lines] == LINES
    for row, line in enumerate(lines):
        first = line.words[0]
        # The first word's box (page pixels of the turned page) holds where its printed start went.
        start = matrix[:, :2] @ np.array([80.0, 145.0 + 150 * row]) + matrix[:, 2]
        assert first.bbox[0] - 15 <= start[0] <= first.bbox[2] and first.bbox[1] <= start[1] <= first.bbox[3]


def test_faint_ink_on_grey_paper_comes_out_black_on_white() -> None:
    page = _page().astype(np.float32)
    faint = np.asarray(150 + page * (60 / 255), dtype=np.uint8)  # ink 150, paper 210: a washed-out scan
    even = normalise_light(faint)
    ink = _page() < 128
    assert np.median(even[ink]) < 60
    assert np.percentile(even[~ink], 5) > 240


def test_a_small_photographed_page_is_read_enlarged_and_its_boxes_come_back_at_page_size() -> None:
    small = cv2.resize(_page(), (700, 350), interpolation=cv2.INTER_AREA)  # the page at half the resolution
    photo = np.pad(small, 60, constant_values=80)  # on a darker desk: 820 × 470, a third of it desk
    prepared = prepare(photo)
    assert prepared.image.shape == (940, 1640)
    assert prepared.moved and prepared.page_size == (820, 470)
    assert prepared.on_page((100.0, 200.0, 300.0, 240.0)) == pytest.approx((50.0, 100.0, 150.0, 120.0))
    lines = TesseractPageEngine(preprocess=True).read_page(Image.fromarray(photo))
    assert [line.text for line in lines] == LINES
    for row, line in enumerate(lines):
        top, bottom = line.bbox[1], line.bbox[3]
        assert top <= 60 + (145 + 150 * row) / 2 <= bottom  # the row's middle, in the photo's pixels
        assert line.bbox[2] <= 820


def test_a_small_scanned_page_is_read_at_its_size() -> None:
    small = cv2.resize(_page(), (700, 350), interpolation=cv2.INTER_AREA)
    prepared = prepare(small)  # no desk around it: scanned (or made) at that size
    assert prepared.image.shape == (350, 700) and not prepared.moved
    lines = TesseractPageEngine(preprocess=True).read_page(Image.fromarray(small))
    assert [line.text for line in lines] == LINES


def test_pair_counts_are_numpys_bincount_of_the_pairs() -> None:
    rng = np.random.default_rng(5)
    pair = rng.integers(0, 65536, size=(700, 900), dtype=np.uint16)
    pair[:100] = 65535  # the last bin, and a crowded one
    pair[100:200] = 0
    assert np.array_equal(pair_counts(pair), np.bincount(pair.ravel(), minlength=65536))


ROWS = [f"{n}. Tab. Metformin {100 * n} mg 1-0-1 x {n} days" for n in range(1, 15)]


def _rows() -> np.ndarray:
    return _page(ROWS, size=(1400, 2000), font_size=36, at=(80, 100, 130))


def _fanned() -> tuple[np.ndarray, np.ndarray]:
    """A page of 14 rows photographed at a slant: its top edge slopes down to the right, its bottom edge up."""
    src = np.array([[0, 0], [1400, 0], [1400, 2000], [0, 2000]], dtype=np.float32)
    dst = np.array([[30, 20], [1370, 80], [1350, 1930], [50, 1990]], dtype=np.float32)
    matrix = np.asarray(cv2.getPerspectiveTransform(src, dst), dtype=np.float64)
    page = cv2.warpPerspective(_rows(), matrix, (1400, 2000), flags=cv2.INTER_CUBIC, borderValue=255)
    return np.asarray(page, dtype=np.uint8), matrix


def _band_heights(gray: np.ndarray) -> list[int]:
    """The heights of the runs of rows holding ink: a level row of text is one run about a line high."""
    inked = (gray < 128).sum(axis=1) > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inked.astype(np.int8), [0]])))
    return [int(end - start) for start, end in zip(edges[::2], edges[1::2], strict=True)]


def test_a_bend_scales_with_its_page() -> None:
    bend = Bend(slope=0.02, spread=-2e-5, centre=700.0)
    x, y = np.array([0.0, 350.0, 1399.0]), np.array([5.0, 1000.0, 1990.0])
    assert bend.scaled(2).source_y(2 * x, 2 * y) == pytest.approx(2 * bend.source_y(x, y))


def test_a_fanned_page_is_bent_straight_and_its_boxes_come_back_onto_it() -> None:
    page, matrix = _fanned()
    prepared = prepare(page)
    assert prepared.bend is not None and prepared.moved
    # The top edge slopes 60/1340, the bottom one -60/1300: the rows turn by about 5° down the page.
    change = np.degrees(np.arctan(prepared.bend.spread * 1800))
    assert -6.0 < change < -3.5
    # Every row is level again: its band of ink one line high (33 px), where the rows near the top and the bottom of
    # the photographed page (levelled as a whole, it needs no turn) slope across 50 px and more.
    assert max(_band_heights(page)) > 50
    assert len(_band_heights(prepared.image)) == len(ROWS)
    assert max(_band_heights(prepared.image)) <= 35
    lines = TesseractPageEngine(preprocess=True).read_page(Image.fromarray(page))
    assert [line.text for line in lines] == ROWS
    for row, line in enumerate(lines):
        # The first word's box (page pixels of the photographed page) holds where its printed start went.
        start = cv2.perspectiveTransform(np.array([[[84.0, 118.0 + 130 * row]]]), matrix)[0, 0]
        x0, y0, x1, y1 = line.words[0].bbox
        assert x0 - 5 <= start[0] <= x1 and y0 <= start[1] <= y1


def test_pages_turned_as_a_whole_are_not_bent() -> None:
    for angle in (-4.0, 0.0, 2.5):
        turned, _ = _turned(_rows(), angle)
        assert prepare(turned).bend is None
