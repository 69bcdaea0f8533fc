"""The vocabulary index: RxNorm drug names and LOINC lab-test names, built from ``../shared/vocab``."""

from __future__ import annotations

from services.normaliser.vocabulary.build import build_index
from services.normaliser.vocabulary.index import DrugMatch, LabTestMatch, VocabularyIndex

__all__ = ["DrugMatch", "LabTestMatch", "VocabularyIndex", "build_index"]
