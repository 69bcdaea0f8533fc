"""Detector mAP50 and mAP50-95 (COCO-style: 101-point interpolated AP, IoU thresholds 0.50:0.05:0.95)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from training.evaluation.scoring import iou

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


@dataclass(frozen=True, slots=True)
class Box:
    cls: str
    bbox: tuple[float, float, float, float]
    confidence: float = 1.0


def average_precision(
    *, predictions: Sequence[Sequence[Box]], truths: Sequence[Sequence[Box]], cls: str, threshold: float
) -> float | None:
    """AP of one class at one IoU threshold over a set of pages (None if the class never occurs in the truth)."""
    total = sum(1 for page in truths for box in page if box.cls == cls)
    if total == 0:
        return None
    ranked = sorted(
        ((box.confidence, page, box) for page, boxes in enumerate(predictions) for box in boxes if box.cls == cls),
        key=lambda item: -item[0],
    )
    taken: set[tuple[int, int]] = set()
    hits: list[bool] = []
    for _, page, box in ranked:
        best, best_iou = None, threshold
        for index, true in enumerate(truths[page]):
            if true.cls != cls or (page, index) in taken:
                continue
            overlap = iou(box.bbox, true.bbox)
            if overlap >= best_iou:
                best, best_iou = index, overlap
        hits.append(best is not None)
        if best is not None:
            taken.add((page, best))
    return _interpolated_ap(hits, total)


def _interpolated_ap(hits: list[bool], total: int) -> float:
    precisions, recalls = [], []
    tp = 0
    for rank, hit in enumerate(hits, start=1):
        tp += hit
        precisions.append(tp / rank)
        recalls.append(tp / total)
    # Precision envelope, then sample at 101 recall points.
    for i in range(len(precisions) - 2, -1, -1):
        precisions[i] = max(precisions[i], precisions[i + 1])
    samples = []
    for point in (i / 100 for i in range(101)):
        index = next((k for k, r in enumerate(recalls) if r >= point), None)
        samples.append(precisions[index] if index is not None else 0.0)
    return sum(samples) / len(samples)


def mean_ap(
    *, predictions: Sequence[Sequence[Box]], truths: Sequence[Sequence[Box]], classes: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """Per class and overall: ``{"cls": {"map50": ..., "map50_95": ...}, "all": {...}}``."""
    table: dict[str, dict[str, float | None]] = {}
    for cls in classes:
        aps = [average_precision(predictions=predictions, truths=truths, cls=cls, threshold=t) for t in IOU_THRESHOLDS]
        if aps[0] is None:
            table[cls] = {"map50": None, "map50_95": None}
            continue
        values = [a for a in aps if a is not None]
        table[cls] = {"map50": round(values[0], 4), "map50_95": round(sum(values) / len(values), 4)}
    present = [row for row in table.values() if row["map50"] is not None]
    table["all"] = {
        "map50": round(sum(r["map50"] or 0.0 for r in present) / len(present), 4) if present else None,
        "map50_95": round(sum(r["map50_95"] or 0.0 for r in present) / len(present), 4) if present else None,
    }
    return table
