"""Prescription layouts: five page designs, chosen by name from :data:`RX_LAYOUTS`.

Each layout draws one page from an :class:`~training.corpus.content.RxContent` and returns it. A layout that runs
out of room raises :class:`training.corpus.canvas.LayoutOverflow`; the document builder then retries with fewer
medications and smaller type.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ImageFont

from training.corpus.canvas import Canvas, LayoutOverflow
from training.corpus.content import RxContent
from training.corpus.kit import (
    Env,
    Wording,
    age_sex_segments,
    ascent,
    chunks_fit,
    date_segments,
    draw_block,
    fit_line,
    footer,
    letterhead,
    name_segments,
    one_line,
    prescriber_lines,
    signature_block,
    signature_height,
    stamp_block,
)
from training.corpus.medlines import MedItem, med_cells, med_line
from training.corpus.people import Style
from training.corpus.schema import Chunk, LineSpec, RenderedPage, Segment

INDIA_FOOTERS = (
    "Clinic timings: 10 AM - 1 PM and 6 PM - 9 PM (Sunday closed)",
    "Not valid for medico-legal purposes",
    "For appointments call the clinic number above",
    "Please bring this prescription on your next visit",
)
US_FOOTERS = ("Void after 6 months", "Substitution permitted unless marked Dispense As Written")


# --------------------------------------------------------------------------------------------------- pieces
def _medications(
    canvas: Canvas,
    content: RxContent,
    *,
    x0: float,
    x1: float,
    top: float,
    size_pt: float,
    rng: random.Random,
    rx_symbol: bool = True,
) -> float:
    """The Rx symbol, one line per medication, then advice (region ``medications``); returns the y below."""
    y = top
    indent = canvas.px(0.25) if rx_symbol else 0
    with canvas.region("medications"):
        if rx_symbol:
            rx_font = canvas.font(size_pt * 1.9, "bold")
            y += ascent(rx_font)
            canvas.plain(
                rng.choice(("Rx", "Rx", "Rx:")) if rx_symbol is True else rx_symbol, x=x0, baseline=y, font=rx_font
            )
            y += canvas.px(0.08)
        for item in content.items:
            y = _med_row(canvas, item, content.phrasing, x=x0 + indent, x1=x1, top=y, size_pt=size_pt)
        if content.advice:
            font = canvas.font(size_pt * 0.95)
            y += canvas.px(0.12) + ascent(font)
            canvas.plain(content.advice[0] if len(content.advice) == 1 else "Advice:", x=x0, baseline=y, font=font)
            for text in content.advice[1:] if len(content.advice) > 1 else []:
                y += canvas.line_height(font)
                canvas.plain(f"- {text}", x=x0 + indent, baseline=y, font=font)
            y += canvas.line_height(font) - ascent(font)
    return y


def _med_row(canvas: Canvas, item: MedItem, phrasing: str, *, x: float, x1: float, top: float, size_pt: float) -> float:
    spec, font = fit_line(
        canvas, lambda level: med_line(item.trimmed(level), phrasing, x=x), size_pt=size_pt, max_width=x1 - x
    )
    y = top + canvas.line_height(font) * 1.35
    canvas.draw_line(spec, baseline=y, font=font)
    return y + canvas.line_height(font) * 0.3


def _patient_rows(
    canvas: Canvas,
    content: RxContent,
    *,
    x0: float,
    x1: float,
    top: float,
    size_pt: float,
    combined: bool,
    rng: random.Random,
    conventional: bool = False,
    with_date: bool = True,
    boxed: bool = False,
) -> float:
    """Name, age/sex, date and diagnosis (region ``patient``); ``combined`` puts name and age/sex on one line.

    ``boxed`` draws a frame around the block (part of the region).
    """
    font = canvas.font(size_pt)
    step = canvas.line_height(font)
    words = Wording(rng, conventional)
    name = name_segments(content.patient, words)
    age = age_sex_segments(content.patient, words)
    rows: list[LineSpec] = []
    pair = LineSpec(chunks=[Chunk(tuple(name), x0), Chunk(tuple(age), x0 + (x1 - x0) * 0.6)], kind="patient")
    if combined and chunks_fit(canvas, pair, font, x0=x0, x1=x1):
        rows.append(pair)
    else:
        rows += [LineSpec([Chunk(tuple(name), x0)], "patient"), LineSpec([Chunk(tuple(age), x0)], "patient")]
    if with_date:
        rows.append(LineSpec([Chunk(tuple(date_segments(content.date_text, words)), x0)], "date"))
    if content.diagnosis:
        label = words.pick(("Diagnosis:", "Dx:", "Provisional Diagnosis:"))
        rows.append(LineSpec([Chunk((Segment(label), Segment(content.diagnosis)), x0)], "other"))
    pad = canvas.px(0.08) if boxed else 0
    y = top + pad
    with canvas.region("patient"):
        for row in rows:
            y += ascent(font)
            canvas.draw_line(row, baseline=y, font=font)
            y += step - ascent(font)
        if boxed:
            frame = (x0 - pad, top, x1, y + pad)
            canvas.rectangle(frame, outline=(110, 110, 110), width=max(1, canvas.dpi // 140))
    return y + pad


def _signature_and_stamp(
    canvas: Canvas, env: Env, content: RxContent, *, x0: float, x1: float, bottom: float, caption: bool
) -> float:
    """Signature at the bottom right (captioned with the prescriber's name), and a stamp near it; returns its top."""
    width = canvas.px(min(2.0, (x1 - x0) / canvas.dpi * 0.35))
    captions = [one_line([Segment(content.doctor.name, "PRESCRIBER")], "prescriber")] if caption else []
    if not caption:
        captions = [one_line([Segment(env.rng.choice(("Signature", "Signature of Doctor", "Sign")))])]
    top = bottom - signature_height(canvas, width=width, captions=len(captions), size_pt=env.body_pt * 0.9)
    signature_block(canvas, right=x1, top=top, width=width, rng=env.rng, captions=captions, size_pt=env.body_pt * 0.9)
    if env.rng.random() < 0.75:
        size = canvas.px(env.rng.uniform(0.8, 1.1))
        center = (x1 - width - size * env.rng.uniform(0.3, 0.8), top + size * env.rng.uniform(0.2, 0.6))
        stamp_block(canvas, content.practice, center=center, size=size, rng=env.rng)
    return top


def _check(y: float, limit: float) -> None:
    if y > limit:
        raise LayoutOverflow(f"content ends at {y:.0f}px, below {limit:.0f}px")


# --------------------------------------------------------------------------------------------------- layouts
def rx_letterhead(content: RxContent, env: Env) -> RenderedPage:
    """Centred letterhead, prescriber under it, patient row, Rx and medications, signed bottom right."""
    canvas, rng = env.canvas(), env.rng
    margin = canvas.px(rng.uniform(0.45, 0.7))
    x0, x1 = margin, canvas.width - margin
    y = letterhead(
        canvas,
        content.practice,
        x0=x0,
        x1=x1,
        top=margin,
        accent=content.accent,
        align="center",
        rng=rng,
        title_pt=env.body_pt * rng.uniform(1.6, 2.1),
        body_pt=env.body_pt,
        rule=content.accent,
    )
    y = draw_block(
        canvas,
        prescriber_lines(content.doctor, rng),
        cls="prescriber",
        x=x0,
        top=y + canvas.px(0.1),
        size_pt=env.body_pt,
    )
    y = _patient_rows(
        canvas,
        content,
        x0=x0,
        x1=x1,
        top=y + canvas.px(0.15),
        size_pt=env.body_pt,
        combined=rng.random() < 0.6,
        rng=rng,
        conventional=env.conventional,
    )
    y = _medications(canvas, content, x0=x0, x1=x1, top=y + canvas.px(0.15), size_pt=env.body_pt, rng=rng)
    foot = footer(
        canvas,
        rng.sample(INDIA_FOOTERS, 2),
        x0=x0,
        x1=x1,
        bottom=canvas.height - margin * 0.7,
        size_pt=env.body_pt * 0.8,
        rule=True,
    )
    top = _signature_and_stamp(
        canvas, env, content, x0=x0, x1=x1, bottom=foot - canvas.px(0.2), caption=rng.random() < 0.7
    )
    _check(y, top - canvas.px(0.1))
    return canvas.page()


def rx_sidebar(content: RxContent, env: Env) -> RenderedPage:
    """A tinted sidebar with the prescriber, the clinic at the top right, a boxed patient block, medications."""
    canvas, rng = env.canvas(), env.rng
    margin = canvas.px(0.4)
    side = round(canvas.width * rng.uniform(0.27, 0.32))
    tint = tuple(min(255, 200 + c // 5) for c in content.accent)
    canvas.draw.rectangle((0, 0, side, canvas.height), fill=tint)
    draw_block(
        canvas,
        prescriber_lines(content.doctor, rng),
        cls="prescriber",
        x=margin * 0.6,
        top=margin,
        size_pt=env.body_pt * 0.9,
    )
    x0, x1 = side + margin * 0.6, canvas.width - margin
    y = letterhead(
        canvas,
        content.practice,
        x0=x0,
        x1=x1,
        top=margin,
        accent=content.accent,
        align="left",
        rng=rng,
        title_pt=env.body_pt * 1.6,
        body_pt=env.body_pt * 0.95,
    )
    y = _patient_rows(
        canvas,
        content,
        x0=x0 + canvas.px(0.1),
        x1=x1,
        top=y + canvas.px(0.15),
        size_pt=env.body_pt,
        combined=False,
        rng=rng,
        conventional=env.conventional,
        boxed=True,
    )
    y = _medications(canvas, content, x0=x0, x1=x1, top=y + canvas.px(0.2), size_pt=env.body_pt, rng=rng)
    foot = footer(
        canvas,
        [content.practice.phone + "  " + content.practice.email],
        x0=x0,
        x1=x1,
        bottom=canvas.height - margin * 0.6,
        size_pt=env.body_pt * 0.8,
        rule=False,
    )
    top = _signature_and_stamp(canvas, env, content, x0=x0, x1=x1, bottom=foot - canvas.px(0.2), caption=True)
    _check(y, top - canvas.px(0.1))
    return canvas.page()


def rx_us_pad(content: RxContent, env: Env) -> RenderedPage:
    """A US prescription pad: practice top left, prescriber top right, patient lines, Rx, signature line."""
    canvas, rng = env.canvas(), env.rng
    margin = canvas.px(rng.uniform(0.4, 0.6))
    x0, x1 = margin, canvas.width - margin
    top = letterhead(
        canvas,
        content.practice,
        x0=x0,
        x1=x1,
        top=margin,
        accent=content.accent,
        align="left",
        rng=rng,
        title_pt=env.body_pt * 1.5,
        body_pt=env.body_pt * 0.9,
    )
    lines = prescriber_lines(content.doctor, rng)
    if canvas.width < canvas.px(7):  # a half-letter pad has no room beside the letterhead
        y = draw_block(canvas, lines, cls="prescriber", x=x0, top=top + canvas.px(0.08), size_pt=env.body_pt * 0.9)
    else:
        right = draw_block(canvas, lines, cls="prescriber", x=x1, top=margin, size_pt=env.body_pt * 0.9, align="right")
        y = max(top, right)
    y += canvas.px(0.1)
    canvas.rule(x0, x1, y, width=max(1, canvas.dpi // 100), fill=(60, 60, 60))
    y = _patient_rows(
        canvas,
        content,
        x0=x0,
        x1=x1,
        top=y + canvas.px(0.1),
        size_pt=env.body_pt,
        combined=rng.random() < 0.5,
        rng=rng,
        conventional=env.conventional,
    )
    y = _medications(canvas, content, x0=x0, x1=x1, top=y + canvas.px(0.1), size_pt=env.body_pt, rng=rng)
    foot = footer(
        canvas,
        rng.sample(US_FOOTERS, 1),
        x0=x0,
        x1=x1,
        bottom=canvas.height - margin * 0.6,
        size_pt=env.body_pt * 0.8,
        rule=True,
    )
    top = _signature_and_stamp(canvas, env, content, x0=x0, x1=x1, bottom=foot - canvas.px(0.15), caption=False)
    _check(y, top - canvas.px(0.1))
    return canvas.page()


@dataclass(frozen=True, slots=True)
class _Columns:
    xs: dict[str, float]
    font: ImageFont.FreeTypeFont
    headers: dict[str, str]


def _table_columns(
    canvas: Canvas, rows: list[dict[str, list[Segment]]], *, x0: float, x1: float, size_pt: float
) -> _Columns | None:
    """Column x positions and the face that makes every cell fit, or None when nothing fits."""
    names = ("number", "medicine", "dose", "frequency", "duration")
    headers = {
        "number": "No.",
        "medicine": "Medicine",
        "dose": "Dose",
        "frequency": "Frequency",
        "duration": "Duration",
    }
    for scale in (1.0, 0.92, 0.85, 0.78):
        font = canvas.font(size_pt * scale)
        widths = {
            name: max(
                [canvas.text_width(" ".join(s.text for s in row[name]), font) for row in rows]
                + [canvas.text_width(headers[name], font)]
            )
            for name in names
        }
        gap = canvas.px(0.18)
        total = sum(widths.values()) + gap * (len(names) - 1)
        if total <= x1 - x0:
            spare = (x1 - x0 - total) / len(names)
            xs: dict[str, float] = {}
            x = x0
            for name in names:
                xs[name] = x
                x += widths[name] + gap + spare
            return _Columns(xs=xs, font=font, headers=headers)
    return None


def _medication_table(canvas: Canvas, content: RxContent, *, x0: float, x1: float, top: float, size_pt: float) -> float:
    """Medications as a table: No. | Medicine | Dose | Frequency | Duration (region ``medications``)."""
    for level in range(4):
        cells = [med_cells(item.trimmed(level)) for item in content.items]
        fitted = _table_columns(canvas, cells, x0=x0, x1=x1, size_pt=size_pt)
        if fitted is not None:
            break
    else:
        raise LayoutOverflow("medication table does not fit")
    xs, font, headers = fitted.xs, fitted.font, fitted.headers
    bold = canvas.font(font.size * 72 / canvas.dpi, "bold")
    step = canvas.line_height(font) * 1.3
    y = top
    thin = max(1, canvas.dpi // 150)
    with canvas.region("medications"):
        y += ascent(bold)
        header = LineSpec([Chunk((Segment(headers[name]),), xs[name]) for name in xs], "other")
        canvas.draw_line(header, baseline=y, font=bold)
        canvas.rule(x0, x1, y + canvas.px(0.06), width=thin, fill=(80, 80, 80))
        for level_item, row in zip(content.items, cells, strict=True):
            y += step
            chunks = [Chunk(tuple(row[name]), xs[name]) for name in xs if row[name]]
            payload = level_item.trimmed(level).payload()
            canvas.draw_line(LineSpec(chunks, "medication", payload), baseline=y, font=font)
        canvas.rule(x0, x1, y + canvas.px(0.1), width=thin, fill=(80, 80, 80))
    return y + canvas.px(0.1)


def rx_opd_table(content: RxContent, env: Env) -> RenderedPage:
    """A hospital out-patient slip: logo header, patient grid, consultant line, medication table."""
    canvas, rng = env.canvas(), env.rng
    margin = canvas.px(0.5)
    x0, x1 = margin, canvas.width - margin
    y = letterhead(
        canvas,
        content.practice,
        x0=x0,
        x1=x1,
        top=margin,
        accent=content.accent,
        align="left",
        rng=rng,
        title_pt=env.body_pt * 1.7,
        body_pt=env.body_pt,
        extra=("OUT-PATIENT PRESCRIPTION",),
        logo=canvas.px(0.6),
    )
    y += canvas.px(0.15)
    y = _patient_rows(
        canvas,
        content,
        x0=x0 + canvas.px(0.1),
        x1=x1,
        top=y,
        size_pt=env.body_pt,
        combined=True,
        rng=rng,
        conventional=env.conventional,
        boxed=True,
    )
    doctor = content.doctor
    consultant = LineSpec(
        [
            Chunk((Segment("Consultant:"), Segment(doctor.name, "PRESCRIBER")), x0),
            Chunk(
                (Segment(doctor.registration_label), Segment(doctor.registration, "REGISTRATION")), x0 + (x1 - x0) * 0.6
            ),
        ],
        "prescriber",
    )
    font = canvas.font(env.body_pt)
    with canvas.region("prescriber"):
        y += canvas.px(0.2) + ascent(font)
        canvas.draw_line(consultant, baseline=y, font=font)
    y = _medication_table(canvas, content, x0=x0, x1=x1, top=y + canvas.px(0.3), size_pt=env.body_pt)
    foot = footer(
        canvas,
        [INDIA_FOOTERS[1], content.practice.phone],
        x0=x0,
        x1=x1,
        bottom=canvas.height - margin * 0.7,
        size_pt=env.body_pt * 0.8,
        rule=True,
    )
    top = _signature_and_stamp(canvas, env, content, x0=x0, x1=x1, bottom=foot - canvas.px(0.2), caption=True)
    _check(y, top - canvas.px(0.1))
    return canvas.page()


def rx_two_column(content: RxContent, env: Env) -> RenderedPage:
    """Prescriber left and clinic right above a thick rule, a one-line patient strip, large Rx, medications."""
    canvas, rng = env.canvas(), env.rng
    margin = canvas.px(0.5)
    x0, x1 = margin, canvas.width - margin
    lines = prescriber_lines(content.doctor, rng)
    left_width = max(canvas.text_width(line.text, canvas.font(env.body_pt * 1.1, "bold")) for line, _ in lines)
    title = canvas.font(env.body_pt * 1.3, "bold")
    practice = content.practice
    right_width = max(
        canvas.text_width(practice.name.upper(), title),
        canvas.text_width(f"{practice.address}, {practice.city_line}", canvas.font(env.body_pt * 0.85)),
    )
    side_by_side = left_width + right_width + canvas.px(0.3) <= x1 - x0
    right = letterhead(
        canvas,
        practice,
        x0=x0,
        x1=x1,
        top=margin,
        accent=(40, 40, 40),
        align="right",
        rng=rng,
        title_pt=env.body_pt * 1.3,
        body_pt=env.body_pt * 0.85,
    )
    top = margin if side_by_side else right + canvas.px(0.1)
    left = draw_block(canvas, lines, cls="prescriber", x=x0, top=top, size_pt=env.body_pt, color=content.accent)
    y = max(left, right) + canvas.px(0.1)
    canvas.rule(x0, x1, y, width=max(3, canvas.dpi // 50), fill=content.accent)
    font = canvas.font(env.body_pt)
    patient = content.patient
    strip = LineSpec(
        [
            Chunk(tuple(name_segments(patient, env.words, "Patient:")), x0),
            Chunk(tuple(age_sex_segments(patient, env.words)), x0 + (x1 - x0) * 0.45),
            Chunk(tuple(date_segments(content.date_text, env.words, "Date:")), x1, "right"),
        ],
        "patient",
    )
    rows = [strip]
    if not chunks_fit(canvas, strip, font, x0=x0, x1=x1):  # no room on one line: name and age, then the date
        rows = [LineSpec(strip.chunks[:2], "patient"), LineSpec([Chunk(strip.chunks[2].segments, x0)], "date")]
        if not chunks_fit(canvas, rows[0], font, x0=x0, x1=x1):
            rows = [
                LineSpec([Chunk(strip.chunks[0].segments, x0)], "patient"),
                LineSpec([Chunk(strip.chunks[1].segments, x0)], "patient"),
                rows[1],
            ]
    with canvas.region("patient"):
        for index, line in enumerate(rows):
            y += (canvas.px(0.2) if index == 0 else 0) + ascent(font)
            canvas.draw_line(line, baseline=y, font=font)
            y += canvas.line_height(font) - ascent(font)
        y -= canvas.line_height(font) - ascent(font)
        if content.diagnosis:
            y += canvas.line_height(font)
            canvas.text([Segment("Dx:"), Segment(content.diagnosis)], x=x0, baseline=y, font=font)
    y = _medications(canvas, content, x0=x0, x1=x1, top=y + canvas.px(0.25), size_pt=env.body_pt, rng=rng)
    foot = footer(
        canvas,
        rng.sample(INDIA_FOOTERS, 1),
        x0=x0,
        x1=x1,
        bottom=canvas.height - margin * 0.7,
        size_pt=env.body_pt * 0.8,
        rule=False,
    )
    top = _signature_and_stamp(canvas, env, content, x0=x0, x1=x1, bottom=foot - canvas.px(0.2), caption=False)
    _check(y, top - canvas.px(0.1))
    return canvas.page()


RxLayout = Callable[[RxContent, Env], RenderedPage]
#: Template name → (layout, style, paper sizes it is printed on).
RX_LAYOUTS: dict[str, tuple[RxLayout, Style, tuple[str, ...]]] = {
    "rx_letterhead": (rx_letterhead, "india", ("A5", "A4")),
    "rx_sidebar": (rx_sidebar, "india", ("A4", "A5")),
    "rx_us_pad": (rx_us_pad, "us", ("Letter", "HalfLetter")),
    "rx_opd_table": (rx_opd_table, "india", ("A4",)),
    "rx_two_column": (rx_two_column, "india", ("A4", "A5")),
}
