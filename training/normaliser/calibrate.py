"""``make calibrate``: measure how often each way of matching a name codes it right; write the confidence model.

Usage::

    python -m training.normaliser.calibrate --corpus data/corpus

1. Every document of the fit splits (``train`` and ``calib``) and of the check split (``val``) is read by the
   serving stages (detect → OCR → tag), so the names are the ones the normaliser really gets, OCR damage and
   tagging slips included. The tag output is cached under ``data/normaliser/tagged/`` per document, keyed by the
   stage versions.
2. Each medication and lab-result line is matched against the vocabulary (:mod:`services.normaliser.assemble`)
   and paired with the truth's items as ``make eval`` pairs them; a match is right when its code is the truth's
   (a line with no truth item, or a truth item with no code, makes any code wrong).
3. Per kind (drug, lab) and method, the confidence is the measured precision on the fit splits, Laplace smoothed
   ((right + 1) / (n + 2)); a closest-key ("fuzzy") match gets a logistic model of its similarity and margin, fitted
   on the same split. The reliability of the result — confidence bins against the share right — is measured on
   the check split and written beside the numbers in ``models/normaliser/calibration.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.normaliser import assemble
from services.normaliser.calibration import KINDS, Calibration, default_path
from services.normaliser.pipeline import get_vocabulary
from shared.contracts.stages import TagOutput
from training.evaluation.scoring import LAB_FIELDS, MED_FIELDS, pair_items

CACHE = Path("data/normaliser/tagged")
METHODS = ("exact", "part", "inside", "corrected", "short", "ambiguous", "range", "interrupted")
#: Confidence bins of the reliability table.
BINS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0001)
#: L2 penalty of the logistic fit (keeps it finite when the closest-key matches are few or all of one outcome).
L2 = 0.1


@dataclass(frozen=True, slots=True)
class Sample:
    kind: str
    method: str
    similarity: float
    margin: float
    right: bool
    doc: str
    text: str


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--fit", nargs="+", default=["train", "calib"], help="splits the confidences are measured on")
    parser.add_argument("--check", default="val", help="split their reliability is checked on")
    parser.add_argument("--out", type=Path, default=default_path())
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    splits = {
        name: sorted(p.parent for p in (args.corpus / name).glob("*/truth.json")) for name in (*args.fit, args.check)
    }
    missing = [name for name, folders in splits.items() if not folders]
    if missing:
        print(f"no documents under {args.corpus}/{{{','.join(missing)}}}; run `make corpus` first", file=sys.stderr)
        return 2
    for name, folders in splits.items():
        tag_documents(folders, workers=args.workers, label=name)
    fit_folders = [folder for name in args.fit for folder in splits[name]]
    fit = [s for folder in fit_folders for s in samples(folder)]
    check = [s for folder in splits[args.check] for s in samples(folder)]
    document = calibrate(fit)
    calibration = Calibration.from_json(document)
    document["fit"] = {"split": "+".join(args.fit), "documents": len(fit_folders), "samples": _counts(fit)}
    document["check"] = {
        "split": args.check,
        "documents": len(splits[args.check]),
        "samples": _counts(check),
        "reliability": reliability(calibration, check),
    }
    document["vocabulary"] = get_vocabulary().version
    document["command"] = "make calibrate"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print_summary(document)
    print(f"wrote {args.out}")
    return 0


# ------------------------------------------------------------------------------------------------ tagging
def tag_documents(folders: list[Path], *, workers: int, label: str) -> None:
    """Tag (and cache) every document whose cached tag output is missing or from other stage versions."""
    todo = [folder for folder in folders if _cached(folder) is None]
    if not todo:
        return
    print(f"tagging {len(todo)} {label} documents (cached in {CACHE})", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for index, name in enumerate(pool.map(_tag_one, todo), start=1):
            print(f"\r[{index}/{len(todo)}] {name}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def _stage_versions() -> dict[str, str]:
    from services.detector.model import get_detector
    from services.ocr.engine import get_engine
    from services.tagger.model import get_model

    return {"detector": get_detector().version, "ocr": get_engine().version, "tagger": get_model().version}


def _cached(folder: Path) -> TagOutput | None:
    path = CACHE / f"{folder.name}.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record.get("versions") != _stage_versions():
        return None
    return TagOutput.model_validate(record["tag"])


def _tag_one(folder: Path) -> str:
    from services import inprocess
    from shared.contracts.names import Stage
    from shared.pages import PageLimits
    from shared.stage_runner import StageInput

    truth = json.loads((folder / "truth.json").read_text())
    original = next(folder.glob("original.*"))
    stage_input = StageInput(
        document_id=truth["doc_id"], requested_type="auto", original=original.read_bytes(), limits=PageLimits()
    )
    for stage in (Stage.DETECT, Stage.OCR, Stage.TAG):
        stage_input.outputs[stage] = inprocess.COMPUTE[stage](stage_input)
    tagged: TagOutput = stage_input.output(Stage.TAG, TagOutput)
    CACHE.mkdir(parents=True, exist_ok=True)
    record = {"versions": _stage_versions(), "tag": tagged.model_dump(mode="json")}
    (CACHE / f"{folder.name}.json").write_text(json.dumps(record))
    return folder.name


# ------------------------------------------------------------------------------------------------ samples
def samples(folder: Path) -> Iterator[Sample]:
    """One sample per medication and lab-result line the normaliser found a candidate code for."""
    tagged = _cached(folder)
    if tagged is None:
        raise FileNotFoundError(f"{folder.name} is not tagged; run tag_documents first")
    truth = json.loads((folder / "truth.json").read_text())["expected"]
    vocabulary = get_vocabulary()
    groups = assemble.group_lines(tagged.lines)
    medications = []
    for line in groups.medications:
        _, words, drug = assemble.drug_match(line, vocabulary=vocabulary)
        item = {"text": line.text, "page": line.page, "bbox": line.bbox, "drug": {"text": words}}
        medications.append((item, drug, drug.rxcui if drug else None))
    labs = []
    sex = assemble.patient(groups.header).sex
    for line in groups.lab_results:
        test_text, _, test = assemble.lab_match(line, vocabulary=vocabulary, sex=sex)
        item = {"text": line.text, "page": line.page, "bbox": line.bbox, "test": {"text": test_text}}
        labs.append((item, test, test.code if test else None))
    for kind, found, items, code_of in (
        ("drug", medications, truth.get("medications", []), MED_FIELDS["rxnorm_ingredient"]),
        ("lab", labs, truth.get("lab_results", []), LAB_FIELDS["loinc"]),
    ):
        by_item = {id(item): (match, code) for item, match, code in found}
        pairs, unmatched, _ = pair_items([item for item, _, _ in found], items)
        judged = [(pred, code_of(true)) for pred, true in pairs] + [(pred, None) for pred in unmatched]
        for pred, expected in judged:
            match, code = by_item[id(pred)]
            if match is None:
                continue
            yield Sample(
                kind=kind,
                method=match.method,
                similarity=match.score,
                margin=match.margin,
                right=code == expected,
                doc=folder.name,
                text=str((pred.get("drug") or pred.get("test") or {}).get("text")),
            )


# ------------------------------------------------------------------------------------------------ fitting
def calibrate(fit: list[Sample]) -> dict[str, Any]:
    """The calibration document (precision per method, logistic coefficients) measured on ``fit``."""
    precision: dict[str, dict[str, float]] = {}
    fuzzy: dict[str, list[float]] = {}
    for kind in KINDS:
        mine = [s for s in fit if s.kind == kind]
        precision[kind] = {}
        for method in METHODS:
            outcomes = [s.right for s in mine if s.method == method]
            precision[kind][method] = round((sum(outcomes) + 1) / (len(outcomes) + 2), 4)
        closest = [s for s in mine if s.method == "fuzzy"]
        fuzzy[kind] = [round(float(w), 4) for w in logistic_fit(closest)]
    digest = hashlib.sha256(json.dumps([precision, fuzzy], sort_keys=True).encode()).hexdigest()[:12]
    return {"version": f"cal-{digest}", "precision": precision, "fuzzy": fuzzy}


def logistic_fit(samples: list[Sample]) -> np.ndarray:
    """(bias, similarity, margin) weights of P(right) by Newton's method with an L2 penalty on the weights.

    The features are centred on a similarity of 0.9 so the penalty pulls towards "as likely as not" near the
    review threshold rather than towards some arbitrary point.
    """
    if not samples:
        return np.array([-10.0, 0.0, 0.0])  # nothing measured: a closest-key match is never confident
    x = np.array([[1.0, s.similarity - 0.9, s.margin] for s in samples])
    y = np.array([float(s.right) for s in samples])
    w = np.zeros(3)
    penalty = np.diag([0.0, L2, L2])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x.T * (p * (1 - p))) @ x + penalty + 1e-9 * np.eye(3)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return np.array([w[0] - 0.9 * w[1], w[1], w[2]])  # back to the raw similarity


def reliability(calibration: Calibration, check: list[Sample]) -> list[dict[str, Any]]:
    """Per confidence bin on the check split: how many matches, and the share of them that were right."""
    rows = []
    scored = [
        (calibration.confidence(kind=s.kind, method=s.method, similarity=s.similarity, margin=s.margin), s.right)
        for s in check
    ]
    for low, high in itertools.pairwise(BINS):
        inside = [(c, r) for c, r in scored if low <= c < high]
        rows.append(
            {
                "confidence": f"[{low:.2f}, {min(high, 1.0):.2f}{']' if high > 1 else ')'}",
                "matches": len(inside),
                "mean_confidence": round(sum(c for c, _ in inside) / len(inside), 4) if inside else None,
                "share_right": round(sum(r for _, r in inside) / len(inside), 4) if inside else None,
            }
        )
    return rows


def _counts(samples: list[Sample]) -> dict[str, dict[str, dict[str, int]]]:
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: {"right": 0, "n": 0}))
    for s in samples:
        cell = counts[s.kind][s.method]
        cell["n"] += 1
        cell["right"] += s.right
    return {kind: dict(methods) for kind, methods in counts.items()}


def print_summary(document: dict[str, Any]) -> None:
    print(f"\ncalibration {document['version']} (fit: {document['fit']['split']}, {document['fit']['documents']} docs)")
    for kind in KINDS:
        counts = document["fit"]["samples"].get(kind, {})
        print(f"  {kind}")
        for method, confidence in document["precision"][kind].items():
            cell = counts.get(method, {"right": 0, "n": 0})
            print(f"    {method:10} {cell['right']:>5}/{cell['n']:<5} right → confidence {confidence}")
        cell = counts.get("fuzzy", {"right": 0, "n": 0})
        print(f"    {'fuzzy':10} {cell['right']:>5}/{cell['n']:<5} right → logistic {document['fuzzy'][kind]}")
    print(f"\nreliability on {document['check']['split']} ({document['check']['documents']} docs)")
    for row in document["check"]["reliability"]:
        mean, right = row["mean_confidence"], row["share_right"]
        print(f"  {row['confidence']:14} {row['matches']:>5} matches, mean confidence {mean}, right {right}")


if __name__ == "__main__":
    raise SystemExit(main())
