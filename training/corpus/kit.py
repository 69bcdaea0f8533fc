"""Blocks shared by the layouts: letterheads, prescriber and patient blocks, signatures, stamps, footers, fitting.

Each block opens its own region, draws from a top y and returns the y below it, so a layout reads as a list of
blocks with positions. Sizes are in points and inches; the canvas converts them at the page resolution.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ImageFont

from training.corpus.canvas import Canvas, Color, LayoutOverflow
from training.corpus.fonts import FontBook
from training.corpus.people import Doctor, Patient, Practice
from training.corpus.schema import Chunk, LineSpec, Segment

PAGE_SIZES: dict[str, tuple[float, float]] = {
    "A4": (8.27, 11.69),
    "A5": (5.83, 8.27),
    "Letter": (8.5, 11.0),
    "HalfLetter": (5.5, 8.5),
}


@dataclass
class Wording:
    """Picks printed labels. The first option of every choice is the conventional one (``Name:``, ``Date:``,
    ``Age/Sex:``, ``Reg. No.``) that the interim rule tagger reads; ``conventional`` always picks it (the samples).
    """

    rng: random.Random
    conventional: bool = False

    def pick(self, options: tuple[str, ...]) -> str:
        """One of ``options``: the first when conventional, else a random one."""
        return options[0] if self.conventional else self.rng.choice(options)

    def index(self, count: int) -> int:
        """An index below ``count``: 0 when conventional, else a random one."""
        return 0 if self.conventional else self.rng.randrange(count)


@dataclass
class Env:
    """Where and how a document is drawn: randomness, typeface, resolution, paper size and body text size."""

    rng: random.Random
    fonts: FontBook
    dpi: int
    paper: str
    body_pt: float
    snap: int = 1
    conventional: bool = False

    @property
    def words(self) -> Wording:
        """The label picker of this document."""
        return Wording(self.rng, self.conventional)

    def canvas(self) -> Canvas:
        """A blank page; its pixel size is a multiple of ``snap`` (25 for PDF pages, see ``document.PDF_SNAP``)."""
        width_in, height_in = PAGE_SIZES[self.paper]
        width = round(width_in * self.dpi / self.snap) * self.snap
        height = round(height_in * self.dpi / self.snap) * self.snap
        return Canvas(width=width, height=height, dpi=self.dpi, fonts=self.fonts)


def ascent(font: ImageFont.FreeTypeFont) -> int:
    """Pixels from the top of a face's line to its baseline."""
    return font.getmetrics()[0]


def fit_line(
    canvas: Canvas,
    make: Callable[[int], LineSpec],
    *,
    size_pt: float,
    max_width: float,
    levels: int = 6,
) -> tuple[LineSpec, ImageFont.FreeTypeFont]:
    """The longest version of a line that fits ``max_width`` (then smaller type, down to 75 %).

    Args:
        canvas: The page (for fonts).
        make: Builds the line at a trim level (0 = everything, higher = fewer optional pieces).
        size_pt: Preferred type size.
        max_width: Room in pixels.
        levels: How many trim levels ``make`` understands.

    Returns:
        The line and the face to draw it with.

    Raises:
        LayoutOverflow: not even the shortest version fits in the smallest type.
    """
    for scale in (1.0, 0.92, 0.85, 0.78, 0.72):
        font = canvas.font(size_pt * scale)
        for level in range(levels):
            spec = make(level)
            if canvas.text_width(spec.text, font) <= max_width:
                return spec, font
    raise LayoutOverflow(f"line does not fit in {max_width:.0f}px: {make(levels - 1).text[:50]!r}")


def chunks_fit(canvas: Canvas, spec: LineSpec, font: ImageFont.FreeTypeFont, *, x0: float, x1: float) -> bool:
    """True when a line's chunks stay within ``[x0, x1]`` and do not run into each other."""
    gap = canvas.text_width("  ", font)
    end = x0 - gap
    for chunk in spec.chunks:
        width = canvas.text_width(chunk.text, font)
        start = chunk.x - width if chunk.align == "right" else chunk.x
        if start < end + gap or start + width > x1:
            return False
        end = start + width
    return True


