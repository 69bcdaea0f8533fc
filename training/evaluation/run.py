"""``make eval``: run the complete in-process pipeline over a corpus split and print the figures.

For clean and degraded pages separately: document-type accuracy, precision/recall/F1 per field, the count of
confidently wrong codes, how many documents went to review and how many with an error in a checked field
(:data:`CHECKED_FIELDS`) did not, OCR character error rate on the detected regions, detector mAP50 / mAP50-95 per
class, and per-stage latency p50/p95. Writes ``reports/eval.json`` and a chart ``reports/eval.png``.

With ``--compare-detector yolo`` (``make eval``'s default while the serving default is the whole page) the split is
run a second time with that detector, and its mAP, character error rate, field F1 and latency are printed beside
the default pipeline's (``report["compared"]``).

Usage: ``python -m training.evaluation.run --corpus data/corpus --split test``
(any folder of ``<doc>/original.* + truth.json`` works).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from services import inprocess
from services.tagger.model import get_model as get_tagger
from shared.contracts.names import Stage
from shared.pages import PageLimits
from shared.settings import get_settings
from training.detector.dataset import detector_boxes
from training.evaluation.detection import Box, mean_ap
from training.evaluation.scoring import DocumentScore, merge, score_document
from training.tagger.align import label_ocr_line, line_position, truth_line_of
from training.tagger.metrics import entity_scores

#: The labels the tagger's targets name (issue 5), printed first.
TAGGER_TARGETS = ("DRUG", "STRENGTH", "FREQUENCY", "DURATION", "TEST", "VALUE", "UNIT")

CONDITIONS = ("clean", "degraded")

#: The fields whose errors matter most to a pharmacist: what the item is and how much. A document with an error in
#: one of them that did not go to review is an error nobody was asked to catch.
CHECKED_FIELDS = ("rxnorm_ingredient", "strength", "frequency_per_day", "loinc", "value", "unit")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0, help="at most this many documents (0: all)")
    parser.add_argument("--out", type=Path, default=Path("reports/eval.json"))
    parser.add_argument("--chart", type=Path, default=Path("reports/eval.png"))
    parser.add_argument(
        "--predictions", type=Path, default=None, help="also write each document's extraction to DIR/<doc>.json"
    )
    parser.add_argument(
        "--compare-detector",
        default="",
        metavar="NAME",
        help="also run the split with this detector (RXLAB_DETECTOR) and print its figures beside the default's",
    )
    args = parser.parse_args(argv)
    folder = args.corpus / args.split if (args.corpus / args.split).is_dir() else args.corpus
    documents = sorted(p.parent for p in folder.glob("*/truth.json"))[: args.limit or None]
    if not documents:
        print(f"no documents with truth.json under {folder}; run `make corpus` first", file=sys.stderr)
        return 2
    report = evaluate(documents, predictions=args.predictions)
    report["corpus"] = str(folder)
    if args.compare_detector and args.compare_detector != get_settings().detector:
        os.environ["RXLAB_DETECTOR"] = args.compare_detector
        get_settings.cache_clear()
        compared = evaluate(documents)
        report["compared"] = {"detector": args.compare_detector, **compared}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print_report(report)
    if "compared" in report:
        print_comparison(report, report["compared"])
    draw_chart(report, args.chart)
    print(f"\nwrote {args.out} and {args.chart}")
    return 0


def evaluate(documents: list[Path], *, predictions: Path | None = None) -> dict[str, Any]:
    """Run and score every document; aggregate per condition (and keep each extraction under ``predictions``)."""
    inprocess.warm_up()
    if predictions is not None:
        predictions.mkdir(parents=True, exist_ok=True)
    limits = PageLimits()
    per_condition: dict[str, dict[str, Any]] = {c: _bucket() for c in CONDITIONS}
    started = time.perf_counter()
    for index, folder in enumerate(documents, start=1):
        truth = json.loads((folder / "truth.json").read_text())
        bucket = per_condition[truth.get("condition", "clean")]
        original = next(folder.glob("original.*"))
        tick = time.perf_counter()
        extraction = inprocess.extract(data=original.read_bytes(), limits=limits, document_id=truth["doc_id"])
        bucket["latency"]["document"].append((time.perf_counter() - tick) * 1000)
        _collect(bucket, truth, extraction)
        if predictions is not None:
            (predictions / f"{folder.name}.json").write_text(json.dumps(extraction.result.to_json_dict(), indent=1))
        print(f"\r[{index}/{len(documents)}] {folder.name}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "documents": len(documents),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "model_versions": extraction.result.model_versions.model_dump(),
        "conditions": {c: _summarise(b) for c, b in per_condition.items() if b["scores"]},
        "code_accuracy": merge(score for b in per_condition.values() for score in b["scores"])["code_accuracy"],
    }


def _bucket() -> dict[str, Any]:
    return {
        "scores": [],
        "cer": [0, 0],
        "pred_boxes": [],
        "true_boxes": [],
        "classes": set(),
        "latency": defaultdict(list),
        "tags": {"truth": ([], []), "ocr": ([], [])},
        "review": [],
    }


def _collect(bucket: dict[str, Any], truth: dict[str, Any], extraction: inprocess.Extraction) -> None:
    score = score_document(predicted=extraction.result.to_json_dict(), truth=truth["expected"])
    bucket["scores"].append(score)
    wrong = sum(score.fields[f].fp + score.fields[f].fn for f in CHECKED_FIELDS if f in score.fields)
    bucket["review"].append((extraction.result.needs_review, wrong > 0))
    detect = extraction.outputs[Stage.DETECT]
    ocr = extraction.outputs[Stage.OCR]
    for stage, output in extraction.outputs.items():
        bucket["latency"][stage.value].append(output.timings.total_ms)
    for page in truth["pages"]:
        number = page["page"]
        predicted_page = next(p for p in detect.pages if p.page == number)
        bucket["pred_boxes"].append([Box(r.cls, r.bbox, r.confidence) for r in predicted_page.regions])
        true_boxes = [Box(cls, bbox) for cls, bbox in detector_boxes(page)]
        bucket["true_boxes"].append(true_boxes)
        bucket["classes"].update(box.cls for box in true_boxes)
        read = [line for line in ocr.lines if line.page == number]
        _collect_tags(bucket["tags"], page["lines"], read, document_type=extraction.outputs[Stage.TAG].document_type)
        errors, chars = page_errors(page["lines"], read)
        bucket["cer"][0] += errors
        bucket["cer"][1] += chars


def _collect_tags(
    tags: dict[str, tuple[list[Any], list[Any]]], truth_lines: list[Any], read: list[Any], *, document_type: str
) -> None:
    """Gold and predicted word tags of one page: the printed lines (truth text) and the OCR lines (aligned gold).

    Both are decoded with the prior of the document type the pipeline decided, as the tag stage does.
    """
    model = get_tagger()
    printed = [[t["text"] for t in line["tokens"]] for line in truth_lines]
    for line, tagged in zip(truth_lines, model.tag(printed, document_type=document_type), strict=True):
        tags["truth"][0].append([t["label"] for t in line["tokens"]])
        tags["truth"][1].append([w.tag for w in tagged])
    ocr_lines = [line for line in read if line.words]
    gold = [label_ocr_line([(w.text, w.bbox) for w in line.words], truth_lines) for line in ocr_lines]
    for labelled, tagged in zip(gold, model.tag([g.words for g in gold], document_type=document_type), strict=True):
        tags["ocr"][0].append(labelled.labels)
        tags["ocr"][1].append([w.tag for w in tagged])


def page_errors(truth_lines: Sequence[dict[str, Any]], read: Sequence[Any]) -> tuple[int, int]:
    """Character errors of a page's OCR against its printed lines, and the printed character count.

    Every OCR word belongs to at most one printed line (:func:`truth_line_of`: by position in the line's outline,
    so the overlapping enclosing boxes of a rotated page's rows do not count a word twice); a line's words are put
    in order along it and compared with its text by edit distance. Words outside every line are not counted.
    """
    found: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for line in read:
        for word in line.words:
            home = truth_line_of(word.bbox, truth_lines)
            if home is not None:
                centre = ((word.bbox[0] + word.bbox[2]) / 2, (word.bbox[1] + word.bbox[3]) / 2)
                found[home].append((line_position(centre, truth_lines[home])[0], word.text))
    errors = chars = 0
    for index, line in enumerate(truth_lines):
        words = " ".join(text for _, text in sorted(found.get(index, [])))
        errors += Levenshtein.distance(words, line["text"])
        chars += len(line["text"])
    return errors, chars


def _summarise(bucket: dict[str, Any]) -> dict[str, Any]:
    scores: list[DocumentScore] = bucket["scores"]
    errors, chars = bucket["cer"]
    return {
        **merge(scores),
        "ocr_cer": round(errors / chars, 4) if chars else None,
        "detector": mean_ap(
            predictions=bucket["pred_boxes"], truths=bucket["true_boxes"], classes=sorted(bucket["classes"])
        ),
        "latency_ms": {stage: _percentiles(values) for stage, values in bucket["latency"].items()},
        "review": {
            "sent": sum(sent for sent, _ in bucket["review"]),
            "with_errors": sum(wrong for _, wrong in bucket["review"]),
            "not_sent_with_errors": sum(wrong and not sent for sent, wrong in bucket["review"]),
        },
        "tagger": {
            source: entity_scores(gold=gold, predicted=predicted)
            for source, (gold, predicted) in bucket["tags"].items()
        },
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if len(ordered) == 1:
        return {"p50": round(ordered[0], 1), "p95": round(ordered[0], 1), "n": 1}
    cuts = statistics.quantiles(ordered, n=20, method="inclusive")
    return {"p50": round(statistics.median(ordered), 1), "p95": round(cuts[18], 1), "n": len(ordered)}


def print_report(report: dict[str, Any]) -> None:
    """Print the figures as tables, one column per condition."""
    conditions = list(report["conditions"])
    rows = report["conditions"]
    print(f"\nrxlab eval — {report['documents']} documents, {report['wall_seconds']} s, {report['machine']}")
    print(f"models: {report['model_versions']}")
    print(f"\n{'':28}" + "".join(f"{c:>22}" for c in conditions))
    print(f"{'documents':28}" + "".join(f"{rows[c]['documents']:>22}" for c in conditions))
    print(f"{'document-type accuracy':28}" + "".join(f"{rows[c]['document_type_accuracy']:>22}" for c in conditions))
    print(f"{'OCR CER (detected regions)':28}" + "".join(f"{rows[c]['ocr_cer']!s:>22}" for c in conditions))
    print(f"{'confidently wrong codes':28}" + "".join(f"{rows[c]['confidently_wrong_codes']:>22}" for c in conditions))
    print(f"{'sent to review':28}" + "".join(f"{rows[c]['review']['sent']:>22}" for c in conditions))
    print(
        f"{'with errors (checked fields)':28}" + "".join(f"{rows[c]['review']['with_errors']:>22}" for c in conditions)
    )
    print(
        f"{'  of them not sent to review':28}"
        + "".join(f"{rows[c]['review']['not_sent_with_errors']:>22}" for c in conditions)
    )
    print("\ncode accuracy on correctly tagged items: accuracy of n / wrong, sent to review")
    print(f"{'':28}" + "".join(f"{c:>22}" for c in [*conditions, "all"]))
    for name, total in report["code_accuracy"].items():
        accuracies = [*(rows[c]["code_accuracy"].get(name) for c in conditions), total]
        cells = [f"{a['accuracy']:.3f} of {a['items']}" if a and a["items"] else "-" for a in accuracies]
        print(f"  {name:26}" + "".join(f"{cell:>22}" for cell in cells))
        cells = [f"{a['wrong']} / {a['abstained']}" if a else "-" for a in accuracies]
        print(f"  {'':26}" + "".join(f"{cell:>22}" for cell in cells))
    print("\nfield F1 (precision / recall)")
    for name in rows[conditions[0]]["fields"]:
        cells = []
        for c in conditions:
            f = rows[c]["fields"].get(name)
            cells.append(f"{f['f1']:.3f} ({f['precision']:.2f}/{f['recall']:.2f})" if f else "-")
        print(f"  {name:26}" + "".join(f"{cell:>22}" for cell in cells))
    print("\ntagger entity F1: printed text / OCR text")
    labels = list(rows[conditions[0]]["tagger"]["truth"]["labels"])
    for label in [*TAGGER_TARGETS, *(x for x in labels if x not in TAGGER_TARGETS), "micro"]:
        cells = []
        for c in conditions:
            scores = rows[c]["tagger"]
            pick = [
                s["micro"] if label == "micro" else s["labels"].get(label) for s in (scores["truth"], scores["ocr"])
            ]
            cells.append(" / ".join(f"{p['f1']:.3f}" if p else "-" for p in pick))
        print(f"  {label:26}" + "".join(f"{cell:>22}" for cell in cells))
    print("\ndetector mAP50 / mAP50-95")
    for cls in rows[conditions[0]]["detector"]:
        cells = [_map_cell(rows[c]["detector"].get(cls)) for c in conditions]
        print(f"  {cls:26}" + "".join(f"{cell:>22}" for cell in cells))
    print("\nlatency ms p50 / p95")
    for stage in rows[conditions[0]]["latency_ms"]:
        cells = [
            f"{rows[c]['latency_ms'][stage]['p50']} / {rows[c]['latency_ms'][stage]['p95']}"
            if stage in rows[c]["latency_ms"]
            else "-"
            for c in conditions
        ]
        print(f"  {stage:26}" + "".join(f"{cell:>22}" for cell in cells))


def print_comparison(report: dict[str, Any], compared: dict[str, Any]) -> None:
    """The default pipeline's figures beside those of the same split run with another detector."""
    base, other = report["conditions"], compared["conditions"]
    conditions = [c for c in base if c in other]
    names = (report["model_versions"]["detector"], compared["model_versions"]["detector"])
    print(f"\ndetector compared: {names[0]} / {names[1]} (same documents, OCR, tagger and vocabulary)")
    print(f"{'':28}" + "".join(f"{c:>26}" for c in conditions))
    print(f"{'OCR CER':28}" + "".join(f"{base[c]['ocr_cer']!s:>12} / {other[c]['ocr_cer']!s:<11}" for c in conditions))
    print(
        f"{'confidently wrong codes':28}"
        + "".join(
            f"{base[c]['confidently_wrong_codes']!s:>12} / {other[c]['confidently_wrong_codes']!s:<11}"
            for c in conditions
        )
    )
    print("field F1")
    for name in base[conditions[0]]["fields"]:
        cells = []
        for c in conditions:
            pair = [rows[c]["fields"].get(name) for rows in (base, other)]
            cells.append(" / ".join(f"{f['f1']:.3f}" if f else "-" for f in pair))
        print(f"  {name:26}" + "".join(f"{cell:>26}" for cell in cells))
    print(f"mAP50 / mAP50-95 of {names[1]}")
    for cls in other[conditions[0]]["detector"]:
        print(f"  {cls:26}" + "".join(f"{_map_cell(other[c]['detector'].get(cls)):>26}" for c in conditions))
    print("latency ms p50 / p95")
    for stage in ("detect", "ocr", "document"):
        cells = []
        for c in conditions:
            pair = [rows[c]["latency_ms"].get(stage) for rows in (base, other)]
            cells.append(" | ".join(f"{p['p50']:.0f}/{p['p95']:.0f}" if p else "-" for p in pair))
        print(f"  {stage:26}" + "".join(f"{cell:>26}" for cell in cells))


def _map_cell(row: dict[str, float | None] | None) -> str:
    if not row or row["map50"] is None:
        return "-"
    return f"{row['map50']:.3f} / {row['map50_95']:.3f}"


def draw_chart(report: dict[str, Any], path: Path) -> None:
    """Per-field F1 by condition, and latency by stage, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = list(report["conditions"])
    fields = list(report["conditions"][conditions[0]]["fields"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(conditions)
    for k, condition in enumerate(conditions):
        values = [report["conditions"][condition]["fields"].get(f, {}).get("f1", 0.0) for f in fields]
        left.bar([i + k * width for i in range(len(fields))], values, width, label=condition)
    left.set_xticks(
        [i + width * (len(conditions) - 1) / 2 for i in range(len(fields))], fields, rotation=45, ha="right"
    )
    left.set_ylim(0, 1.05)
    left.set_ylabel("F1")
    left.set_title("field F1")
    left.legend()
    stages = [s for s in report["conditions"][conditions[0]]["latency_ms"] if s != "document"]
    for k, condition in enumerate(conditions):
        values = [report["conditions"][condition]["latency_ms"][s]["p50"] for s in stages]
        right.bar([i + k * width for i in range(len(stages))], values, width, label=condition)
    right.set_xticks([i + width * (len(conditions) - 1) / 2 for i in range(len(stages))], stages)
    right.set_ylabel("ms (p50)")
    right.set_title("latency by stage")
    fig.suptitle(f"rxlab eval — {report['documents']} documents, {report['generated_at']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
