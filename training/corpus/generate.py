"""Generate the synthetic corpus: ``<out>/<split>/<doc_id>/{original.<ext>, page-NNN.png, truth.json}``.

Usage::

    python -m training.corpus.generate --out data/corpus --seed 7 --train 400 --val 80 --test 120 --calib 400

Each document's randomness is derived from ``(seed, split, index)``, so the corpus is the same for any number of
worker processes and any scheduling. Which templates, fonts and phrasings the test split holds out is the table in
:mod:`training.corpus.holdout`. Progress goes to stderr; a summary (documents per template, condition, format, and
the held-out share of the test split) is written to ``<out>/manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shared.settings import get_settings
from training.corpus import holdout
from training.corpus.document import DocumentPlan, build_document, plan_document, write_document
from training.corpus.fonts import DEFAULT_FONT_DIR, FontsMissingError

_WORKER: dict[str, Path] = {}


def _init_worker(vocab_dir: str, font_dir: str) -> None:
    """Per-process setup: paths, and single-threaded OpenCV (the pool is the parallelism)."""
    import cv2

    cv2.setNumThreads(1)
    _WORKER["vocab"], _WORKER["fonts"] = Path(vocab_dir), Path(font_dir)


def _make(job: tuple[DocumentPlan, str]) -> dict[str, Any]:
    plan, out = job
    built = build_document(plan, vocab_dir=_WORKER["vocab"], font_dir=_WORKER["fonts"])
    truth = write_document(built, Path(out) / plan.split / plan.doc_id)
    return {
        "doc_id": plan.doc_id,
        "split": plan.split,
        "template": plan.template,
        "font": plan.font,
        "phrasing": plan.phrasing,
        "condition": plan.condition,
        "format": truth["original"].rsplit(".", 1)[1],
        "pages": len(truth["pages"]),
    }


def plans(*, seed: int, counts: dict[str, int], font_dir: Path) -> list[DocumentPlan]:
    """The plans of every document of every split, in a fixed order."""
    return [
        plan_document(seed=seed, split=split, index=index, font_dir=font_dir)
        for split in holdout.SPLITS
        for index in range(counts.get(split, 0))
    ]


def run_jobs(
    jobs: list[tuple[DocumentPlan, str]], workers: int, vocab_dir: Path, font_dir: Path
) -> Iterator[dict[str, Any]]:
    """Draw and write each ``(plan, out)`` job in ``workers`` processes; the summary row of each, as they finish."""
    if workers <= 1:
        _init_worker(str(vocab_dir), str(font_dir))
        yield from map(_make, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(str(vocab_dir), str(font_dir))) as pool:
        yield from pool.imap_unordered(_make, jobs, chunksize=1)


def summarise(records: list[dict[str, Any]], *, seed: int, seconds: float) -> dict[str, Any]:
    """Counts per split of templates, fonts, phrasings, conditions and formats, plus the hold-out table."""
    summary: dict[str, Any] = {"seed": seed, "seconds": round(seconds, 1), "documents": len(records), "splits": {}}
    for split in holdout.SPLITS:
        rows = [r for r in records if r["split"] == split]
        summary["splits"][split] = {
            key: dict(sorted(Counter(r[key] for r in rows).items()))
            for key in ("template", "font", "phrasing", "condition", "format", "pages")
        } | {"documents": len(rows)}
    summary["held_out"] = {kind: holdout.held_out(kind) for kind in ("template", "font", "phrasing")}
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 when no font family of a split is installed)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/corpus"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--val", type=int, default=80)
    parser.add_argument("--test", type=int, default=120)
    parser.add_argument("--calib", type=int, default=400, help="documents only the normaliser's calibration reads")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--vocab-dir", type=Path, default=None, help="default: RXLAB_VOCAB_DIR / ../shared/vocab")
    parser.add_argument("--font-dir", type=Path, default=DEFAULT_FONT_DIR)
    args = parser.parse_args(argv)
    vocab_dir = args.vocab_dir or get_settings().vocab_dir
    counts = {"train": args.train, "val": args.val, "test": args.test, "calib": args.calib}
    try:
        all_plans = plans(seed=args.seed, counts=counts, font_dir=args.font_dir)
    except FontsMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    records = []
    jobs = [(plan, str(args.out)) for plan in all_plans]
    for done, record in enumerate(run_jobs(jobs, args.workers, vocab_dir, args.font_dir), start=1):
        records.append(record)
        elapsed = time.perf_counter() - started
        print(f"\r[{done}/{len(jobs)}] {record['doc_id']:<12} {elapsed:6.0f}s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    records.sort(key=lambda r: (holdout.SPLITS.index(r["split"]), r["doc_id"]))
    summary = summarise(records, seed=args.seed, seconds=time.perf_counter() - started)
    summary["plans"] = [asdict(plan) for plan in all_plans]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "manifest.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(records)} documents to {args.out} in {summary['seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
