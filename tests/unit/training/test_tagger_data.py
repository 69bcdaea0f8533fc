"""Tagger data: OCR words take the tags of the truth characters they were read from; entity scoring."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from shared.contracts.stages import Word
from training.corpus.degrade import rotation_homography, transform_box, transform_quad
from training.evaluation.run import page_errors
from training.tagger.align import label_ocr_line, truth_line_of, truth_owners, word_owners
from training.tagger.metrics import entity_scores, spans

TRUTH_LINE = {
    "text": "Tab. Metformin 500 mg 1-0-1",
    "bbox": [100.0, 50.0, 700.0, 80.0],
    "tokens": [
        {"text": "Tab.", "label": "B-FORM"},
        {"text": "Metformin", "label": "B-DRUG"},
        {"text": "500", "label": "B-STRENGTH"},
        {"text": "mg", "label": "I-STRENGTH"},
        {"text": "1-0-1", "label": "B-FREQUENCY"},
    ],
}
OTHER_LINE = {
    "text": "Date: 11/04/2024",
    "bbox": [800.0, 52.0, 1100.0, 80.0],
    "tokens": [{"text": "Date:", "label": "O"}, {"text": "11/04/2024", "label": "B-DATE"}],
}


def test_truth_owners_number_entities_and_leave_spaces_unowned() -> None:
    text, owners = truth_owners(TRUTH_LINE["tokens"])
    assert text == TRUTH_LINE["text"]
    assert owners[0] == ("FORM", 0) and owners[4] is None
    assert owners[text.index("500")] == owners[text.index("mg")] == ("STRENGTH", 2)


def test_ocr_noise_merged_and_split_words_keep_their_entities() -> None:
    text, owners = truth_owners(TRUTH_LINE["tokens"])
    read = ["Tab.", "Metf0rmin", "500mg", "1-0-l"]
    assert [o[0] if o else None for o in word_owners(read, text, owners)] == ["FORM", "DRUG", "STRENGTH", "FREQUENCY"]
    split = ["Tab.", "Met", "formin", "500", "mg"]
    assert [o[0] if o else None for o in word_owners(split, text, owners)][1:3] == ["DRUG", "DRUG"]


def test_an_ocr_line_across_two_printed_lines_is_labelled_from_each_by_position() -> None:
    words = [
        ("Tab.", (100, 52, 160, 78)),
        ("Metformin", (170, 52, 330, 78)),
        ("500", (340, 52, 400, 78)),
        ("mg", (405, 52, 440, 78)),
        ("1-0-1", (450, 52, 540, 78)),
        ("Date:", (800, 54, 880, 78)),
        ("11/04/2024", (890, 54, 1090, 78)),
        ("~", (1500, 54, 1510, 78)),
    ]
    labelled = label_ocr_line(words, [TRUTH_LINE, OTHER_LINE])
    assert labelled.labels == [
        "B-FORM", "B-DRUG", "B-STRENGTH", "I-STRENGTH", "B-FREQUENCY", "O", "B-DATE", "O",
    ]  # fmt: skip


def test_spans_and_entity_scores() -> None:
    assert spans(["B-DRUG", "I-DRUG", "O", "I-UNIT"]) == {("DRUG", 0, 2), ("UNIT", 3, 4)}
    gold = [["B-DRUG", "I-DRUG", "B-STRENGTH"], ["B-TEST", "B-VALUE"]]
    assert entity_scores(gold=gold, predicted=gold)["micro"]["f1"] == 1.0
    wrong = entity_scores(gold=gold, predicted=[["B-DRUG", "O", "B-STRENGTH"], ["O", "O"]])
    assert wrong["labels"]["DRUG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert wrong["labels"]["STRENGTH"]["f1"] == 1.0
    assert wrong["micro"]["recall"] == 0.25


def _rotated_rows(angle: float) -> tuple[list[dict[str, object]], np.ndarray]:
    """Two printed rows 30 px apart on a page turned by ``angle`` degrees, as truth.json has them."""
    matrix = rotation_homography(angle, 1200, 800)
    rows = []
    for top, tokens in ((300.0, TRUTH_LINE["tokens"]), (330.0, OTHER_LINE["tokens"])):
        box = (100.0, top, 1100.0, top + 24.0)
        rows.append(
            {
                "text": " ".join(t["text"] for t in tokens),  # type: ignore[index]
                "bbox": list(transform_box(box, matrix, 1200, 800)),
                "quad": [list(p) for p in transform_quad(box, matrix)],
                "tokens": tokens,
            }
        )
    return rows, matrix


def test_rows_of_a_rotated_page_are_told_apart_though_their_enclosing_boxes_overlap() -> None:
    rows, matrix = _rotated_rows(4.0)
    assert rows[0]["bbox"][3] > rows[1]["bbox"][1] + 40  # type: ignore[index]  # the boxes overlap by far
    # The words of the second row, where OCR finds them on the turned page (axis-aligned word boxes).
    printed = [("Date:", (100.0, 330.0, 180.0, 354.0)), ("11/04/2024", (190.0, 330.0, 390.0, 354.0))]
    words = [(text, transform_box(box, matrix, 1200, 800)) for text, box in printed]
    assert [truth_line_of(box, rows) for _, box in words] == [1, 1]
    assert label_ocr_line(words, rows).labels == ["O", "B-DATE"]


def test_page_errors_count_each_word_once_in_order_along_its_line() -> None:
    rows, matrix = _rotated_rows(-3.0)
    read = []
    for row, top in zip(rows, (300.0, 330.0), strict=True):
        x = 100.0
        words = []
        for token in row["tokens"]:  # type: ignore[attr-defined]
            width = 20.0 * len(token["text"])
            words.append(
                Word(
                    text=token["text"],
                    bbox=transform_box((x, top, x + width, top + 24), matrix, 1200, 800),
                    confidence=0.9,
                )
            )
            x += width + 10
        read.append(SimpleNamespace(words=words))
    chars = sum(len(str(r["text"])) for r in rows)
    assert page_errors(rows, read) == (0, chars)
    read[1].words[1] = Word(text="11/O4/2O24", bbox=read[1].words[1].bbox, confidence=0.5)
    assert page_errors(rows, read) == (2, chars)


def _printed_line(frequency: str) -> dict[str, Any]:
    """A printed medication line of the tagger data ("Tab Ibuprofen 400 mg <frequency> daily")."""
    return {
        "source": "truth",
        "words": ["Tab", "Ibuprofen", "400", "mg", frequency, "daily"],
        "labels": ["B-FORM", "B-DRUG", "B-STRENGTH", "I-STRENGTH", "B-FREQUENCY", "I-FREQUENCY"],
    }


def test_separator_copies_put_o_tagged_separators_between_fields_only() -> None:
    from training.tagger.train import SEPARATORS, with_separators

    record = _printed_line("twice")
    copies = with_separators([record, {**record, "source": "ocr"}] * 50, rate=1.0, seed=3)
    assert len(copies) == 50 and all(c["source"] == "truth+separators" for c in copies)
    for copy in copies:
        added = [i for i, w in enumerate(copy["words"]) if w in SEPARATORS]
        assert added and all(copy["labels"][i] == "O" for i in added)
        assert [w for w in copy["words"] if w not in SEPARATORS] == record["words"]
        # only at field boundaries: never inside "400 mg" or "twice daily", never first
        assert all(copy["labels"][i + 1].startswith("B-") and i > 0 for i in added)
    assert with_separators([record], rate=0.0, seed=3) == []


def test_ocr_records_name_the_engine_that_read_them_and_label_its_words() -> None:
    from services.ocr.engine import OcrLine
    from training.tagger.dataset import ENGINES, ocr_records

    assert ENGINES[0] == "tesseract-page"
    truth = {
        "doc_id": "d1",
        "condition": "degraded",
        "pages": [{"page": 1, "lines": [{**TRUTH_LINE, "kind": "medication"}]}],
    }
    words = tuple(
        Word(text=t, bbox=b, confidence=0.9)
        for t, b in [("Tab.", (100.0, 52.0, 150.0, 78.0)), ("Metf0rmin", (160.0, 52.0, 300.0, 78.0))]
    )
    line = OcrLine(text="Tab. Metf0rmin", bbox=(100.0, 52.0, 300.0, 78.0), confidence=0.9, words=words)
    (record,) = ocr_records(truth, [[line]], engine="tesseract-page-prepared")
    assert record["engine"] == "tesseract-page-prepared" and record["source"] == "ocr"
    assert record["words"] == ["Tab.", "Metf0rmin"] and record["labels"] == ["B-FORM", "B-DRUG"]


def test_ocr_noise_copies_damage_words_of_printed_lines_and_keep_their_tags() -> None:
    import random

    from training.tagger.train import damage, with_ocr_noise

    record = _printed_line("1-0-1")
    ocr = {**record, "source": "ocr"}
    copies = with_ocr_noise([record, ocr] * 50, rate=1.0, seed=3)
    assert 40 <= len(copies) <= 50 and all(c["source"] == "truth+noise" for c in copies)
    for copy in copies:
        assert copy["labels"] == record["labels"] and len(copy["words"]) == len(record["words"])
        changed = [(a, b) for a, b in zip(record["words"], copy["words"], strict=True) if a != b]
        assert changed and all(abs(len(a) - len(b)) <= 1 for a, b in changed)
    assert copies == with_ocr_noise([record, ocr] * 50, rate=1.0, seed=3)  # seeded
    assert with_ocr_noise([record], rate=0.0, seed=3) == []
    slips = {damage("daily", random.Random(seed)) for seed in range(200)}  # noqa: S311 - seeded, not secret
    assert "dally" in slips and "daly" in slips and "daily" not in slips


def test_extra_documents_are_degraded_train_plans_after_the_corpus_and_never_its_own(tmp_path: Any) -> None:
    import json

    from training.corpus.document import plan_document
    from training.corpus.holdout import allowed
    from training.tagger.dataset import extra_plans

    (tmp_path / "manifest.json").write_text(json.dumps({"seed": 7, "splits": {"train": {"documents": 30}}}))
    plans = extra_plans(tmp_path, 12)
    assert len(plans) == 12 and all(p.condition == "degraded" and p.split == "train" for p in plans)
    indices = [int(p.doc_id.split("-")[1]) for p in plans]
    assert min(indices) >= 30 and indices == sorted(set(indices))
    assert all(p.template in allowed("template", "train") for p in plans)  # no held-out test template
    # the very plans the corpus generator would make at those indices: same seed, same split
    assert plans[0] == plan_document(seed=7, split="train", index=indices[0])
    skipped = set(range(30, indices[-1])) - set(indices)
    assert all(plan_document(seed=7, split="train", index=i).condition == "clean" for i in skipped)


def test_training_reads_the_extra_file_when_built_and_keeps_identical_lines_once(tmp_path: Any) -> None:
    import json

    from training.tagger.train import read_records, train_files

    line = {"words": ["Tab", "X"], "labels": ["B-FORM", "B-DRUG"], "source": "ocr"}
    (tmp_path / "train.jsonl").write_text(json.dumps(line) + "\n")
    assert train_files(tmp_path) == [tmp_path / "train.jsonl"]
    other = {**line, "words": ["Tab", "Y"]}
    (tmp_path / "train-extra.jsonl").write_text(json.dumps(line) + "\n" + json.dumps(other) + "\n")
    files = train_files(tmp_path)
    assert files == [tmp_path / "train.jsonl", tmp_path / "train-extra.jsonl"]
    assert [r["words"] for r in read_records(*files)] == [["Tab", "X"], ["Tab", "Y"]]
