"""Write the four bundled sample documents (``make run`` submits them; tests and the README use them).

Usage::

    python -m training.corpus.samples --out tests/fixtures/samples

Each sample is a corpus document with a fixed plan, drawn only from templates, fonts and phrasings that train may
use, printed with the conventional labels the interim rule tagger reads (``Name:``, ``Age/Sex:``, ``Date:``,
``Dr. ...``, ``Reg. No.``, medication lines starting with ``Tab.``/``Cap.``, lab rows ``Test value [H|L] unit
range``). Each folder holds only ``original.<ext>`` and ``truth.json`` (the truth's page ``image`` names are those a
corpus folder would have; the page images themselves are not bundled).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from shared.settings import get_settings
from training.corpus import holdout
from training.corpus.document import BuiltDocument, DocumentPlan, build_document, write_document
from training.corpus.fonts import DEFAULT_FONT_DIR

#: Sample folder → its plan (seed keys are fixed, so the samples are reproducible byte for byte).
SAMPLE_PLANS: dict[str, DocumentPlan] = {
    "rx-india-clean": DocumentPlan(
        doc_id="rx-india-clean",
        split="train",
        seed_key="sample/rx-india-clean",
        document_type="prescription",
        template="rx_letterhead",
        font="liberation-sans",
        phrasing="india_pattern",
        condition="clean",
        degradation=None,
        fmt="png",
        dpi=250,
        paper="A5",
        body_pt=11.0,
        items=4,
        require=("metformin", "pantoprazole", "rosuvastatin", "cetirizine"),
        conventional=True,
    ),
    "rx-us-degraded": DocumentPlan(
        doc_id="rx-us-degraded",
        split="train",
        seed_key="sample/rx-us-degraded",
        document_type="prescription",
        template="rx_us_pad",
        font="dejavu-sans",
        phrasing="us_sig",
        condition="degraded",
        degradation="scan",
        fmt="jpeg",
        dpi=150,
        paper="Letter",
        body_pt=11.0,
        items=3,
        require=("lisinopril", "metformin"),
        jpeg_quality=60,
        conventional=True,
    ),
    "lab-clean": DocumentPlan(
        doc_id="lab-clean",
        split="train",
        seed_key="sample/lab-clean",
        document_type="lab_report",
        template="lab_classic",
        font="liberation-sans",
        phrasing="labrow_common",
        condition="clean",
        degradation=None,
        fmt="png",
        dpi=200,
        paper="A4",
        body_pt=11.0,
        items=2,
        panels=("lipid", "kft"),
        conventional=True,
    ),
    "lab-pdf": DocumentPlan(
        doc_id="lab-pdf",
        split="train",
        seed_key="sample/lab-pdf",
        document_type="lab_report",
        template="lab_classic",
        font="dejavu-sans",
        phrasing="labrow_common",
        condition="clean",
        degradation=None,
        fmt="pdf",
        dpi=200,
        paper="A4",
        body_pt=11.0,
        items=3,
        panels=("cbc", "lft", "thyroid"),
        jpeg_quality=60,
        conventional=True,
    ),
}
#: Pages each sample must have.
SAMPLE_PAGES = {"rx-india-clean": 1, "rx-us-degraded": 1, "lab-clean": 1, "lab-pdf": 2}


def check_plan(plan: DocumentPlan) -> None:
    """Refuse a sample plan that uses anything train may not (a held-out template, font or phrasing).

    Raises:
        ValueError: it does.
    """
    for kind, name in (("template", plan.template), ("font", plan.font), ("phrasing", plan.phrasing)):
        if not holdout.is_allowed(kind, name, "train"):
            raise ValueError(f"sample {plan.doc_id}: {kind} {name} is held out for test")


def _has_required(built: BuiltDocument) -> bool:
    """A prescription sample keeps all its medications (a retry may drop one), the first required one included."""
    plan = built.plan
    if plan.document_type != "prescription":
        return True
    medications = built.expected["medications"]
    first = plan.require[0] if plan.require else None
    has_first = first is None or any(first in m["drug"]["clinical_drug"]["name"] for m in medications)
    return len(medications) == plan.items and has_first


def build_sample(name: str, *, vocab_dir: Path, font_dir: Path = DEFAULT_FONT_DIR) -> BuiltDocument:
    """Build a sample, trying the next seed until it has the required number of pages.

    Raises:
        RuntimeError: no seed in 20 gives the required pages.
    """
    plan = SAMPLE_PLANS[name]
    check_plan(plan)
    for attempt in range(20):
        candidate = replace(plan, seed_key=f"{plan.seed_key}/{attempt}") if attempt else plan
        built = build_document(candidate, vocab_dir=vocab_dir, font_dir=font_dir)
        if len(built.pages) == SAMPLE_PAGES[name] and _has_required(built):
            return built
    raise RuntimeError(f"sample {name}: no attempt gave {SAMPLE_PAGES[name]} pages")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/samples"))
    parser.add_argument("--vocab-dir", type=Path, default=None, help="default: RXLAB_VOCAB_DIR / ../shared/vocab")
    parser.add_argument("--font-dir", type=Path, default=DEFAULT_FONT_DIR)
    args = parser.parse_args(argv)
    vocab_dir = args.vocab_dir or get_settings().vocab_dir
    for name in SAMPLE_PLANS:
        built = build_sample(name, vocab_dir=vocab_dir, font_dir=args.font_dir)
        folder = args.out / name
        if folder.exists():
            shutil.rmtree(folder)
        truth = write_document(built, folder, page_images=False)
        size = (folder / truth["original"]).stat().st_size
        print(f"{name}: {truth['original']} {size / 1024:.0f} KB, {len(truth['pages'])} page(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
