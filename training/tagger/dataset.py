"""Tagger training data: every corpus line as printed (truth text) and as OCR reads it (labels aligned to OCR words).

Usage::

    python -m training.tagger.dataset --corpus data/corpus --out data/tagger

Writes ``<out>/<split>.jsonl``, one record per line: ``{"doc_id", "page", "condition", "source": "truth" | "ocr",
"kind", "words", "labels"}`` (OCR lines also name their ``"engine"``). The OCR lines come from the OCR engines of
:data:`ENGINES` (one Tesseract call per page) over the decoded original, so the tagger learns the noise it will
really see; their labels come from :func:`training.tagger.align.label_ocr_line`.

The pseudo-split ``train-extra`` (:data:`EXTRA_SPLIT`) is more degraded documents of the train templates, fonts and
phrasings: the plans of the corpus's train split past its last document (same seed), degraded ones only, drawn into
``<out>/extra/`` for the tagger alone. The tagger's weak spot is OCR of degraded pages; this gives it more of that
real noise without changing the corpus the detector and the normaliser's calibration read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from training.corpus.document import DocumentPlan, plan_document
from training.corpus.export_lines import line_records
from training.corpus.fonts import DEFAULT_FONT_DIR
from training.corpus.holdout import SPLITS
from training.tagger.align import label_ocr_line

#: The OCR engines whose readings of every page become training lines: the page as it came and the page cleaned up
#: first (the serving default since 2026-12-04), whose different errors widen the noise the tagger sees.
ENGINES = ("tesseract-page", "tesseract-page-prepared")
EXTRA_SPLIT = "train-extra"
#: How many extra degraded train-template documents ``train-extra`` draws (the corpus's train split has 400).
EXTRA_DOCUMENTS = 800


def truth_records(truth: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The printed lines of a document with their truth tags (the corpus's own line export, renamed fields)."""
    for record in line_records(truth):
        words, labels = record.pop("tokens"), record.pop("labels")
        yield {**record, "condition": truth["condition"], "source": "truth", "words": words, "labels": labels}


def ocr_records(truth: dict[str, Any], read_pages: Sequence[Sequence[Any]], *, engine: str) -> Iterator[dict[str, Any]]:
    """The OCR lines of a document as ``engine`` read them (one list of lines per page), labelled."""
    for page, lines in zip(truth["pages"], read_pages, strict=True):
        for line in lines:
            if not line.words:
                continue
            labelled = label_ocr_line([(w.text, w.bbox) for w in line.words], page["lines"])
            yield {
                "doc_id": truth["doc_id"],
                "page": page["page"],
                "condition": truth["condition"],
                "source": "ocr",
                "engine": engine,
                "words": labelled.words,
                "labels": labelled.labels,
            }


def document_records(folder: Path, engines: Sequence[str] = ENGINES) -> list[dict[str, Any]]:
    """Truth and OCR records of one corpus document (each of ``engines`` reads its pages)."""
    from services.ocr.engine import get_engine
    from shared.pages import PageLimits, load_pages

    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    original = next(folder.glob("original.*"))
    pages = load_pages(original.read_bytes(), limits=PageLimits())
    records = list(truth_records(truth))
    for name in engines:
        engine = get_engine(name)
        records += ocr_records(truth, [engine.read_page(image) for image in pages], engine=name)
    return records


def extra_plans(corpus: Path, count: int, *, font_dir: Path = DEFAULT_FONT_DIR) -> list[DocumentPlan]:
    """Plans of ``count`` degraded train-split documents after the corpus's own (its seed, the next indices)."""
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    seed, index = manifest["seed"], manifest["splits"]["train"]["documents"]
    chosen: list[DocumentPlan] = []
    while len(chosen) < count:
        plan = plan_document(seed=seed, split="train", index=index, font_dir=font_dir)
        if plan.condition == "degraded":
            chosen.append(plan)
        index += 1
    return chosen


def draw_extra(corpus: Path, out: Path, *, count: int, workers: int) -> list[Path]:
    """Draw the ``train-extra`` documents into ``<out>/extra/train/`` (kept when already drawn); their folders."""
    from shared.settings import get_settings
    from training.corpus.generate import run_jobs

    plans = extra_plans(corpus, count)
    root = out / "extra"
    missing = [(plan, str(root)) for plan in plans if not (root / plan.split / plan.doc_id / "truth.json").is_file()]
    for done, _ in enumerate(run_jobs(missing, workers, get_settings().vocab_dir, DEFAULT_FONT_DIR), start=1):
        print(f"\r{EXTRA_SPLIT} drawn [{done}/{len(missing)}]", end="", file=sys.stderr, flush=True)
    if missing:
        print(file=sys.stderr)
    return [root / plan.split / plan.doc_id for plan in plans]


def build(
    corpus: Path,
    out: Path,
    *,
    workers: int,
    splits: Sequence[str] = SPLITS,
    engines: Sequence[str] = ENGINES,
    extra: int = EXTRA_DOCUMENTS,
) -> dict[str, int]:
    """Write one JSONL file per split under ``out``; returns the number of records per split."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for split in splits:
        if split == EXTRA_SPLIT:
            folders = draw_extra(corpus, out, count=extra, workers=workers)
        else:
            folders = sorted(p.parent for p in (corpus / split).glob("*/truth.json"))
        counts[split] = 0
        with (
            ProcessPoolExecutor(max_workers=workers) as pool,
            (out / f"{split}.jsonl").open("w", encoding="utf-8") as handle,
        ):
            for done, records in enumerate(
                pool.map(partial(document_records, engines=engines), folders, chunksize=4), start=1
            ):
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                counts[split] += len(records)
                print(f"\r{split} [{done}/{len(folders)}]", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--out", type=Path, default=Path("data/tagger"))
    parser.add_argument("--splits", nargs="+", default=["train", EXTRA_SPLIT, "val"], choices=(*SPLITS, EXTRA_SPLIT))
    parser.add_argument("--extra", type=int, default=EXTRA_DOCUMENTS, help=f"documents of {EXTRA_SPLIT}")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), help="OCR engines whose readings are kept")
    args = parser.parse_args(argv)
    if not any((args.corpus / split).is_dir() for split in SPLITS):
        print(f"no corpus splits under {args.corpus}; run `make corpus` first", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    counts = build(
        args.corpus, args.out, workers=args.workers, splits=args.splits, engines=args.engines, extra=args.extra
    )
    print(f"wrote {counts} records to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
