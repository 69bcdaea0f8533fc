"""Box operations of the detector: greedy NMS and reading order."""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.contracts.stages import Region


def nms(boxes: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression (boxes ``x0 y0 x1 y1``), best score first."""
    order = scores.argsort()[::-1]
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        x0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        overlap = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        union = areas[best] + areas[rest] - overlap
        order = rest[overlap / np.maximum(union, 1e-9) <= iou]
    return keep


def reading_order(regions: list[Region]) -> list[Region]:
    """Top to bottom; regions whose vertical centres fall inside each other's band are one row, left to right."""
    ordered = sorted(regions, key=lambda r: (r.bbox[1], r.bbox[0]))
    rows: list[list[Region]] = []
    for region in ordered:
        centre = (region.bbox[1] + region.bbox[3]) / 2
        row = rows[-1] if rows else None
        if row is not None and any(r.bbox[1] <= centre <= r.bbox[3] for r in row):
            row.append(region)
        else:
            rows.append([region])
    return [region for row in rows for region in sorted(row, key=lambda r: r.bbox[0])]
