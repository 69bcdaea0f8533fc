"""The detector's classes and its YOLO dataset, derived from the corpus' ground truth.

The classes serve the stages downstream: blocks the tagger reads as a whole (header, patient, prescriber) and one
box per item it codes (each medication line, each lab row), plus the clutter OCR should not read (signature,
stamp). They are derived from a truth page's regions and lines by :func:`detector_boxes`, the one place both the
training export and ``make eval`` take them from.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from services.detector.model import fit

#: Region classes kept as they are in the truth.
BLOCK_CLASSES = ("header", "patient", "prescriber", "signature", "stamp", "footer")
#: Line kinds that become one box per line (the region around them is not a class of its own).
LINE_CLASSES = {"medication": "medication_line", "lab_result": "lab_row"}
CLASSES: tuple[str, ...] = (*BLOCK_CLASSES, *LINE_CLASSES.values())


def detector_boxes(page: dict[str, Any]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """The (class, box) pairs of one truth page, boxes in page pixels."""
    boxes = [(r["cls"], tuple(r["bbox"])) for r in page["regions"] if r["cls"] in BLOCK_CLASSES]
    boxes += [(LINE_CLASSES[ln["kind"]], tuple(ln["bbox"])) for ln in page["lines"] if ln.get("kind") in LINE_CLASSES]
    return boxes  # type: ignore[return-value]


def truth_pages(split_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(page image path, truth page) of every page under a corpus split, in a stable order."""
    for truth_path in sorted(split_dir.glob("*/truth.json")):
        truth = json.loads(truth_path.read_text())
        for page in truth["pages"]:
            yield truth_path.parent / page["image"], page


def yolo_label(page: dict[str, Any]) -> str:
    """The YOLO label file of a page: ``class cx cy w h`` per box, normalised to the page size."""
    width, height = page["width"], page["height"]
    rows = []
    for cls, (x0, y0, x1, y1) in detector_boxes(page):
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        rows.append(
            f"{CLASSES.index(cls)} {(x0 + x1) / 2 / width:.6f} {(y0 + y1) / 2 / height:.6f} "
            f"{(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}"
        )
    return "\n".join(rows) + "\n"


def export(*, corpus: Path, out: Path, max_pages: dict[str, int], imgsz: int | None = None) -> Path:
    """Write ``out/images/<split>``, ``out/labels/<split>`` and ``out/data.yaml``; return the yaml's path.

    Args:
        corpus: The corpus root (``train``, ``val``, ``test`` folders).
        out: The dataset folder (replaced).
        max_pages: Per split, at most this many pages (the first ones in a stable order).
        imgsz: If given, pages are stored scaled so that their long side is ``imgsz`` (with the resampling the
            detector service letterboxes with), instead of linked at full size: training then decodes small
            images, and sees them scaled exactly as serving will. Labels are normalised, so unchanged.
    """
    if out.exists():
        shutil.rmtree(out)
    for split, limit in max_pages.items():
        images, labels = out / "images" / split, out / "labels" / split
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        for count, (image, page) in enumerate(truth_pages(corpus / split)):
            if count >= limit:
                break
            name = f"{image.parent.name}-{image.stem}"
            if imgsz is None:
                (images / f"{name}{image.suffix}").symlink_to(image.resolve())
            else:
                with Image.open(image) as opened:
                    fit(opened, imgsz).save(images / f"{name}.png")
            (labels / f"{name}.txt").write_text(yolo_label(page))
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(CLASSES))
    yaml = out / "data.yaml"
    yaml.write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\ntest: images/test\nnames:\n{names}\n"
    )
    return yaml
