"""A handful of corpus documents built once per session (a clean PNG and a degraded JPEG prescription, a clean
two-page PDF and a degraded lab report) and the vocabulary folder they were built from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.settings import get_settings
from training.corpus.document import DocumentPlan, build_document, plan_document, write_document
from training.corpus.samples import build_sample


@dataclass(frozen=True)
class Written:
    """A document written to disk: its folder, plan and truth."""

    folder: Path
    plan: DocumentPlan
    truth: dict[str, Any]

    @property
    def original(self) -> Path:
        return self.folder / self.truth["original"]


RX_CLEAN = DocumentPlan(
    doc_id="train-9001", split="train", seed_key="unit/rx-clean", document_type="prescription",
    template="rx_letterhead", font="dejavu-sans", phrasing="india_abbrev", condition="clean", degradation=None,
    fmt="png", dpi=200, paper="A5", body_pt=11.0, items=5,
)  # fmt: skip
RX_PHOTO = DocumentPlan(
    doc_id="train-9002", split="train", seed_key="unit/rx-photo", document_type="prescription",
    template="rx_us_pad", font="liberation-serif", phrasing="us_sig", condition="degraded", degradation="photo",
    fmt="jpeg", dpi=150, paper="Letter", body_pt=11.0, items=4, jpeg_quality=60,
)  # fmt: skip
LAB_SCAN = DocumentPlan(
    doc_id="train-9003", split="train", seed_key="unit/lab-scan", document_type="lab_report",
    template="lab_grid", font="liberation-sans", phrasing="labrow_flowsheet", condition="degraded",
    degradation="scan", fmt="png", dpi=120, paper="A4", body_pt=11.0, items=2, panels=("cbc", "kft"),
)  # fmt: skip


def _first_prescription_plan() -> DocumentPlan:
    """The first prescription the planner makes for val with seed 11 (exercises plan_document end to end)."""
    return next(
        plan
        for plan in (plan_document(seed=11, split="val", index=index) for index in range(50))
        if plan.document_type == "prescription"
    )


@pytest.fixture(scope="session")
def vocab_dir() -> Path:
    path = get_settings().vocab_dir
    assert (path / "rxnorm").is_dir(), f"the vocabulary folder {path} is missing (set RXLAB_VOCAB_DIR)"
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, vocab_dir: Path) -> dict[str, Written]:
    """Documents by name: rx_clean, rx_photo, lab_pdf (two pages), lab_scan, planned (from plan_document)."""
    root = tmp_path_factory.mktemp("corpus")
    built = {
        "rx_clean": build_document(RX_CLEAN, vocab_dir=vocab_dir),
        "rx_photo": build_document(RX_PHOTO, vocab_dir=vocab_dir),
        "lab_pdf": build_sample("lab-pdf", vocab_dir=vocab_dir),
        "lab_scan": build_document(LAB_SCAN, vocab_dir=vocab_dir),
        "planned": build_document(_first_prescription_plan(), vocab_dir=vocab_dir),
    }
    written = {}
    for name, document in built.items():
        folder = root / document.plan.split / document.plan.doc_id
        truth = write_document(document, folder)
        assert json.loads((folder / "truth.json").read_text()) == truth
        written[name] = Written(folder=folder, plan=document.plan, truth=truth)
    return written
