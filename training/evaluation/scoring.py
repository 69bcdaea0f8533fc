"""Field-level scoring of rxlab.extraction/v1 predictions against ground truth.

Items (medications, lab results) are paired one to one: same page, highest box overlap (IoU ≥ 0.3), falling back
to text similarity when the boxes do not overlap (e.g. a whole-page detector). For every field, a pair whose values
agree is a true positive; a predicted value that is missing from the truth or differs is a false positive; a truth
value that was not predicted (or differs) is a false negative. So a perfect prediction scores 1.0 on every field,
an empty one 0.0, and anything in between in between.

The normaliser's own figures (issue 6) are code accuracies over the items whose name the upstream stages got right:
a paired medication whose predicted drug words read like the printed drug name (character similarity ≥ 0.8, so
an OCR slip such as "Metf0rmin" still counts as correctly tagged) is scored on its RxNorm ingredient, a paired lab
result likewise on its LOINC code; a paired medication whose truth has a frequency is scored on ``per_day``. A
code left out ("no confident match", sent to review) counts as not correct, so these accuracies cannot be raised
by abstaining; the abstentions are counted separately.

Units are compared as UCUM units, not as strings: ``mm3`` and ``uL`` are one unit (UCUM defines the litre as a
cubic decimetre, so a microlitre is a cubic millimetre), and a count per mm3 written as ``10*3/uL`` is right.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

MED_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "drug": lambda m: _norm_text(m["drug"]["text"]),
    "rxnorm_ingredient": lambda m: (m["drug"].get("rxnorm") or {}).get("rxcui"),
    "clinical_drug": lambda m: (m["drug"].get("clinical_drug") or {}).get("rxcui"),
    "strength": lambda m: _quantity(m.get("strength")),
    "form": lambda m: m.get("form"),
    "route": lambda m: m.get("route"),
    "frequency_per_day": lambda m: _number((m.get("frequency") or {}).get("per_day")),
    "duration": lambda m: _quantity(m.get("duration")),
    "quantity": lambda m: _number(m.get("quantity")),
}
LAB_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "lab_test": lambda r: _norm_text(r["test"]["text"]),
    "loinc": lambda r: (r["test"].get("loinc") or {}).get("code"),
    "value": lambda r: _number(r.get("value")) if r.get("value") is not None else _norm_text(r.get("value_text")),
    "unit": lambda r: _unit(r.get("unit")),
    "reference_range": lambda r: _range(r.get("reference_range")),
    "flag": lambda r: r.get("flag"),
}
CODE_FIELDS = {"rxnorm_ingredient": ("medications", MED_FIELDS), "loinc": ("lab_results", LAB_FIELDS)}
#: Character similarity (0–1) of predicted to printed name from which the name counts as correctly tagged.
TAGGED_SIMILARITY = 0.8
#: The normaliser's accuracies: name, item list, the name that must be tagged (None: any paired item), the value.
CODE_ACCURACIES: dict[str, tuple[str, Callable[[dict[str, Any]], Any] | None, Callable[[dict[str, Any]], Any]]] = {
    "rxnorm_ingredient": ("medications", MED_FIELDS["drug"], MED_FIELDS["rxnorm_ingredient"]),
    "loinc": ("lab_results", LAB_FIELDS["lab_test"], LAB_FIELDS["loinc"]),
    "frequency_per_day": ("medications", None, MED_FIELDS["frequency_per_day"]),
}


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else (1.0 if not self.fn else 0.0)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else (1.0 if not self.fp else 0.0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class Accuracy:
    """Items scored on one code: correct, wrong (another value given), abstained (no value given)."""

    correct: int = 0
    wrong: int = 0
    abstained: int = 0

    def add(self, other: Accuracy) -> None:
        self.correct += other.correct
        self.wrong += other.wrong
        self.abstained += other.abstained

    @property
    def items(self) -> int:
        return self.correct + self.wrong + self.abstained

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "items": self.items,
            "correct": self.correct,
            "wrong": self.wrong,
            "abstained": self.abstained,
            "accuracy": round(self.correct / self.items, 4) if self.items else None,
        }


@dataclass
class DocumentScore:
    fields: dict[str, Counts] = field(default_factory=dict)
    accuracies: dict[str, Accuracy] = field(default_factory=dict)
    document_type_correct: bool = False
    confidently_wrong: int = 0
    coded: int = 0


def score_document(*, predicted: dict[str, Any], truth: dict[str, Any], confident: float = 0.9) -> DocumentScore:
    """Score one predicted extraction against its truth (both rxlab.extraction/v1 dicts)."""
    result = DocumentScore(document_type_correct=predicted.get("document_type") == truth.get("document_type"))
    for key, extractors in (("medications", MED_FIELDS), ("lab_results", LAB_FIELDS)):
        pairs, unmatched_pred, unmatched_truth = pair_items(predicted.get(key, []), truth.get(key, []))
        for name, get in extractors.items():
            counts = result.fields.setdefault(name, Counts())
            _count_field(counts, get, pairs, unmatched_pred, unmatched_truth)
        code_field = next((f for f, (k, _) in CODE_FIELDS.items() if k == key), None)
        if code_field is not None:
            get_code = extractors[code_field]
            for pred, true in pairs:
                if get_code(pred) is not None:
                    result.coded += 1
                    wrong = get_code(pred) != get_code(true)
                    result.confidently_wrong += int(wrong and float(pred.get("confidence", 0)) >= confident)
            for pred in unmatched_pred:
                if get_code(pred) is not None:
                    result.coded += 1
                    result.confidently_wrong += int(float(pred.get("confidence", 0)) >= confident)
        for name, (items, name_of, value_of) in CODE_ACCURACIES.items():
            if items == key:
                _count_accuracy(result.accuracies.setdefault(name, Accuracy()), pairs, name_of, value_of)
    return result


def _count_accuracy(
    accuracy: Accuracy,
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    name_of: Callable[[dict[str, Any]], Any] | None,
    value_of: Callable[[dict[str, Any]], Any],
) -> None:
    for pred, true in pairs:
        expected = value_of(true)
        if expected is None:
            continue
        if name_of is not None and not correctly_tagged(name_of(pred), name_of(true)):
            continue
        got = value_of(pred)
        if got is None:
            accuracy.abstained += 1
        elif got == expected:
            accuracy.correct += 1
        else:
            accuracy.wrong += 1


def correctly_tagged(predicted: str | None, printed: str | None) -> bool:
    """Whether predicted name words read like the printed name (OCR slips allowed)."""
    if not predicted or not printed:
        return False
    return fuzz.ratio(predicted, printed) / 100.0 >= TAGGED_SIMILARITY


def _count_field(
    counts: Counts,
    get: Callable[[dict[str, Any]], Any],
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    unmatched_pred: list[dict[str, Any]],
    unmatched_truth: list[dict[str, Any]],
) -> None:
    for pred, true in pairs:
        p, t = get(pred), get(true)
        if p is not None and p == t:
            counts.tp += 1
            continue
        counts.fp += p is not None
        counts.fn += t is not None
    counts.fp += sum(get(p) is not None for p in unmatched_pred)
    counts.fn += sum(get(t) is not None for t in unmatched_truth)


def pair_items(
    predicted: list[dict[str, Any]], truth: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Greedy one-to-one pairing on the same page by box IoU plus the similarity of the items' names.

    A candidate pair overlaps (IoU ≥ 0.3), reads alike (whole-line similarity ≥ 0.6), or names the same drug or
    test (name similarity ≥ 0.8) with overlapping boxes — OCR often reads only the first half of a long row, whose
    box is then too small for the IoU test. Among candidates, the
    names (drug, test) weigh with the overlap: on a skewed photo a row's box also overlaps its neighbours', and the
    row that names the same test is its pair, not the neighbour whose box happens to overlap more.
    """
    candidates: list[tuple[float, int, int]] = []
    for i, pred in enumerate(predicted):
        for j, true in enumerate(truth):
            if pred.get("page") != true.get("page"):
                continue
            overlap = iou(pred["bbox"], true["bbox"])
            similarity = fuzz.ratio(_norm_text(pred.get("text")), _norm_text(true.get("text"))) / 100.0
            names = fuzz.ratio(_item_name(pred) or "", _item_name(true) or "") / 100.0
            if overlap >= 0.3 or similarity >= 0.6 or (overlap > 0 and names >= TAGGED_SIMILARITY):
                candidates.append((max(overlap, 0.0) + similarity + names, i, j))
    used_p: set[int] = set()
    used_t: set[int] = set()
    pairs = []
    for _, i, j in sorted(candidates, reverse=True):
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        pairs.append((predicted[i], truth[j]))
    return (
        pairs,
        [p for i, p in enumerate(predicted) if i not in used_p],
        [t for j, t in enumerate(truth) if j not in used_t],
    )