def letterhead(
    canvas: Canvas,
    practice: Practice,
    *,
    x0: float,
    x1: float,
    top: float,
    accent: Color,
    align: str,
    rng: random.Random,
    title_pt: float,
    body_pt: float,
    extra: tuple[str, ...] = (),
    rule: Color | None = None,
    logo: float = 0.0,
) -> float:
    """Clinic or lab name, address, phone (``extra`` lines, a rule under them) in region ``header``; returns y below.

    A ``logo`` size (pixels) draws an emblem at the left edge and moves left-aligned text beside it.
    """
    name_font = canvas.font(title_pt, "bold")
    logo_x = x0
    if logo and align == "left":
        x0 = x0 + logo + canvas.px(0.15)
    small = canvas.font(body_pt * 0.9)
    x = {"center": (x0 + x1) / 2, "left": x0, "right": x1}[align]
    anchor_align = {"center": "left", "left": "left", "right": "right"}[align]
    lines = [(practice.name.upper() if rng.random() < 0.5 else practice.name, name_font, accent)]
    lines += [(text, small, (40, 40, 40)) for text in (practice.address + ", " + practice.city_line, *extra)]
    lines.append(
        (f"{practice.phone}  |  {practice.email}" if rng.random() < 0.5 else practice.phone, small, (40, 40, 40))
    )
    y = top
    with canvas.region("header"):
        if logo:
            canvas.logo(logo_x, top, logo, accent, rng)
        for text, font, color in lines:
            y += ascent(font)
            start = x - canvas.text_width(text, font) / 2 if align == "center" else x
            canvas.plain(text, x=start, baseline=y, font=font, align=anchor_align, fill=color)
            y += canvas.line_height(font) - ascent(font)
        y = max(y, top + logo)
        if rule is not None:
            y += canvas.px(0.04)
            canvas.rule(logo_x, x1, y, width=max(2, canvas.dpi // 80), fill=rule)
            y += canvas.px(0.04)
    return y


def prescriber_lines(doctor: Doctor, rng: random.Random) -> list[tuple[LineSpec, str]]:
    """(line, face style) of a prescriber block: name, qualifications, registration."""
    registration = LineSpec(
        chunks=[Chunk((Segment(doctor.registration_label), Segment(doctor.registration, "REGISTRATION")), 0)],
        kind="prescriber",
    )
    lines = [
        (LineSpec(chunks=[Chunk((Segment(doctor.name, "PRESCRIBER"),), 0)], kind="prescriber"), "bold"),
        (LineSpec(chunks=[Chunk((Segment(doctor.qualifications),), 0)], kind="other"), "regular"),
    ]
    if rng.random() < 0.5:
        lines.append((LineSpec(chunks=[Chunk((Segment(doctor.specialty),), 0)], kind="other"), "italic"))
    lines.append((registration, "regular"))
    return lines


def draw_block(
    canvas: Canvas,
    lines: list[tuple[LineSpec, str]],
    *,
    cls: str,
    x: float,
    top: float,
    size_pt: float,
    align: str = "left",
    color: Color = (20, 20, 24),
) -> float:
    """Draw stacked one-chunk lines in a region; returns the y below."""
    y = top
    with canvas.region(cls):
        for spec, style in lines:
            font = canvas.font(size_pt * (1.1 if style == "bold" else 1.0), style)  # type: ignore[arg-type]
            y += ascent(font)
            chunk = spec.chunks[0]
            placed = LineSpec(
                chunks=[Chunk(chunk.segments, x, "right" if align == "right" else "left")], kind=spec.kind
            )
            canvas.draw_line(placed, baseline=y, font=font, fill=color)
            y += canvas.line_height(font) - ascent(font)
    return y


def name_segments(patient: Patient, words: Wording, label: str | None = None) -> list[Segment]:
    """``Name: <patient>`` (the label varies unless conventional)."""
    label = label or words.pick(("Name:", "Patient Name:", "Patient:", "Pt. Name:"))
    return [Segment(label), Segment(patient.name, "PATIENT_NAME")]


def age_sex_segments(patient: Patient, words: Wording) -> list[Segment]:
    """``Age/Sex: 54/M`` in one of four printed forms (the first when conventional)."""
    sex_word = {"M": ("M", "Male"), "F": ("F", "Female")}[patient.sex]
    variant = words.index(4)
    if variant == 0:
        return [Segment("Age/Sex:"), Segment(f"{patient.age}/{sex_word[0]}", "AGE_SEX")]
    if variant == 1:
        return [Segment("Age/Sex:"), Segment(f"{patient.age} Y / {sex_word[0]}", "AGE_SEX")]
    if variant == 2:
        return [Segment("Age / Sex:"), Segment(f"{patient.age} Yrs / {sex_word[1]}", "AGE_SEX")]
    return [Segment("Age:"), Segment(f"{patient.age} yrs", "AGE_SEX"), Segment("Sex:"), Segment(sex_word[1], "AGE_SEX")]


def date_segments(date_text: str, words: Wording, label: str | None = None) -> list[Segment]:
    """``Date: <date as printed>``."""
    return [Segment(label or words.pick(("Date:", "Date:", "Dated:"))), Segment(date_text, "DATE")]


def signature_block(
    canvas: Canvas,
    *,
    right: float,
    top: float,
    width: float,
    rng: random.Random,
    captions: list[LineSpec],
    size_pt: float,
) -> float:
    """A scribble with caption lines under it, right-aligned at ``right`` (region ``signature``); returns y below."""
    height = width * rng.uniform(0.28, 0.4)
    left = right - width
    with canvas.region("signature"):
        canvas.signature((left, top, right, top + height), rng)
        y = top + height + canvas.px(0.04)
        font = canvas.font(size_pt)
        for caption in captions:
            y += ascent(font)
            spec = LineSpec(chunks=[Chunk(caption.segments, right, "right")], kind=caption.kind)
            canvas.draw_line(spec, baseline=y, font=font)
            y += canvas.line_height(font) - ascent(font)
    return y


def signature_height(canvas: Canvas, *, width: float, captions: int, size_pt: float) -> float:
    """Upper bound of the height :func:`signature_block` uses."""
    return width * 0.4 + canvas.px(0.04) + captions * canvas.line_height(canvas.font(size_pt))


def one_line(segments: list[Segment], kind: str = "other") -> LineSpec:
    """A one-chunk line at x 0 (blocks place it)."""
    return LineSpec(chunks=[Chunk(tuple(segments), 0)], kind=kind)  # type: ignore[arg-type]


def stamp_block(
    canvas: Canvas, practice: Practice, *, center: tuple[float, float], size: float, rng: random.Random
) -> None:
    """The practice's rubber stamp (region ``stamp``)."""
    words = practice.name.upper().split()
    texts = [" ".join(words[:2]), " ".join(words[2:]) or practice.city_line.split()[0].upper()]
    with canvas.region("stamp"):
        canvas.stamp(center, size, texts, rng)


def footer(
    canvas: Canvas, texts: list[str], *, x0: float, x1: float, bottom: float, size_pt: float, rule: bool
) -> float:
    """Footer lines ending at ``bottom`` (region ``footer``); returns the top of the footer."""
    font = canvas.font(size_pt)
    height = canvas.line_height(font)
    top = bottom - height * len(texts)
    with canvas.region("footer"):
        if rule:
            canvas.rule(x0, x1, top - canvas.px(0.05), width=max(1, canvas.dpi // 150), fill=(90, 90, 90))
        y = top
        for text in texts:
            y += ascent(font)
            start = (x0 + x1) / 2 - canvas.text_width(text, font) / 2
            canvas.plain(text, x=start, baseline=y, font=font, fill=(70, 70, 70))
            y += height - ascent(font)
    return top
