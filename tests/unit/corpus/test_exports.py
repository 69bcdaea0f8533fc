"""The detector's YOLO dataset and the tagger's line export, from a corpus folder."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.corpus.conftest import Written
from training.corpus import export_lines
from training.detector import dataset


def _corpus_root(corpus: dict[str, Written]) -> Path:
    return corpus["rx_clean"].folder.parents[1]


def test_detector_dataset_export(corpus: dict[str, Written], tmp_path: Path) -> None:
    root = _corpus_root(corpus)
    yaml = dataset.export(corpus=root, out=tmp_path / "yolo", max_pages={"train": 100, "val": 100})
    labels = sorted((tmp_path / "yolo" / "labels").rglob("*.txt"))
    pages = sum(len(w.truth["pages"]) for w in corpus.values() if w.truth["split"] in {"train", "val"})
    assert len(labels) == pages == len(list((tmp_path / "yolo" / "images").rglob("*.png")))
    for label in labels:
        rows = [row.split() for row in label.read_text().splitlines()]
        assert rows
        for cls, *numbers in rows:
            assert 0 <= int(cls) < len(dataset.CLASSES)
            assert all(0.0 <= float(n) <= 1.0 for n in numbers) and len(numbers) == 4
    assert "  0: header" in yaml.read_text()
    truth = corpus["rx_clean"].truth["pages"][0]
    boxes = dataset.detector_boxes(truth)
    medication_lines = [ln for ln in truth["lines"] if ln["kind"] == "medication"]
    assert [b for c, b in boxes if c == "medication_line"] == [tuple(ln["bbox"]) for ln in medication_lines]
    assert {c for c, _ in boxes} <= set(dataset.CLASSES)
    assert not {"medications", "lab_table"} & {c for c, _ in boxes}


def test_lines_export(corpus: dict[str, Written], tmp_path: Path) -> None:
    counts = export_lines.export(_corpus_root(corpus), tmp_path)
    records = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert len(records) == counts["train"] > 0
    for record in records:
        assert set(record) == {"doc_id", "page", "text", "kind", "tokens", "labels"}
        assert " ".join(record["tokens"]) == record["text"]
        assert len(record["tokens"]) == len(record["labels"])
    assert any(record["kind"] == "medication" for record in records)
    assert any(record["kind"] == "lab_result" for record in records)
