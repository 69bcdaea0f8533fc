"""Degradations that make a clean page look scanned or photographed, with the geometry applied to the boxes too.

Geometry is one homography per page (a scan's small rotation and shift, or a phone photo's perspective), applied to
the image with OpenCV and to every box by transforming its four corners and taking the enclosing axis-aligned box,
clipped to the page. If the warp would push content off the page, the page is first shrunk about its centre, so
nothing that has a box is cut. Photometric effects (light, shadow, contrast, blur, noise, JPEG) follow; they move
no pixel far, so the boxes stay valid.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from training.corpus.schema import Box, Quad, RenderedPage

Kind = Literal["scan", "photo"]
Matrix = np.ndarray


def rotation_homography(angle_degrees: float, width: int, height: int, *, scale: float = 1.0) -> Matrix:
    """Rotation (counter-clockwise, degrees) and scale about the page centre, as a 3×3 homography."""
    affine = np.asarray(cv2.getRotationMatrix2D((width / 2, height / 2), angle_degrees, scale), dtype=np.float64)
    return np.vstack([affine, [0.0, 0.0, 1.0]])


def scan_homography(rng: np.random.Generator, width: int, height: int) -> Matrix:
    """A flatbed scan: rotation up to ±5° (mostly small), slight scale and shift."""
    angle = float(np.clip(rng.normal(0.0, 1.8), -5.0, 5.0))
    matrix = rotation_homography(angle, width, height, scale=float(rng.uniform(0.96, 1.0)))
    shift = np.array([[1, 0, rng.uniform(-0.01, 0.01) * width], [0, 1, rng.uniform(-0.01, 0.01) * height], [0, 0, 1]])
    return np.asarray(shift @ matrix, dtype=np.float64)


def photo_homography(rng: np.random.Generator, width: int, height: int) -> Matrix:
    """A phone photo: the page's corners pulled in by uneven amounts (perspective), plus a small rotation."""
    src = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    inset = rng.uniform(0.02, 0.08, size=(4, 2)) * np.array([width, height])
    dst = (src + inset * np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])).astype(np.float32)
    matrix = np.asarray(cv2.getPerspectiveTransform(src, dst), dtype=np.float64)
    return rotation_homography(float(rng.uniform(-3.0, 3.0)), width, height) @ matrix


def transform_points(points: np.ndarray, matrix: Matrix) -> np.ndarray:
    """Apply a homography to N×2 points."""
    ones = np.ones((points.shape[0], 1))
    mapped = np.hstack([points, ones]) @ matrix.T
    return np.asarray(mapped[:, :2] / mapped[:, 2:3], dtype=np.float64)


def transform_box(box: Box, matrix: Matrix, width: int, height: int) -> Box:
    """The axis-aligned box enclosing a transformed box, clipped to the page.

    Args:
        box: ``[x0, y0, x1, y1]`` before the transform.
        matrix: 3×3 homography.
        width: Page width after the transform (pixels).
        height: Page height after the transform.

    Returns:
        The enclosing box after the transform, inside ``[0, width] × [0, height]``.
    """
    corners = np.array(transform_quad(box, matrix), dtype=np.float64)
    left, top = corners.min(axis=0)
    right, bottom = corners.max(axis=0)
    return (
        float(min(max(left, 0.0), width)),
        float(min(max(top, 0.0), height)),
        float(min(max(right, 0.0), width)),
        float(min(max(bottom, 0.0), height)),
    )


def transform_quad(box: Box, matrix: Matrix) -> Quad:
    """The four corners of a box (top-left, top-right, bottom-right, bottom-left) after a homography."""
    x0, y0, x1, y1 = box
    corners = transform_points(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64), matrix)
    tl, tr, br, bl = ((float(x), float(y)) for x, y in corners)
    return (tl, tr, br, bl)


def fit_inside(matrix: Matrix, boxes: Iterable[Box], width: int, height: int, *, margin: float = 2.0) -> Matrix:
    """Shrink the page about its centre until every transformed box lies inside the frame."""
    boxes = list(boxes)
    if not boxes:
        return matrix
    corners = np.array(
        [[b[0], b[1]] for b in boxes]
        + [[b[2], b[1]] for b in boxes]
        + [[b[2], b[3]] for b in boxes]
        + [[b[0], b[3]] for b in boxes],
        dtype=np.float64,
    )
    for _ in range(40):
        mapped = transform_points(corners, matrix)
        inside = (mapped[:, 0] >= margin).all() and (mapped[:, 1] >= margin).all()
        inside = inside and (mapped[:, 0] <= width - margin).all() and (mapped[:, 1] <= height - margin).all()
        if inside:
            return matrix
        matrix = rotation_homography(0.0, width, height, scale=0.98) @ matrix
    return matrix


def warp(image: np.ndarray, matrix: Matrix, *, border: tuple[int, int, int]) -> np.ndarray:
    """Warp an H×W×3 uint8 image with a homography onto the same frame, filling uncovered pixels with ``border``."""
    height, width = image.shape[:2]
    warped = cv2.warpPerspective(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border
    )
    return np.asarray(warped, dtype=np.uint8)


