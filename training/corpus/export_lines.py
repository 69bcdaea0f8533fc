"""Export the corpus's printed lines with their token labels, one JSON Lines file per split (tagger training).

Usage::

    python -m training.corpus.export_lines --corpus data/corpus --out data/lines

Writes ``<out>/<split>.jsonl`` with one record per line of every page:
``{"doc_id", "page", "text", "kind", "tokens": [...], "labels": [...]}`` (whitespace tokens and their BIO tags;
``" ".join(tokens) == text``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from training.corpus.holdout import SPLITS


def line_records(truth: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The records of one document's truth, in page and drawing order."""
    for page in truth["pages"]:
        for line in page["lines"]:
            yield {
                "doc_id": truth["doc_id"],
                "page": page["page"],
                "text": line["text"],
                "kind": line["kind"],
                "tokens": [token["text"] for token in line["tokens"]],
                "labels": [token["label"] for token in line["tokens"]],
            }


def export(corpus: Path, out: Path) -> dict[str, int]:
    """Write one JSONL file per split found under ``corpus``; returns the number of lines per split."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for split in SPLITS:
        truths = sorted((corpus / split).glob("*/truth.json"))
        counts[split] = 0
        with (out / f"{split}.jsonl").open("w", encoding="utf-8") as handle:
            for path in truths:
                for record in line_records(json.loads(path.read_text(encoding="utf-8"))):
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                    counts[split] += 1
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--out", type=Path, default=Path("data/lines"))
    args = parser.parse_args(argv)
    if not any((args.corpus / split).is_dir() for split in SPLITS):
        print(f"no corpus splits under {args.corpus}; run python -m training.corpus.generate first", file=sys.stderr)
        return 2
    counts = export(args.corpus, args.out)
    print(f"exported {counts} lines to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