def _item_name(item: dict[str, Any]) -> str | None:
    """The name an item is about: its drug or test words."""
    named = item.get("drug") or item.get("test") or {}
    return _norm_text(named.get("text"))


def iou(a: Iterable[float], b: Iterable[float]) -> float:
    """Intersection over union of two [x0, y0, x1, y1] boxes."""
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def merge(scores: Iterable[DocumentScore]) -> dict[str, Any]:
    """Aggregate document scores into per-field P/R/F1, document-type accuracy and the code safety count."""
    totals: dict[str, Counts] = {}
    accuracies: dict[str, Accuracy] = {}
    documents = correct = wrong = coded = 0
    for score in scores:
        documents += 1
        correct += score.document_type_correct
        wrong += score.confidently_wrong
        coded += score.coded
        for name, counts in score.fields.items():
            totals.setdefault(name, Counts()).add(counts)
        for name, accuracy in score.accuracies.items():
            accuracies.setdefault(name, Accuracy()).add(accuracy)
    return {
        "documents": documents,
        "document_type_accuracy": round(correct / documents, 4) if documents else None,
        "fields": {name: counts.as_dict() for name, counts in totals.items()},
        "code_accuracy": {name: accuracy.as_dict() for name, accuracy in accuracies.items()},
        "codes_predicted": coded,
        "confidently_wrong_codes": wrong,
    }


def _norm_text(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).lower().replace(".", " ").split())
    return text or None


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return round(number, 4) if math.isfinite(number) else None


def _quantity(value: dict[str, Any] | None) -> tuple[float | None, str] | None:
    if not value:
        return None
    return (_number(value.get("value")), str(value.get("unit")))


#: UCUM atoms that name the same unit as another: the cubic millimetre is the microlitre.
_SAME_UNIT = re.compile(r"(?<![A-Za-z])mm3(?![0-9])")


def _unit(value: dict[str, Any] | None) -> str | None:
    if not value:
        return None
    ucum = value.get("ucum")
    return _SAME_UNIT.sub("uL", ucum) if ucum else _norm_text(value.get("text"))


def _range(value: dict[str, Any] | None) -> tuple[float | None, float | None] | None:
    if not value or (value.get("low") is None and value.get("high") is None):
        return None
    return (_number(value.get("low")), _number(value.get("high")))
