"""Page clean-up before OCR: even out the light, stretch faint ink, turn the text level, enlarge small pages.

Used by the ``tesseract-page-prepared`` engine. Its steps and constants were chosen by comparing the character error
rate of Tesseract on the corpus' validation pages (never the test split), variant by variant:

- dividing out the paper's brightness (a closing wider than a stroke) takes off shadows and uneven light, but maps
  the paper to full white and leaves the ink as grey as it came, so on a faint low-contrast page Tesseract's own
  threshold lost whole rows, and the page's speckle came out as dark as its ink. The ratio is therefore stretched:
  the darkest 1 % of the page becomes black, a pixel at 90 % of its paper's brightness or more becomes white (noise
  and specks of light grey vanish with the paper);
- deskew levels the rows (scans are turned up to 5°): the angle, every 0.25° within ±6°, whose row profile of ink
  is sharpest;
- a page narrower than 1300 px (A4 at 150 dpi or less) is read at twice its size: at 100–150 dpi body text is too
  small for Tesseract's models.

Non-local-means denoising, bilateral or Gaussian smoothing, a 3×3 median of the whole page, Tesseract's Sauvola
threshold and page-outline rectification did not pay, nor did smoothing the paper's brightness at half size to
save time (val CER 0.0269 / 0.0687 against 0.0268 / 0.0682, 2026-12-06). ``make eval`` with
``RXLAB_OCR_ENGINE=tesseract-page-prepared`` compares it with the page as it came (docs/evaluation.md).

The word boxes Tesseract returns are in the prepared image; :func:`page_box` takes them back to the original page's
pixels, where every stage keeps its coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]

#: Named in the OCR engine's version (provenance): change it with any step or constant here.
PREPROCESS_VERSION = "light41-stretch1-90-deskew6proj2-up1300"
#: Side of the closing that estimates the paper's brightness: wider than a character stroke, narrower than a shadow.
LIGHT_KERNEL = 41
#: Rotations tried when deskewing (degrees, counter-clockwise positive, as OpenCV's).
MAX_SKEW = 6.0
SKEW_STEP = 0.25
#: The deskew search counts every INK_SAMPLE-th ink pixel of the half-size page.
INK_SAMPLE = 2
#: Percentile of the light-evened page that becomes black, and the share of its paper's brightness that is white.
INK_PERCENTILE = 1.0
PAPER_SHARE = 0.9
#: Pages narrower than this (pixels) are read at UPSCALE times their size.
SMALL_PAGE = 1300
UPSCALE = 2


@dataclass(frozen=True, slots=True)
class Prepared:
    """A page ready for OCR, the affine map from its pixels back to the page's, and the page's size."""

    image: Gray
    angle: float
    to_page: npt.NDArray[np.float64]  # 2×3
    page_size: tuple[int, int]  # width, height of the page as it came

    @property
    def moved(self) -> bool:
        """Whether its pixels are not the page's (turned or scaled)."""
        return not np.array_equal(self.to_page, IDENTITY)


IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


#: Every value the ratio of a page pixel to its paper's brightness can take (both are 8-bit), in float32 as the
#: division of the two images gives it: index ``gray * 256 + paper``.
_LEVELS = np.arange(256, dtype=np.float32)
_RATIOS = (_LEVELS[:, None] / np.maximum(_LEVELS[None, :], 1.0)).astype(np.float32).ravel()
_RATIO_ORDER = np.argsort(_RATIOS, kind="stable")
_SORTED_RATIOS = _RATIOS[_RATIO_ORDER]


def normalise_light(gray: Gray) -> Gray:
    """Divide out the paper's brightness (shadows, uneven light, grey paper), then stretch: black ink on white paper.

    The darkest ``INK_PERCENTILE`` % of the page maps to black (at most ``PAPER_SHARE - 0.2`` of the paper's
    brightness, so a page with hardly any ink is not blown up), ``PAPER_SHARE`` of the paper's brightness and more to
    white. A pixel's ratio depends only on its (gray, paper) pair, of which there are 65,536: the percentile is taken
    from the pairs' counts and the stretch is a table of them, the same bytes as dividing and stretching the page's
    float32 images (a unit test), without a float image of the page.
    """
    quiet = cv2.medianBlur(gray, 3)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (LIGHT_KERNEL, LIGHT_KERNEL))
    paper = cv2.GaussianBlur(cv2.morphologyEx(quiet, cv2.MORPH_CLOSE, kernel), (0, 0), 8)
    pair = (gray.astype(np.uint16) << 8) | np.asarray(paper, dtype=np.uint16)
    ink = min(ratio_percentile(pair_counts(pair), INK_PERCENTILE), PAPER_SHARE - 0.2)
    table = np.asarray(np.clip((_RATIOS - ink) / (PAPER_SHARE - ink) * 255.0, 0, 255), dtype=np.uint8)
    return np.asarray(np.take(table, pair), dtype=np.uint8)


