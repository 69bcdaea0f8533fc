"""One corpus document from plan to files: choose (plan), draw and degrade (build), encode and record (write).

Every random choice of a document comes from generators seeded by ``(seed, split, index)``, so a document is the
same whichever worker makes it and in whatever order. A plan names everything that varies between documents
(template, font family, phrasing, condition, file format, resolution, paper, sizes), so the bundled samples can
ask for exactly what they need and the hold-out test can inspect plans without drawing anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from shared.pages import PageLimits, load_pages
from training.corpus import holdout
from training.corpus.canvas import LayoutOverflow
from training.corpus.content import sample_lab, sample_rx
from training.corpus.degrade import degrade_page, jpeg_roundtrip
from training.corpus.drugs import load_drug_catalogue
from training.corpus.fonts import DEFAULT_FONT_DIR, available_families, font_book
from training.corpus.kit import Env
from training.corpus.lab_layouts import LAB_LAYOUTS, LabLayoutError, render_lab
from training.corpus.labrows import LAB_ROW_PHRASINGS
from training.corpus.labtests import load_lab_catalogue
from training.corpus.medlines import PHRASINGS
from training.corpus.rx_layouts import RX_LAYOUTS
from training.corpus.schema import RenderedPage
from training.corpus.sigtable import load_sig_table
from training.corpus.truth import expected_result, page_truth

Format = Literal["png", "jpeg", "tiff", "pdf"]
PDF_DPI = 200
#: PDF pages are a multiple of 25 pixels wide and high: then their size in points (x 72/200) is a whole number,
#: which float32 holds exactly, and pdfium renders them back at 200 dpi to exactly the drawn size (it rounds up).
PDF_SNAP = 25
EXTENSIONS: dict[str, str] = {"png": "png", "jpeg": "jpg", "tiff": "tif", "pdf": "pdf"}
RX_COUNTS = {1: 8, 2: 16, 3: 22, 4: 20, 5: 14, 6: 10, 7: 6, 8: 4}
LAB_SECTIONS = {1: 35, 2: 35, 3: 20, 4: 10}


@dataclass(frozen=True, slots=True)
class DocumentPlan:
    """Everything chosen about a document before it is drawn.

    Attributes:
        doc_id: ``<split>-<index>``.
        split: ``train``, ``val`` or ``test``.
        seed_key: Seeds the content and degradation generators.
        document_type: ``prescription`` or ``lab_report``.
        template: A key of ``RX_LAYOUTS`` or ``LAB_LAYOUTS``.
        font: A font family name.
        phrasing: A medication phrasing (prescriptions) or lab-row phrasing (lab reports).
        condition: ``clean`` or ``degraded``.
        degradation: ``scan``, ``photo`` or None when clean.
        fmt: Original file format.
        dpi: Page resolution.
        paper: Paper size name.
        body_pt: Body text size in points.
        items: Medications (prescriptions) or sections (lab reports).
        require: Generics the prescription must include.
        panels: Lab sections the report must include.
        jpeg_quality: Quality of JPEG encoding (originals, or artefacts of degraded pages).
    """

    doc_id: str
    split: str
    seed_key: str
    document_type: str
    template: str
    font: str
    phrasing: str
    condition: str
    degradation: str | None
    fmt: str
    dpi: int
    paper: str
    body_pt: float
    items: int
    require: tuple[str, ...] = ()
    panels: tuple[str, ...] = ()
    jpeg_quality: int = 90
    conventional: bool = False


@dataclass
class BuiltDocument:
    plan: DocumentPlan
    pages: list[RenderedPage]
    expected: dict[str, Any]


def _pick(rng: random.Random, split: str, names: list[str], held: list[str]) -> str:
    """A name for a split: in test, half of the picks come from the held-out names (when there are any)."""
    held_here = [name for name in held if name in names]
    if split == "test" and held_here and rng.random() < 0.5:
        return rng.choice(held_here)
    return rng.choice(names)


def _template_style(document_type: str, template: str) -> str:
    if document_type == "prescription":
        return RX_LAYOUTS[template][1]
    return LAB_LAYOUTS[template].style


def _papers(document_type: str, template: str) -> tuple[str, ...]:
    return RX_LAYOUTS[template][2] if document_type == "prescription" else LAB_LAYOUTS[template].paper


def _format(rng: random.Random, document_type: str, degradation: str | None) -> str:
    if degradation == "photo":
        return "jpeg"
    if document_type == "prescription":
        weights = {"png": 60, "tiff": 25, "jpeg": 15} if degradation is None else {"jpeg": 60, "png": 20, "tiff": 20}
    else:
        weights = {"pdf": 50, "png": 35, "jpeg": 15} if degradation is None else {"jpeg": 50, "pdf": 30, "png": 20}
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _dpi(rng: random.Random, fmt: str, degradation: str | None) -> int:
    if fmt == "pdf":
        return PDF_DPI
    if degradation is None:
        return rng.choice((200, 240, 300))
    if degradation == "photo":
        return rng.choice((120, 150, 200))
    return rng.choice((100, 150, 150, 200, 300))


def plan_document(*, seed: int, split: str, index: int, font_dir: Path = DEFAULT_FONT_DIR) -> DocumentPlan:
    """The plan of document ``index`` of a split, from the hold-out table and the installed fonts.

    Raises:
        training.corpus.fonts.FontsMissingError: none of the split's font families is installed.
    """
    seed_key = f"{seed}/{split}/{index}"
    rng = random.Random(f"plan/{seed_key}")
    document_type = "prescription" if rng.random() < 0.55 else "lab_report"
    prefix = "rx_" if document_type == "prescription" else "lab_"
    templates = [t for t in holdout.allowed("template", split) if t.startswith(prefix)]  # type: ignore[arg-type]
    template = _pick(rng, split, templates, holdout.held_out("template"))
    style = _template_style(document_type, template)
    fonts = available_families(holdout.allowed("font", split), font_dir=font_dir)  # type: ignore[arg-type]
    font = _pick(rng, split, fonts, holdout.held_out("font"))
    if document_type == "prescription":
        phrasings = [p for p in holdout.allowed("phrasing", split) if p in PHRASINGS and PHRASINGS[p].style == style]  # type: ignore[arg-type]
    else:
        phrasings = [p for p in holdout.allowed("phrasing", split) if p in LAB_ROW_PHRASINGS]  # type: ignore[arg-type]
    phrasing = _pick(rng, split, phrasings, holdout.held_out("phrasing"))
    degradation = rng.choice(("scan", "photo")) if rng.random() < 0.5 else None
    fmt = _format(rng, document_type, degradation)
    dpi = _dpi(rng, fmt, degradation)
    counts = RX_COUNTS if document_type == "prescription" else LAB_SECTIONS
    return DocumentPlan(
        doc_id=f"{split}-{index:04d}",
        split=split,
        seed_key=seed_key,
        document_type=document_type,
        template=template,
        font=font,
        phrasing=phrasing,
        condition="degraded" if degradation else "clean",
        degradation=degradation,
        fmt=fmt,
        dpi=dpi,
        paper=rng.choice(_papers(document_type, template)),
        body_pt=round(rng.uniform(10.0, 12.0) if dpi > 120 else rng.uniform(11.0, 13.0), 1),
        items=rng.choices(list(counts), weights=list(counts.values()))[0],
        jpeg_quality=rng.randint(80, 92) if degradation is None else rng.randint(35, 75),
    )


def _draw(
    plan: DocumentPlan, rng: random.Random, *, vocab_dir: Path, font_dir: Path, items: int, body_pt: float
) -> tuple[list[RenderedPage], dict[str, Any]]:
    """Sample the content and draw it with the plan's layout (``items`` and ``body_pt`` may be lowered on retry)."""
    env = Env(
        rng=rng,
        fonts=font_book(plan.font, dpi=plan.dpi, font_dir=font_dir),
        dpi=plan.dpi,
        paper=plan.paper,
        body_pt=body_pt,
        snap=PDF_SNAP if plan.fmt == "pdf" else 1,
        conventional=plan.conventional,
    )
    if plan.document_type == "prescription":
        layout, style, _ = RX_LAYOUTS[plan.template]
        numbered = plan.template == "rx_opd_table" or rng.random() < 0.5  # a table always numbers its rows
        content = sample_rx(
            rng,
            style=style,
            phrasing=plan.phrasing,
            catalogue=load_drug_catalogue(vocab_dir),
            sig=load_sig_table(vocab_dir),
            count=items,
            require=plan.require,
            numbered=numbered,
            conventional=plan.conventional,
        )
        return [layout(content, env)], content.expected_header()
    lab_style = LAB_LAYOUTS[plan.template]
    if not plan.conventional:  # a method column would follow the range that the rule tagger reads last
        lab_style = lab_style.with_method(rng)
    lab = sample_lab(
        rng,
        style=lab_style.style,
        phrasing=plan.phrasing,
        catalogue=load_lab_catalogue(vocab_dir),
        sections=items,
        method="method" in lab_style.columns,
        panels=plan.panels,
        conventional=plan.conventional,
    )
    return render_lab(lab, env, lab_style), lab.expected_header()


