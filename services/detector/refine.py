"""Line boxes snapped to their ink: what the network places roughly, the page's pixels place exactly.

The YOLO model finds the medication lines and lab rows but places their edges a few network pixels off, which at
512 px is several page pixels on a row 30–40 px high: on degraded val pages its boxes of the two classes scored mAP50
0.54 / 0.71 and mAP50-95 0.18 / 0.25. On a turned or photographed page a row's box is the upright rectangle around a
slanted row, most of it empty paper and pieces of the neighbouring rows, which no edge of ink marks. So each line box
is measured again on the page itself:

1. the page's light is evened out (the OCR stage's :func:`~services.ocr.preprocess.normalise_light`: shadows and
   uneven light otherwise pass Otsu's threshold as ink and join the rows); ink is what is under Otsu's threshold of
   the window around the box, but for specks of fewer than ``SPECK`` connected pixels (noise that would stretch
   a band of ink into the paper between rows);
2. around the box (``ANGLE_WINDOW`` of its height above and below), the slant of the rows: the angle whose row
   profile of ink is sharpest (every ``INK_SAMPLE``-th ink pixel), every ``COARSE_STEP``° within ±``MAX_TURN``°,
   then every ``FINE_STEP``° around the best (a tenth of a degree tilts a 1,000 px row by 2 px);
3. in the levelled frame, the band of ink through the box's centre (``BAND_WINDOW`` of its height around the box):
   the rows where the profile holds at least ``CORE_SHARE`` of its peak (the x-height and capitals), then outward
   while any ink is left, by at most ``EDGE_REACH`` of that core (ascenders and descenders, not the next row);
4. along the band, outward from the ink inside the box while the next ink is at most ``WORD_GAP`` core heights away
   (words the network cut off; a table's column gap is wider), within ``ROW_REACH`` core heights of the box;
5. the levelled rectangle of that ink, turned back onto the page, and the upright box around it: the same geometry
   as the corpus truth's box of a turned line.

Boxes that come out the same (two predictions of one row) are then reduced by NMS. Where a box has no ink to
measure, it stays as the network gave it.

Chosen on the corpus's val pages, by hand with ``make eval``'s mAP code (2026-12-07): mAP50-95 of medication lines
and lab rows 0.529 / 0.647 → 0.977 / 0.966 on clean pages and 0.179 / 0.255 → 0.915 / 0.896 on degraded ones; on
the calibration split (400 documents, never seen by the detector's training) 0.475 / 0.594 → 0.894 / 0.950 and
0.237 / 0.231 → 0.873 / 0.879. On degraded val pages (mean of the two classes), snapping to Otsu's ink alone gave
0.53, the light normalisation 0.72, the turned-back rectangle 0.83, the word-gap extension 0.87, leaving specks
out 0.91 (chosen on val and calib after a first test run, see docs/evaluation.md). The lines still missed are
mostly those the network did not find at all (IoU under 0.3 before refinement). These figures refine the network's boxes
from confidence 0.25; from the service's ``MIN_CONFIDENCE`` of 0.1 (``services.detector.model``) degraded val gives
0.943 / 0.913 and calib 0.931 / 0.903.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from services.detector.boxes import nms
from services.ocr.preprocess import normalise_light
from shared.contracts.stages import Region

Gray = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float64]
Box = tuple[float, float, float, float]

#: Named in the detector's version (provenance): change it with any step or constant here, or with the OCR stage's
#: light normalisation, which this uses.
REFINE_VERSION = "ink2"
#: The classes whose boxes are one printed line each.
LINE_CLASSES = frozenset({"medication_line", "lab_row"})
#: Ink in fewer connected pixels than this is a speck (JPEG noise, dust), not print: left out of every measure.
SPECK = 4
#: Share of the box's height added above and below it: to find the slant, and to find the line's band.
ANGLE_WINDOW = 1.5
BAND_WINDOW = 0.5
#: Share of the box's width (plus a few pixels) added left and right of it.
SIDE_MARGIN = 0.02
SIDE_PIXELS = 3.0
#: Slants tried (degrees): every COARSE_STEP within ±MAX_TURN, then every FINE_STEP within a coarse step of the best.
MAX_TURN = 6.0
COARSE_STEP = 0.25
FINE_STEP = 0.025
#: The band's core: profile rows with at least this share of the peak; then ink rows up to EDGE_REACH of the core.
CORE_SHARE = 0.1
EDGE_REACH = 0.5
#: Along the band: ink at most WORD_GAP core heights from the last is the same line, up to ROW_REACH core heights out.
WORD_GAP = 1.0
ROW_REACH = 12.0
#: Boxes that overlap this much after refinement are one line (greedy NMS, best confidence kept).
SAME_LINE_IOU = 0.5

#: The slant is measured on every INK_SAMPLE-th ink pixel (in row order).
INK_SAMPLE = 2

_COARSE = np.arange(-MAX_TURN, MAX_TURN + COARSE_STEP / 2, COARSE_STEP)


def refine_lines(page: Gray, regions: Sequence[Region]) -> list[Region]:
    """The regions with every line box snapped to its ink; other classes unchanged, order kept.

    Args:
        page: The page in 8-bit grey, in the pixels the boxes are in.
        regions: The detector's regions.
    """
    if not any(region.cls in LINE_CLASSES for region in regions):
        return list(regions)
    even = normalise_light(page)
    snapped = [
        region.model_copy(update={"bbox": snap_line(even, region.bbox)}) if region.cls in LINE_CLASSES else region
        for region in regions
    ]
    dropped: set[int] = set()
    for cls in LINE_CLASSES:
        members = [i for i, region in enumerate(snapped) if region.cls == cls]
        if len(members) < 2:
            continue
        boxes = np.array([snapped[i].bbox for i in members], dtype=np.float64)
        scores = np.array([snapped[i].confidence for i in members], dtype=np.float64)
        kept = {members[k] for k in nms(boxes, scores, SAME_LINE_IOU)}
        dropped.update(i for i in members if i not in kept)
    return [region for i, region in enumerate(snapped) if i not in dropped]


def snap_line(even: Gray, box: Box) -> Box:
    """The box of the printed line ``box`` roughly covers, measured on a light-evened page (see the module's steps);
    ``box`` itself where there is no ink to measure."""
    snapped = _snap(even, box)
    return box if snapped is None else snapped


def _snap(even: Gray, box: Box) -> Box | None:
    x0, y0, x1, y1 = box
    height, width = y1 - y0, x1 - x0
    if height < 2 or width < 2:
        return None
    margin = SIDE_MARGIN * width + SIDE_PIXELS
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    window = _window(even, box, side=margin, rise=ANGLE_WINDOW * height)
    crop = even[window[1] : window[3], window[0] : window[2]]
    if crop.size < 16:
        return None
    threshold = float(cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[0])
    xs, ys = _ink(even, threshold, window, centre)
    if xs.size < 10:
        return None
    turn = np.deg2rad(_slant(xs[::INK_SAMPLE], ys[::INK_SAMPLE]))
    cos, sin = float(np.cos(turn)), float(np.sin(turn))
    xs, ys = _ink(even, threshold, _window(even, box, side=margin, rise=BAND_WINDOW * height), centre)
    along, across = _level(xs, ys, cos, sin)
    band = _band(across)
    if band is None:
        return None
    inside, core = band
    top_edge, bottom_edge = float(across[inside].min()), float(across[inside].max()) + 1.0
    reach = ROW_REACH * core
    rise = abs(sin) * (width / 2 + margin + reach) + (bottom_edge - top_edge) + 2.0
    far = _window(even, (x0, centre[1], x1, centre[1]), side=margin + reach, rise=rise)
    far_along, far_across = _level(*_ink(even, threshold, far, centre), cos, sin)
    row = np.sort(far_along[(far_across >= top_edge) & (far_across < bottom_edge)])
    start, end = _extend(row, float(along[inside].min()), float(along[inside].max()), WORD_GAP * core)
    corners_along = np.array([start, end + 1.0, end + 1.0, start])
    corners_across = np.array([top_edge, top_edge, bottom_edge, bottom_edge])
    page_x = cos * corners_along - sin * corners_across + centre[0]
    page_y = sin * corners_along + cos * corners_across + centre[1]
    page_height, page_width = even.shape
    return (
        float(np.clip(page_x.min(), 0, page_width)),
        float(np.clip(page_y.min(), 0, page_height)),
        float(np.clip(page_x.max(), 0, page_width)),
        float(np.clip(page_y.max(), 0, page_height)),
    )


def _window(even: Gray, box: Box, *, side: float, rise: float) -> tuple[int, int, int, int]:
    """The integer window (left, top, right, bottom) around a box, ``side`` wider and ``rise`` taller each way,
    clipped to the page."""
    x0, y0, x1, y1 = box
    height, width = even.shape
    return (int(max(0, x0 - side)), int(max(0, y0 - rise)), int(min(width, x1 + side)), int(min(height, y1 + rise)))


def _ink(
    image: Gray, threshold: float, window: tuple[int, int, int, int], centre: tuple[float, float]
) -> tuple[Floats, Floats]:
    """Coordinates of the window's ink pixels (at or under ``threshold``, specks left out), relative to ``centre``."""
    left, top, right, bottom = window
    ink = np.asarray(image[top:bottom, left:right] <= threshold, dtype=np.uint8)
    if ink.size:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        printed = stats[:, cv2.CC_STAT_AREA] >= SPECK
        printed[0] = False  # the paper
        ink = printed[labels]
    rows, columns = np.nonzero(ink)
    return (columns + (left - centre[0])).astype(np.float64), (rows + (top - centre[1])).astype(np.float64)


def _level(xs: Floats, ys: Floats, cos: float, sin: float) -> tuple[Floats, Floats]:
    """Positions along and across the rows of points turned by the angle whose cosine and sine are given."""
    return cos * xs + sin * ys, cos * ys - sin * xs


def _histogram(across: Floats) -> tuple[npt.NDArray[np.int64], int]:
    """The profile of heights across the rows (one-pixel bins) and the height of its first bin."""
    first = int(np.floor(across.min()))
    return np.bincount((np.floor(across) - first).astype(np.intp)), first


def _sharpness(xs: Floats, ys: Floats, angle: float) -> float:
    turn = np.deg2rad(angle)
    profile = _histogram(_level(xs, ys, float(np.cos(turn)), float(np.sin(turn)))[1])[0].astype(np.float64)
    return float(np.sum(np.diff(profile) ** 2))


def _slant(xs: Floats, ys: Floats) -> float:
    """The angle (degrees) whose row profile of the ink is sharpest: coarse, then fine around the best."""
    coarse = max(_COARSE, key=lambda angle: _sharpness(xs, ys, float(angle)))
    fine = np.arange(coarse - COARSE_STEP, coarse + COARSE_STEP + FINE_STEP / 2, FINE_STEP)
    return float(max(fine, key=lambda angle: _sharpness(xs, ys, float(angle))))


def _band(across: Floats) -> tuple[npt.NDArray[np.bool_], float] | None:
    """The band of ink through height 0 (or the nearest one): which heights lie in it, and its core's height; None
    with too little ink to tell."""
    if across.size < 10:
        return None
    profile, first = _histogram(across)
    strong = profile > max(1.0, CORE_SHARE * float(profile.max()))
    rows = np.nonzero(strong)[0]
    if rows.size == 0:
        return None
    at = min(max(-first, 0), profile.size - 1)
    if not strong[at]:
        at = int(rows[np.argmin(np.abs(rows - at))])
    low = high = at
    while low > 0 and strong[low - 1]:
        low -= 1
    while high < profile.size - 1 and strong[high + 1]:
        high += 1
    core = high - low + 1
    for _ in range(int(np.ceil(EDGE_REACH * core))):
        if low == 0 or profile[low - 1] == 0:
            break
        low -= 1
    for _ in range(int(np.ceil(EDGE_REACH * core))):
        if high == profile.size - 1 or profile[high + 1] == 0:
            break
        high += 1
    inside = (across >= low + first) & (across < high + 1 + first)
    return (inside, float(core)) if int(inside.sum()) >= 5 else None


def _extend(row: Floats, start: float, end: float, gap: float) -> tuple[float, float]:
    """``start``–``end`` widened along sorted positions ``row`` while the next one is at most ``gap`` away."""
    for position in row[np.searchsorted(row, end, side="right") :]:
        if position - end > gap:
            break
        end = float(position)
    for position in row[: np.searchsorted(row, start, side="left")][::-1]:
        if start - position > gap:
            break
        start = float(position)
    return start, end
