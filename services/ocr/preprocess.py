"""Page clean-up before OCR: even out the light, turn the text level, and map what was read back onto the page.

Used by the ``tesseract-page-prepared`` engine. Its steps and constants were chosen with a throw-away comparison on
the corpus' validation pages (light normalisation with the 3×3 median helped scans and clean pages, deskew helped
scans; non-local-means denoising, bilateral or Gaussian smoothing, upscaling and page-outline rectification did not
pay). ``make eval`` with ``RXLAB_OCR_ENGINE=tesseract-page-prepared`` (docs/evaluation.md) measured a lower character
error rate and better prescription fields, but worse lab-report fields (dividing out the paper also raises its
speckle to the contrast of ink, and Tesseract reads specks as punctuation inside table rows) and a slower stage, so it
is not the default.

The word boxes Tesseract returns are in the turned image; :func:`page_box` takes them back to the original page's
pixels, where every stage keeps its coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]

#: Named in the OCR engine's version (provenance): change it with any step or constant here.
PREPROCESS_VERSION = "light41-deskew6"
#: Side of the closing that estimates the paper's brightness: wider than a character stroke, narrower than a shadow.
LIGHT_KERNEL = 41
#: Rotations tried when deskewing (degrees, counter-clockwise positive, as OpenCV's).
MAX_SKEW = 6.0
SKEW_STEP = 0.25


@dataclass(frozen=True, slots=True)
class Prepared:
    """A page ready for OCR (same size as the original) and the affine map from its pixels back to the page's."""

    image: Gray
    angle: float
    to_page: npt.NDArray[np.float64]  # 2×3


def normalise_light(gray: Gray) -> Gray:
    """Divide out the paper's brightness (shadows, uneven light, grey paper) so ink is dark on white everywhere."""
    quiet = cv2.medianBlur(gray, 3)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (LIGHT_KERNEL, LIGHT_KERNEL))
    paper = cv2.GaussianBlur(cv2.morphologyEx(quiet, cv2.MORPH_CLOSE, kernel), (0, 0), 8)
    ratio = gray.astype(np.float32) / np.maximum(paper.astype(np.float32), 1.0)
    return np.asarray(np.clip(ratio * 255.0, 0, 255), dtype=np.uint8)


def skew_angle(gray: Gray) -> float:
    """The rotation (degrees) that levels the text rows: the one whose row profile of ink is sharpest."""
    ink = cv2.threshold(255 - gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    small = cv2.resize(ink, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    height, width = small.shape
    best, best_angle = -1.0, 0.0
    for angle in np.arange(-MAX_SKEW, MAX_SKEW + SKEW_STEP / 2, SKEW_STEP):
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), float(angle), 1.0)
        profile = cv2.warpAffine(small, matrix, (width, height)).sum(axis=1, dtype=np.float64)
        sharpness = float(np.sum(np.diff(profile) ** 2))
        if sharpness > best:
            best, best_angle = sharpness, float(angle)
    return best_angle


def as_it_came(gray: Gray) -> Prepared:
    """The page unchanged (identity map)."""
    return Prepared(image=gray, angle=0.0, to_page=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))


def prepare(gray: Gray) -> Prepared:
    """Light normalisation, then deskew; identity map when the page is already level."""
    even = normalise_light(gray)
    angle = skew_angle(even)
    if abs(angle) < SKEW_STEP / 2:
        return as_it_came(even)
    height, width = even.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    turned = cv2.warpAffine(even, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    back = np.asarray(cv2.invertAffineTransform(matrix), dtype=np.float64)
    return Prepared(image=np.asarray(turned, dtype=np.uint8), angle=angle, to_page=back)


def page_box(box: tuple[float, float, float, float], to_page: npt.NDArray[np.float64]) -> tuple[float, ...]:
    """The box enclosing a prepared-image box after mapping its corners back onto the original page."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64) @ to_page[:, :2].T + to_page[:, 2]
    left, top = corners.min(axis=0)
    right, bottom = corners.max(axis=0)
    return (float(left), float(top), float(right), float(bottom))