def build_document(plan: DocumentPlan, *, vocab_dir: Path, font_dir: Path = DEFAULT_FONT_DIR) -> BuiltDocument:
    """Draw, degrade and compute the truth of a planned document.

    Content that does not fit is drawn again with one item less and smaller type (same seed, next attempt).

    Raises:
        RuntimeError: it never fits.
    """
    for attempt in range(8):
        rng = random.Random(f"content/{plan.seed_key}/{attempt}")
        items = max(1, plan.items - attempt)
        try:
            pages, header = _draw(
                plan, rng, vocab_dir=vocab_dir, font_dir=font_dir, items=items, body_pt=plan.body_pt - 0.4 * attempt
            )
            break
        except (LayoutOverflow, LabLayoutError):
            continue
    else:
        raise RuntimeError(f"{plan.doc_id}: the content never fits template {plan.template}")
    if plan.degradation:
        generator = np.random.default_rng(_seed_int(f"degrade/{plan.seed_key}"))
        pages = [degrade_page(page, generator, plan.degradation).page for page in pages]  # type: ignore[arg-type]
        if plan.fmt != "jpeg":
            pages = [dataclasses.replace(page, image=jpeg_roundtrip(page.image, plan.jpeg_quality)) for page in pages]
    expected = expected_result(doc_id=plan.doc_id, document_type=plan.document_type, header=header, pages=pages)
    return BuiltDocument(plan=plan, pages=pages, expected=expected.to_json_dict())


