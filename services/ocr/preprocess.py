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
- a photographed page whose rows still fan out once it is level (perspective: rows sloping down at the top and up at
  the bottom, say) is bent straight, each column moved up or down so that every row is level (:class:`Bend`, in the
  same resampling as the turn). On the 80 val documents this lowered the character error rate of degraded pages from
  0.0682 to 0.0603 and left clean pages' unchanged (none is bent; 2026-12-07), where compact rows read as one had
  been split or merged;
- a photographed page narrower than 1300 px (A4 at 150 dpi or less) is read at twice its size: at 100–150 dpi its
  body text, blurred and uneven, is too small for Tesseract's models. A scanned (or clean) page that small is read
  at its size: enlarged, its specks and noise read as characters; on the small scanned pages of val and calib (71)
  the character error rate was 0.0829 / 0.1044 enlarged against 0.0620 / 0.0681 at their size, on the small
  photographs (103) 0.0865 / 0.0927 against 0.1029 / 0.0955 (2026-12-07). A photograph is told by the desk around
  the sheet (:class:`Evened`): one that fills its frame is read as a scan would be, and a scan with a dark border
  (a scanner's open lid) is enlarged as photographs are, as every small page was before.

Non-local-means denoising, bilateral or Gaussian smoothing, a 3×3 median of the whole page, Tesseract's Sauvola
threshold and page-outline rectification did not pay, nor did smoothing the paper's brightness at half size to
save time (val CER 0.0269 / 0.0687 against 0.0268 / 0.0682, 2026-12-06). Its Gaussian alone is now taken at a
quarter of the page's size (:func:`paper_brightness`). ``make eval`` with
``RXLAB_OCR_ENGINE=tesseract-page-prepared`` compares it with the page as it came (docs/evaluation.md).

The word boxes Tesseract returns are in the prepared image; :meth:`Prepared.on_page` takes them back to the original
page's pixels, where every stage keeps its coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]

# One OpenCV thread per process, as one Tesseract thread (services.ocr.engine): every stage runs one worker process
# per core, and OpenCV's own pool (a thread per core) would have them contend, and time a page's clean-up on two
# cores where the stage has one. The detector's line refinement uses this module too.
cv2.setNumThreads(1)

#: Named in the OCR engine's version (provenance): change it with any step or constant here.
PREPROCESS_VERSION = "light41q4-stretch1-90-deskew6proj2-bend8-0.5-up1300photo0.05"
#: Side of the closing that estimates the paper's brightness: wider than a character stroke, narrower than a shadow.
LIGHT_KERNEL = 41
#: The smoothing of that estimate (σ, page pixels), and how much smaller than the page it is smoothed.
LIGHT_SIGMA = 8
LIGHT_SCALE = 4
#: Rotations tried when deskewing (degrees, counter-clockwise positive, as OpenCV's).
MAX_SKEW = 6.0
SKEW_STEP = 0.25
#: The deskew search counts every INK_SAMPLE-th ink pixel of the half-size page.
INK_SAMPLE = 2
#: Percentile of the light-evened page that becomes black, and the share of its paper's brightness that is white.
INK_PERCENTILE = 1.0
PAPER_SHARE = 0.9
#: Photographed pages narrower than this (pixels) are read at UPSCALE times their size. A photographed page is one
#: with at least PHOTO_SURROUND of it darker than SURROUND_LEVEL of its brightest paper (:class:`Evened`).
SMALL_PAGE = 1300
UPSCALE = 2
SURROUND_LEVEL = 0.6
PHOTO_SURROUND = 0.05
#: A photographed page's rows fan out (perspective): once the page is level on the whole, its rows still slope one
#: way at the top and the other at the bottom. The deskew search also finds the angle that levels each of
#: BEND_STRIPS horizontal strips of the page (a strip with less than BEND_INK of its pixels ink has none); the strips'
#: angles less the page's are fitted against their height by a line, leaving out, the worst first, any strip the line
#: through the others misses by more than BEND_MISS degrees (a stamp, a signature, a logo: ink without rows), while
#: BEND_FIT strips are left. A page whose rows turn by BEND_MIN degrees or more from its top strip of text to its
#: bottom one is bent straight (:class:`Bend`). On the val pages the fitted turn matched the corpus's own (the slope
#: of its printed lines' outlines against their height) on every photographed page it bent, and no clean or scanned
#: page was bent (2026-12-07).
BEND_STRIPS = 8
BEND_INK = 0.005
BEND_MISS = 0.5
BEND_FIT = 5
BEND_MIN = 0.5
#: Rows of a page's whole-page arrays worked through at a time (a cache-sized band of them; no result depends on it).
BAND_ROWS = 64


@dataclass(frozen=True, slots=True)
class Bend:
    """Rows that turn with their height on the page: the row through ``(centre, y)`` slopes ``slope + spread * y``.

    All of them pass through one point, as a photographed page's rows run towards their vanishing point. Bending the
    page moves every pixel up or down only: the row through ``(centre, y)`` becomes level at height ``y``.
    """

    slope: float  # dy/dx of the row through (centre, 0)
    spread: float  # change of that slope per pixel down the page
    centre: float  # x where a row keeps its height

    def source_y(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Where the bent page's pixel ``(x, y)`` comes from: ``(x, source_y)`` of the page before the bend."""
        return y + (self.slope + self.spread * y) * (x - self.centre)

    def scaled(self, factor: float) -> Bend:
        """The same bend of the page enlarged ``factor`` times."""
        return Bend(slope=self.slope, spread=self.spread / factor, centre=self.centre * factor)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A page ready for OCR, the affine map from its pixels back to the page's, and the page's size."""

    image: Gray
    angle: float
    to_page: npt.NDArray[np.float64]  # 2×3, from the image before its bend
    page_size: tuple[int, int]  # width, height of the page as it came
    bend: Bend | None = None  # applied last, after the turn and the enlargement

    @property
    def moved(self) -> bool:
        """Whether its pixels are not the page's (turned, scaled or bent)."""
        return self.bend is not None or not np.array_equal(self.to_page, IDENTITY)

    def on_page(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """The box enclosing a box of this image once its corners are taken back onto the original page."""
        corners = _corners(box)
        if self.bend is not None:
            corners[:, 1] = self.bend.source_y(corners[:, 0], corners[:, 1])
        return _enclosing(_affine(corners, self.to_page))


IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


#: Every value the ratio of a page pixel to its paper's brightness can take (both are 8-bit), in float32 as the
#: division of the two images gives it: index ``gray * 256 + paper``.
_LEVELS = np.arange(256, dtype=np.float32)
_RATIOS = (_LEVELS[:, None] / np.maximum(_LEVELS[None, :], 1.0)).astype(np.float32).ravel()
_RATIO_ORDER = np.argsort(_RATIOS, kind="stable")
_SORTED_RATIOS = _RATIOS[_RATIO_ORDER]


@dataclass(frozen=True, slots=True)
class Evened:
    """A page with its light evened out (:func:`even_light`), and the page closed (ink taken out) at 1/``LIGHT_SCALE``
    of its size, from which :meth:`surround` tells how much of it is no paper."""

    image: Gray
    closed: Gray

    def surround(self) -> float:
        """Share of the page darker than ``SURROUND_LEVEL`` of its brightest paper, ink taken out: the table or desk
        around a photographed sheet (0.12–0.28 of the small val and calib photos), none on a scan or a clean page (at
        most 0.004). Measured only where it decides something (a small page): about 2 ms, by hand."""
        brightest = float(np.percentile(self.closed, 95))
        return float(np.count_nonzero(self.closed < SURROUND_LEVEL * brightest)) / self.closed.size


def normalise_light(gray: Gray) -> Gray:
    """The page with its light evened out: :func:`even_light`'s image."""
    return even_light(gray).image


def even_light(gray: Gray) -> Evened:
    """Divide out the paper's brightness (shadows, uneven light, grey paper), then stretch: black ink on white paper.

    The darkest ``INK_PERCENTILE`` % of the page maps to black (at most ``PAPER_SHARE - 0.2`` of the paper's
    brightness, so a page with hardly any ink is not blown up), ``PAPER_SHARE`` of the paper's brightness and more to
    white. A pixel's ratio depends only on its (gray, paper) pair, of which there are 65,536: the percentile is taken
    from the pairs' counts and the stretch is a table of them, the same bytes as dividing and stretching the page's
    float32 images (a unit test), without a float image of the page.
    """
    paper, closed = paper_brightness(gray)
    pair = np.empty(gray.shape, dtype=np.uint16)
    np.left_shift(gray, 8, out=pair, dtype=np.uint16)
    np.bitwise_or(pair, paper, out=pair)
    ink = min(ratio_percentile(pair_counts(pair), INK_PERCENTILE), PAPER_SHARE - 0.2)
    table = np.asarray(np.clip((_RATIOS - ink) / (PAPER_SHARE - ink) * 255.0, 0, 255), dtype=np.uint8)
    # Looked up a band of rows at a time: np.take widens its indices to 64-bit integers, 8 bytes a pixel for the
    # whole page at once (all of them in range, so "clip" clips nothing and spares take its own buffer).
    even = np.empty(gray.shape, dtype=np.uint8)
    for top in range(0, gray.shape[0], BAND_ROWS):
        np.take(table, pair[top : top + BAND_ROWS], out=even[top : top + BAND_ROWS], mode="clip")
    return Evened(image=even, closed=closed)


def paper_brightness(gray: Gray) -> tuple[Gray, Gray]:
    """The paper's brightness under every pixel, and the page closed at 1/``LIGHT_SCALE`` of its size (before the
    Gaussian, for :meth:`Evened.surround`): a closing wider than a stroke takes the ink out (after a 3×3 median
    takes out the specks), a Gaussian of σ ``LIGHT_SIGMA`` smooths what is left.

    The Gaussian is taken at 1/``LIGHT_SCALE`` of the page's size (area-averaged, σ scaled alike) and enlarged back
    bilinearly: on a closed page, smooth at that scale, it comes within 4 levels of the full-size blur (a unit test;
    at most 4 on 40 val pages), in about a quarter of its time on one core, the two resizes included (6.3 against
    23.8 ms a page on the 27 pages of ``make bench``, by hand): the full-size blur, a 49-tap kernel each way, had been
    the clean-up's largest step.
    """
    quiet = cv2.medianBlur(gray, 3)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (LIGHT_KERNEL, LIGHT_KERNEL))
    closed = cv2.morphologyEx(quiet, cv2.MORPH_CLOSE, kernel)
    height, width = closed.shape
    size = (-(-width // LIGHT_SCALE), -(-height // LIGHT_SCALE))  # rounded up: at least one pixel
    small = np.asarray(cv2.resize(closed, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    smooth = cv2.GaussianBlur(small, (0, 0), LIGHT_SIGMA / LIGHT_SCALE)
    return np.asarray(cv2.resize(smooth, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.uint8), small


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


@dataclass(frozen=True, slots=True)
class Skew:
    """The angle that levels a page and, for each of its ``BEND_STRIPS`` horizontal strips (of the turned page), the
    angle that levels that strip alone, its middle height (page pixels) and its share of ink pixels."""

    angle: float
    strip_angles: tuple[float, ...]
    strip_heights: tuple[float, ...]
    strip_ink: tuple[float, ...]


def skew_search(gray: Gray) -> Skew:
    """The rotation (degrees) that levels the text rows: the one whose row profile of ink is sharpest; and each
    strip's sharpest angle, from the same turned profiles.

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
    # np.nonzero's pixels in the same (row) order, in a quarter of its time; None when there are none.
    found = cv2.findNonZero(small)
    points = np.reshape(found, (-1, 2))[::INK_SAMPLE] if found is not None else np.zeros((0, 2), np.intp)
    columns, rows = points[:, 0], points[:, 1]
    weight = small[rows, columns].astype(np.float32)
    x = columns.astype(np.float32) - np.float32(width / 2)
    y = rows.astype(np.float32) - np.float32(height / 2)
    starts = np.arange(BEND_STRIPS) * (height - 1) // BEND_STRIPS
    best, best_angle = 0.0, 0.0  # a page without ink stays as it is
    strip_best = np.full(BEND_STRIPS, -1.0)
    strip_angles = np.zeros(BEND_STRIPS)
    strip_ink = np.zeros(BEND_STRIPS)
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
        steps = np.diff(profile[:height]) ** 2
        sharpness = float(np.sum(steps))
        mass = np.add.reduceat(profile[: height - 1], starts)
        if sharpness > best:
            best, best_angle, strip_ink = sharpness, float(angle), mass
        # The turn moves ink across the strips' edges, and a strip's sharpness grows with the square of its ink.
        per_strip = np.add.reduceat(steps, starts) / np.maximum(mass, 1.0) ** 2
        sharper = per_strip > strip_best
        strip_best[sharper], strip_angles[sharper] = per_strip[sharper], angle
    strip_rows = np.diff(np.append(starts, height - 1))
    return Skew(
        angle=best_angle,
        strip_angles=tuple(float(a) for a in strip_angles),
        strip_heights=tuple(float(h) for h in (starts + strip_rows / 2) * 2),
        strip_ink=tuple(float(i) for i in strip_ink * INK_SAMPLE / 255 / (strip_rows * width)),
    )


def as_it_came(gray: Gray) -> Prepared:
    """The page unchanged (identity map)."""
    height, width = gray.shape
    return Prepared(image=gray, angle=0.0, to_page=IDENTITY.copy(), page_size=(width, height))


def prepare(gray: Gray) -> Prepared:
    """Light normalisation, deskew, straightening of rows that fan out, enlargement of a small page; identity map when
    none of it moved a pixel."""
    evened = even_light(gray)
    even = evened.image
    height, width = even.shape
    skew = skew_search(even)
    angle = skew.angle
    image = even  # turned below, with the bend if there is one
    if abs(angle) < SKEW_STEP / 2:
        angle, back = 0.0, IDENTITY.copy()
    else:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        back = np.asarray(cv2.invertAffineTransform(matrix), dtype=np.float64)
    bend = row_bend(skew, width)
    scale = UPSCALE if width < SMALL_PAGE and evened.surround() >= PHOTO_SURROUND else 1
    if bend is not None:  # turned, enlarged and bent in one resampling of the light-evened page
        back = np.hstack([back[:, :2] / scale, back[:, 2:]])
        bend = bend.scaled(scale)
        image = unbend(even, bend, back, (width * scale, height * scale))
    else:
        if angle != 0.0:
            turned = cv2.warpAffine(
                even, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
            )
            image = np.asarray(turned, dtype=np.uint8)
        if scale != 1:
            image = np.asarray(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC), np.uint8)
            back = np.hstack([back[:, :2] / scale, back[:, 2:]])
    return Prepared(image=image, angle=angle, to_page=back, page_size=(width, height), bend=bend)


def row_bend(skew: Skew, width: int) -> Bend | None:
    """How the rows of a page still turn down the page once it is level, if by ``BEND_MIN`` degrees or more; else None.

    Each strip's angle (less the page's) is fitted against its height by least squares, weighted by the square root of
    its ink; a strip with less than ``BEND_INK`` of its pixels ink has none, and one the line misses by more than
    ``BEND_MISS`` degrees (a logo, a stamp, a signature that has no rows) is dropped, the worst first, while
    ``BEND_FIT`` strips are left.
    """
    kept = [i for i, ink in enumerate(skew.strip_ink) if ink >= BEND_INK]
    heights = [skew.strip_heights[i] for i in kept]
    slopes = [skew.strip_angles[i] - skew.angle for i in kept]
    weights = [float(np.sqrt(skew.strip_ink[i])) for i in kept]
    while len(heights) >= BEND_FIT:
        misses = [abs(_line_at(heights, slopes, weights, i) - slopes[i]) for i in range(len(heights))]
        worst = int(np.argmax(misses))
        if misses[worst] <= BEND_MISS:
            break
        del heights[worst], slopes[worst], weights[worst]
    else:
        return None
    spread, slope = (float(v) for v in np.polyfit(heights, slopes, 1, w=weights))
    change = abs(spread) * (heights[-1] - heights[0])  # degrees, from the top strip of text to the bottom one
    if change < BEND_MIN:
        return None
    to_slope = float(np.tan(np.deg2rad(1.0)))  # small angles: degrees to dy/dx
    return Bend(slope=slope * to_slope, spread=spread * to_slope, centre=width / 2)


def _line_at(heights: list[float], slopes: list[float], weights: list[float], i: int) -> float:
    """The strip angle at strip ``i``'s height on the line fitted to the other strips (so that a strip at either end
    cannot pull the line onto itself)."""
    others = [j for j in range(len(heights)) if j != i]
    fit = np.polyfit([heights[j] for j in others], [slopes[j] for j in others], 1, w=[weights[j] for j in others])
    return float(np.polyval(fit, heights[i]))


def unbend(page: Gray, bend: Bend, to_page: npt.NDArray[np.float64], size: tuple[int, int]) -> Gray:
    """The prepared image of ``size`` (width, height) whose pixel ``(x, y)`` is the page's at ``to_page`` of
    ``(x, bend.source_y(x, y))``: the page levelled, enlarged and bent straight at once (bicubic)."""
    width, height = size
    # Both maps are affine in y for each column x: map = y * per_row + at_top, one outer product each.
    xs = np.arange(width, dtype=np.float64)
    offset = xs - bend.centre
    scale, shift = 1 + bend.spread * offset, bend.slope * offset  # source_y = y * scale + shift
    per_row, at_top = [], []
    for m0, m1, m2 in to_page:
        per_row.append((m1 * scale).astype(np.float32))
        at_top.append((m0 * xs + m1 * shift + m2).astype(np.float32))
    # A band of rows at a time: the maps of a whole enlarged page are two float32 images (35 MB each at 3508 × 2480),
    # and every pixel's value depends on its own map entries only.
    bent = np.empty((height, width), dtype=np.uint8)
    for top in range(0, height, BAND_ROWS):
        rows = np.arange(top, min(top + BAND_ROWS, height), dtype=np.float32)
        map_x, map_y = (np.multiply.outer(rows, per) + at for per, at in zip(per_row, at_top, strict=True))
        cv2.remap(
            page, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE,
            dst=bent[top : top + len(rows)],
        )  # fmt: skip
    return bent


def _affine(points: npt.NDArray[np.float64], matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Points (n × 2) under a 2×3 affine map."""
    return np.asarray(points @ matrix[:, :2].T + matrix[:, 2], dtype=np.float64)


def _corners(box: tuple[float, float, float, float]) -> npt.NDArray[np.float64]:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _enclosing(points: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    left, top = points.min(axis=0)
    right, bottom = points.max(axis=0)
    return (float(left), float(top), float(right), float(bottom))
