"""Degradation geometry: boxes follow the pixels they enclose."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from training.corpus.degrade import (
    degrade_page,
    photo_homography,
    rotation_homography,
    transform_box,
    transform_points,
    warp,
)
from training.corpus.schema import RenderedLine, RenderedPage, RenderedRegion

WIDTH, HEIGHT = 600, 400
BOX = (150.0, 100.0, 400.0, 180.0)


def _rectangle_image() -> np.ndarray:
    image = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    image[100:180, 150:400] = 0
    return image


def _dark_box(image: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(image.mean(axis=2) < 128)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("angle", [5.0, -5.0, 2.5])
def test_rotated_box_covers_the_rotated_rectangle(angle: float) -> None:
    matrix = rotation_homography(angle, WIDTH, HEIGHT)
    warped = warp(_rectangle_image(), matrix, border=(255, 255, 255))
    moved = transform_box(BOX, matrix, WIDTH, HEIGHT)
    dark = _dark_box(warped)
    # Covers every dark pixel (interpolation may add one) and is no more than a pixel or two larger.
    assert moved[0] <= dark[0] + 1 and moved[1] <= dark[1] + 1
    assert moved[2] >= dark[2] - 1 and moved[3] >= dark[3] - 1
    assert all(abs(a - b) <= 2 for a, b in zip(moved, dark, strict=True)), (moved, dark)
    # The untransformed box would not do: the rectangle's corners moved out of it.
    assert not (BOX[0] <= dark[0] and BOX[1] <= dark[1] and BOX[2] >= dark[2] and BOX[3] >= dark[3])


def test_perspective_box_covers_the_warped_rectangle() -> None:
    matrix = photo_homography(np.random.default_rng(3), WIDTH, HEIGHT)
    warped = warp(_rectangle_image(), matrix, border=(255, 255, 255))
    moved = transform_box(BOX, matrix, WIDTH, HEIGHT)
    dark = _dark_box(warped)
    assert moved[0] <= dark[0] + 1 and moved[1] <= dark[1] + 1
    assert moved[2] >= dark[2] - 1 and moved[3] >= dark[3] - 1
    assert all(abs(a - b) <= 2 for a, b in zip(moved, dark, strict=True)), (moved, dark)


def test_boxes_are_clipped_to_the_page() -> None:
    matrix = rotation_homography(0.0, WIDTH, HEIGHT, scale=2.0)
    assert transform_box((0.0, 0.0, 600.0, 400.0), matrix, WIDTH, HEIGHT) == (0.0, 0.0, 600.0, 400.0)


@pytest.mark.parametrize("kind", ["scan", "photo"])
def test_degrade_page_moves_every_box_with_the_image(kind: str) -> None:
    page = RenderedPage(
        image=Image.fromarray(_rectangle_image()),
        dpi=100,
        regions=[RenderedRegion("medications", (140.0, 90.0, 410.0, 190.0))],
        lines=[RenderedLine("x", BOX, "medications", "other", [{"text": "x", "label": "O"}])],
    )
    result = degrade_page(page, np.random.default_rng(1), kind)  # type: ignore[arg-type]
    assert result.page.image.size == (WIDTH, HEIGHT)
    assert result.page.lines[0].bbox == transform_box(BOX, result.matrix, WIDTH, HEIGHT)
    assert result.page.regions[0].bbox == transform_box((140.0, 90.0, 410.0, 190.0), result.matrix, WIDTH, HEIGHT)
    quad = result.page.lines[0].quad
    assert quad is not None  # the line's own outline: its printed corners, warped; the box encloses it
    x0, y0, x1, y1 = BOX
    corners = transform_points(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float), result.matrix)
    assert np.allclose(np.array(quad), corners)
    box = result.page.lines[0].bbox
    assert min(x for x, _ in quad) == pytest.approx(box[0]) and max(y for _, y in quad) == pytest.approx(box[3])
    line, region = result.page.lines[0].bbox, result.page.regions[0].bbox
    assert region[0] <= line[0] and region[1] <= line[1] and line[2] <= region[2] and line[3] <= region[3]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_degraded_line_box_still_encloses_the_ink(seed: int) -> None:
    page = RenderedPage(
        image=Image.fromarray(_rectangle_image()),
        dpi=100,
        regions=[RenderedRegion("medications", (140.0, 90.0, 410.0, 190.0))],
        lines=[RenderedLine("x", BOX, "medications", "other", [{"text": "x", "label": "O"}])],
    )
    result = degrade_page(page, np.random.default_rng(seed), "scan")
    gray = cv2.medianBlur(cv2.cvtColor(np.asarray(result.page.image), cv2.COLOR_RGB2GRAY), 5)
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    biggest = max(range(1, count), key=lambda index: stats[index, cv2.CC_STAT_AREA])
    x, y, w, h = (int(v) for v in stats[biggest][:4])
    box = result.page.lines[0].bbox
    assert all(abs(a - b) <= 3 for a, b in zip(box, (x, y, x + w, y + h), strict=True)), (box, (x, y, w, h))
