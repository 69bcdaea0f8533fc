"""Match confidence: the vocabulary's raw match evidence turned into the probability that the code is right.

A drug or lab-test name is coded by one of a few methods (:class:`services.normaliser.vocabulary.index.Method`):
its key equal to a vocabulary key, a part of it ("SGPT (ALT)"), a name found inside longer words, OCR-damaged
words read as the vocabulary word one character away, or the closest key by edit distance. How often each method
gives the right code was measured by ``make calibrate`` (``training/normaliser/calibrate.py``) on the corpus's
train and calib splits, through the real OCR and tagger: the confidence of a method is its measured precision (Laplace
smoothed, so a method seen rarely is not trusted fully), and the confidence of a closest-key match is a logistic
function of its similarity and of its margin over the closest key of another concept, fitted on the same data.
The numbers live in ``models/normaliser/calibration.json``, written by that command; the normaliser reads them once
per process. A code is given only when its confidence reaches the review threshold; below it the field stays
uncoded and the document goes to review.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from shared.settings import get_settings

#: Where the calibration lies under the models folder (``RXLAB_MODELS_DIR``; ``make calibrate`` rewrites it).
RELATIVE_PATH = Path("normaliser") / "calibration.json"
KINDS = ("drug", "lab")


def default_path() -> Path:
    """The shipped calibration file: ``models/normaliser/calibration.json`` of the models folder."""
    return get_settings().models_dir / RELATIVE_PATH


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per kind of name (drug, lab): the precision of each method, and the closest-key logistic coefficients.

    Attributes:
        version: Names this calibration in every result's ``model_versions.normaliser``.
        precision: ``{kind: {method: confidence}}`` for the methods scored by their measured precision.
        fuzzy: ``{kind: (bias, similarity weight, margin weight)}`` of the closest-key logistic model.
    """

    version: str
    precision: dict[str, dict[str, float]]
    fuzzy: dict[str, tuple[float, float, float]]

    def confidence(self, *, kind: str, method: str, similarity: float, margin: float) -> float:
        """The probability, as measured, that a match found this way codes the right concept (0–1)."""
        if method == "fuzzy":
            bias, w_similarity, w_margin = self.fuzzy[kind]
            return round(1.0 / (1.0 + math.exp(-(bias + w_similarity * similarity + w_margin * margin))), 4)
        return self.precision[kind].get(method, 0.0)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Calibration:
        return cls(
            version=str(document["version"]),
            precision={kind: dict(document["precision"][kind]) for kind in KINDS},
            fuzzy={kind: _weights(document["fuzzy"][kind]) for kind in KINDS},
        )

    @classmethod
    def load(cls, path: Path | None = None) -> Calibration:
        """Read a calibration file (default: :func:`default_path`).

        Raises:
            FileNotFoundError: there is no file at ``path`` (``make calibrate`` writes it).
        """
        return cls.from_json(json.loads((path or default_path()).read_text(encoding="utf-8")))


def _weights(values: list[float]) -> tuple[float, float, float]:
    bias, similarity, margin = (float(v) for v in values)
    return bias, similarity, margin


@cache
def get_calibration() -> Calibration:
    """The shipped calibration, read once per process."""
    return Calibration.load()
