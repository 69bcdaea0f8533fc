"""Entity-level precision, recall and F1 of BIO-tagged word sequences (an entity counts when label and span match).

The same function scores the tagger during training (val), in ``make eval`` (test, truth and OCR text) and in the
unit tests, so the model card's numbers and the eval's are computed one way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from services.tagger.bio import decode


def spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entities of one sequence as ``(label, first word, last word + 1)`` (:func:`services.tagger.bio.decode`)."""
    return set(decode(tags))


def entity_scores(*, gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Per-label and micro-averaged entity scores.

    Args:
        gold: The true tags, one sequence per line.
        predicted: The predicted tags, aligned with ``gold`` word by word.

    Returns:
        ``{"labels": {label: {"precision", "recall", "f1", "support"}}, "micro": {...}}`` (rounded to 4 places).
    """
    tp: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for truth, guess in zip(gold, predicted, strict=True):
        true_spans, guessed = spans(truth), spans(guess)
        for label, *_ in true_spans:
            n_gold[label] += 1
        for label, *_ in guessed:
            n_pred[label] += 1
        for label, *_ in true_spans & guessed:
            tp[label] += 1
    labels = {label: _prf(tp[label], n_pred[label], n_gold[label]) for label in sorted(set(n_gold) | set(n_pred))}
    return {"labels": labels, "micro": _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))}


def _prf(tp: int, predicted: int, gold: int) -> dict[str, float | int]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": gold}