def pair_counts(pair: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
    """How many pixels have each of the 65,536 (gray, paper) pairs: ``np.bincount``'s counts.

    OpenCV's histogram counts in float32, exact below 2**24 pixels (about six times an A4 page at 300 dpi), in a
    fifth of ``np.bincount``'s time (which first widens the page to 64-bit integers); a larger page is counted by
    ``np.bincount``.
    """
    if pair.size >= 2**24:
        return np.bincount(pair.ravel(), minlength=_RATIOS.size)
    counts = cv2.calcHist([pair], [0], None, [_RATIOS.size], [0, _RATIOS.size]).ravel()
    return np.asarray(counts, dtype=np.int64)


def ratio_percentile(counts: npt.NDArray[np.int64], percentile: float) -> float:
    """``np.percentile`` (linear interpolation) of the pixels' ratios, given how many pixels have each (gray, paper)
    pair: the two order statistics around the virtual index, interpolated in float32 as numpy does."""
    total = int(counts.sum())
    virtual = (total - 1) * (percentile / 100)
    below = int(np.floor(virtual))
    gamma = virtual - below
    cumulative = np.cumsum(counts[_RATIO_ORDER])
    low = _SORTED_RATIOS[int(np.searchsorted(cumulative, below, side="right"))]
    high = _SORTED_RATIOS[int(np.searchsorted(cumulative, min(below + 1, total - 1), side="right"))]
    step = high - low
    return float(high - step * (1 - gamma) if gamma >= 0.5 else low + step * gamma)


def skew_angle(gray: Gray) -> float:
    """The rotation (degrees) that levels the text rows: the one whose row profile of ink is sharpest.

    The ink (Otsu threshold, half size) is not turned as an image for each angle: its pixels' centres are turned
    about the page's centre as OpenCV's rotation matrix turns them, those that leave the frame are dropped, and each
    adds its ink to the two rows its turned height falls between (linear weights), as the rows of the turned image
    would hold it. This picked the angle of the former search (``cv2.warpAffine`` of the ink per angle) on 1,052 of
    1,053 train, calib and val pages, the other a step away, in about 40 % of its time (2026-12-06). Counting only
    every ``INK_SAMPLE``-th ink pixel (in row order) then kept its angle on 567 of 568 calib and val pages, the other
    a step away, and val CER unchanged (0.0268 / 0.0682).
    """
    ink = cv2.threshold(255 - gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    small = cv2.resize(ink, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    height, width = small.shape
    rows, columns = np.nonzero(small)
    rows, columns = rows[::INK_SAMPLE], columns[::INK_SAMPLE]
    weight = small[rows, columns].astype(np.float32)
    x = columns.astype(np.float32) - np.float32(width / 2)
    y = rows.astype(np.float32) - np.float32(height / 2)
    best, best_angle = -1.0, 0.0
    for angle in np.arange(-MAX_SKEW, MAX_SKEW + SKEW_STEP / 2, SKEW_STEP):
        turn = np.deg2rad(angle)
        cos, sin = np.float32(np.cos(turn)), np.float32(np.sin(turn))
        turned_y = cos * y - sin * x + np.float32(height / 2)
        turned_x = cos * x + sin * y + np.float32(width / 2)
        inside = (turned_x >= 0) & (turned_x < width) & (turned_y >= 0) & (turned_y < height - 1)
        at, ink_at = turned_y[inside], weight[inside]
        row = at.astype(np.intp)  # floor: every height kept is ≥ 0
        below = ink_at * (at - row)
        profile = np.bincount(row, ink_at - below, minlength=height + 1)
        profile[1:] += np.bincount(row, below, minlength=height + 1)[:-1]
        sharpness = float(np.sum(np.diff(profile[:height]) ** 2))
        if sharpness > best:
            best, best_angle = sharpness, float(angle)
    return best_angle


def as_it_came(gray: Gray) -> Prepared:
    """The page unchanged (identity map)."""
    height, width = gray.shape
    return Prepared(image=gray, angle=0.0, to_page=IDENTITY.copy(), page_size=(width, height))


def prepare(gray: Gray) -> Prepared:
    """Light normalisation, deskew, then enlargement of a small page; identity map when none of it moved a pixel."""
    even = normalise_light(gray)
    height, width = even.shape
    angle = skew_angle(even)
    if abs(angle) < SKEW_STEP / 2:
        angle, image, back = 0.0, even, IDENTITY.copy()
    else:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        turned = cv2.warpAffine(even, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        image = np.asarray(turned, dtype=np.uint8)
        back = np.asarray(cv2.invertAffineTransform(matrix), dtype=np.float64)
    if width < SMALL_PAGE:
        image = np.asarray(cv2.resize(image, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC), np.uint8)
        back = np.hstack([back[:, :2] / UPSCALE, back[:, 2:]])
    return Prepared(image=image, angle=angle, to_page=back, page_size=(width, height))


def blank(prepared: Prepared, boxes: list[tuple[float, float, float, float]]) -> Prepared:
    """The prepared page with the given boxes (original page pixels) painted white: what OCR must not read.

    Each box is taken into the prepared image (turned and scaled as the page was) and widened to the rectangle
    enclosing it there.
    """
    if not boxes:
        return prepared
    image = prepared.image.copy()
    to_prepared = np.asarray(cv2.invertAffineTransform(prepared.to_page), dtype=np.float64)
    height, width = image.shape
    for box in boxes:
        x0, y0, x1, y1 = page_box(box, to_prepared)
        left, top = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        right, bottom = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
        if right > left and bottom > top:
            image[top:bottom, left:right] = 255
    return replace(prepared, image=image)


def page_box(box: tuple[float, float, float, float], to_page: npt.NDArray[np.float64]) -> tuple[float, ...]:
    """The box enclosing a prepared-image box after mapping its corners back onto the original page.

    Any 2×3 affine map works: with the inverse of ``to_page`` it takes a page box into the prepared image.
    """
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64) @ to_page[:, :2].T + to_page[:, 2]
    left, top = corners.min(axis=0)
    right, bottom = corners.max(axis=0)
    return (float(left), float(top), float(right), float(bottom))