# --------------------------------------------------------------------------------------------------- photometric
def _smooth_field(rng: np.random.Generator, width: int, height: int, strength: float) -> np.ndarray:
    """A smooth multiplicative light field (uneven illumination), H×W×1 float32 around 1."""
    coarse = rng.uniform(1.0 - strength, 1.0, size=(4, 4)).astype(np.float32)
    light = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(light, 0.3, 1.1)[:, :, None]


def _shadow(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A soft shadow (a darker polygon from one edge), H×W×1 float32 multiplier."""
    mask = np.zeros((height // 4 + 1, width // 4 + 1), dtype=np.float32)
    h, w = mask.shape
    edge_x = rng.uniform(0.0, 0.5) * w
    polygon = np.array([[0, 0], [edge_x + rng.uniform(0, 0.4) * w, 0], [edge_x, h], [0, h]], dtype=np.int32)
    if rng.random() < 0.5:
        polygon[:, 0] = w - polygon[:, 0]
    cv2.fillPoly(mask, [polygon], 1.0)
    soft = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=max(w, h) * 0.03), dtype=np.float32)
    darkness = np.float32(rng.uniform(0.15, 0.4))
    full = np.asarray(cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
    return (1.0 - darkness * full)[:, :, None]


def _blur(rng: np.random.Generator, image: np.ndarray, kind: Kind) -> np.ndarray:
    if kind == "photo" and rng.random() < 0.4:
        length = int(rng.integers(3, 7))
        kernel = np.zeros((length, length), dtype=np.float32)
        kernel[length // 2, :] = 1.0 / length
        rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        turned = np.asarray(cv2.warpAffine(kernel, rotation, (length, length)), dtype=np.float32)
        return np.asarray(cv2.filter2D(image, -1, turned / max(float(turned.sum()), 1e-6)), dtype=np.uint8)
    sigma = float(rng.uniform(0.3, 1.2))
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigmaX=sigma), dtype=np.uint8)


def photometric(rng: np.random.Generator, image: np.ndarray, kind: Kind) -> np.ndarray:
    """Light, shadow, contrast, blur and noise on an H×W×3 uint8 image."""
    height, width = image.shape[:2]
    work = image.astype(np.float32)
    work *= _smooth_field(rng, width, height, strength=0.25 if kind == "photo" else 0.1)
    if kind == "photo" and rng.random() < 0.6:
        work *= _shadow(rng, width, height)
    contrast = rng.uniform(0.65, 0.95)
    work = work * contrast + (1 - contrast) * rng.uniform(120, 200)
    tint = rng.uniform(0.9, 1.0, size=3).astype(np.float32) if kind == "photo" else np.ones(3, np.float32)
    work *= tint
    work = _blur(rng, np.clip(work, 0, 255).astype(np.uint8), kind).astype(np.float32)
    sigma = rng.uniform(2.0, 9.0)
    work += rng.standard_normal((height, width, 1), dtype=np.float32) * np.float32(sigma)
    if kind == "scan" and rng.random() < 0.5:
        specks = rng.random((height, width), dtype=np.float32) < rng.uniform(0.0002, 0.001)
        work[specks] = rng.uniform(0, 80)
    result = np.clip(work, 0, 255).astype(np.uint8)
    if kind == "scan" and rng.random() < 0.4:
        gray = cv2.cvtColor(result, cv2.COLOR_RGB2GRAY)
        return np.asarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), dtype=np.uint8)
    return result


def jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    """The image after JPEG compression at ``quality`` (its blocking and ringing artefacts)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


@dataclass(frozen=True, slots=True)
class DegradeResult:
    page: RenderedPage
    matrix: Matrix


def degrade_page(page: RenderedPage, rng: np.random.Generator, kind: Kind) -> DegradeResult:
    """A degraded copy of a rendered page with every region and line box moved by the same geometry.

    Args:
        page: The clean page.
        rng: Randomness for this page.
        kind: ``scan`` or ``photo``.

    Returns:
        The degraded page (same size) and the homography applied.
    """
    image = np.asarray(page.image.convert("RGB"))
    height, width = image.shape[:2]
    matrix = scan_homography(rng, width, height) if kind == "scan" else photo_homography(rng, width, height)
    matrix = fit_inside(matrix, [r.bbox for r in page.regions] + [ln.bbox for ln in page.lines], width, height)
    if kind == "photo":
        border = tuple(int(v) for v in rng.integers(40, 140, size=3))
    else:
        border = (int(rng.integers(200, 255)),) * 3
    warped = photometric(rng, warp(image, matrix, border=border), kind)  # type: ignore[arg-type]
    regions = [dataclasses.replace(r, bbox=transform_box(r.bbox, matrix, width, height)) for r in page.regions]
    lines = [
        dataclasses.replace(
            ln, bbox=transform_box(ln.bbox, matrix, width, height), quad=transform_quad(ln.bbox, matrix)
        )
        for ln in page.lines
    ]
    degraded = RenderedPage(image=Image.fromarray(warped), dpi=page.dpi, regions=regions, lines=lines)
    return DegradeResult(page=degraded, matrix=matrix)


def angle_of(matrix: Matrix) -> float:
    """The rotation angle (degrees) a homography applies near the page centre (for reports)."""
    return math.degrees(math.atan2(-matrix[1, 0], matrix[0, 0]))
