"""The vocabulary index built once per session from the team's real files (../shared/vocab)."""

from __future__ import annotations

import pytest

from services.normaliser.calibration import Calibration
from services.normaliser.vocabulary import VocabularyIndex, build_index
from shared.settings import Settings


@pytest.fixture(scope="session")
def index(tmp_path_factory: pytest.TempPathFactory) -> VocabularyIndex:
    vocab = Settings().vocab_dir
    out = tmp_path_factory.mktemp("vocab") / "vocab.sqlite3"
    build_index(rxnorm=vocab / "rxnorm", loinc=vocab / "loinc", out=out)
    return VocabularyIndex.open(out)


@pytest.fixture(scope="session")
def calibration() -> Calibration:
    """The match calibration the project ships (models/normaliser/calibration.json, written by make calibrate)."""
    return Calibration.load()