def _seed_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


# --------------------------------------------------------------------------------------------------- encoding
def encode_original(pages: list[RenderedPage], plan: DocumentPlan) -> tuple[bytes, str]:
    """The original file's bytes and extension. Several pages in PNG/JPEG plans become a multi-page TIFF."""
    images = [page.image.convert("RGB") for page in pages]
    fmt = plan.fmt
    if len(images) > 1 and fmt in ("png", "jpeg"):
        fmt = "tiff"
    buffer = io.BytesIO()
    dpi = (plan.dpi, plan.dpi)
    if fmt == "png":
        images[0].save(buffer, format="PNG", dpi=dpi, compress_level=6)
    elif fmt == "jpeg":
        images[0].save(buffer, format="JPEG", quality=plan.jpeg_quality, dpi=dpi)
    elif fmt == "tiff":
        images[0].save(buffer, format="TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw", dpi=dpi)
    else:
        gray = plan.condition == "clean" and all(_is_gray(image) for image in images)
        images = [image.convert("L") for image in images] if gray else images
        images[0].save(
            buffer,
            format="PDF",
            save_all=True,
            append_images=images[1:],
            resolution=float(PDF_DPI),
            quality=plan.jpeg_quality,
            title=plan.doc_id,
            creationDate=None,
            modDate=None,
        )
    return buffer.getvalue(), EXTENSIONS[fmt]


def _is_gray(image: Image.Image) -> bool:
    """True when the page has no real colour (a grey PDF page is a third of the size)."""
    small = np.asarray(image.resize((max(1, image.width // 8), max(1, image.height // 8))), dtype=np.int16)
    return int(np.abs(small - small.mean(axis=2, keepdims=True)).max()) < 12


def decoded_pages(data: bytes) -> list[Image.Image]:
    """The pages as the pipeline decodes them (PDF pages rendered at 200 dpi)."""
    return load_pages(data, limits=PageLimits(pdf_dpi=PDF_DPI, max_pages=50, max_page_pixels=80_000_000))


def truth_document(built: BuiltDocument, sizes: list[tuple[int, int]], original: str) -> dict[str, Any]:
    """The truth.json object."""
    plan = built.plan
    return {
        "doc_id": plan.doc_id,
        "split": plan.split,
        "template": plan.template,
        "document_type": plan.document_type,
        "condition": plan.condition,
        "font": plan.font,
        "phrasing": plan.phrasing,
        "degradation": plan.degradation,
        "original": original,
        "pages": [
            page_truth(number, page, width=width, height=height)
            for number, (page, (width, height)) in enumerate(zip(built.pages, sizes, strict=True), start=1)
        ],
        "expected": built.expected,
    }


def write_document(built: BuiltDocument, folder: Path, *, page_images: bool = True) -> dict[str, Any]:
    """Write ``original.<ext>``, ``truth.json`` and (optionally) ``page-NNN.png`` into ``folder``.

    Returns:
        The truth object written.

    Raises:
        RuntimeError: a decoded page does not have the size the boxes were computed in.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data, ext = encode_original(built.pages, built.plan)
    decoded = decoded_pages(data)
    sizes = [image.size for image in decoded]
    expected_sizes = [page.image.size for page in built.pages]
    if sizes != expected_sizes:
        raise RuntimeError(f"{built.plan.doc_id}: decoded page sizes {sizes} differ from drawn {expected_sizes}")
    for stale in folder.glob("original.*"):
        stale.unlink()
    (folder / f"original.{ext}").write_bytes(data)
    if page_images and ext == "png":
        (folder / "page-001.png").write_bytes(data)  # the decoded page is the original itself
    elif page_images:
        for number, image in enumerate(decoded, start=1):
            image.save(folder / f"page-{number:03d}.png", format="PNG", compress_level=3)
    truth = truth_document(built, sizes, f"original.{ext}")
    (folder / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return truth
