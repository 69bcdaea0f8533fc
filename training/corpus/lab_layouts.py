"""Lab report layouts: four table designs sharing one paginating renderer, chosen by name from :data:`LAB_LAYOUTS`.

A report repeats its letterhead and patient block on every page, flows its sections (each a ``lab_table`` region:
title, column header, rows) onto as many pages as needed, and ends with the pathologist's signature; footers
(``Page i of n``) are drawn once the page count is known.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from dataclasses import dataclass, field
from typing import Literal

from PIL import ImageFont

from training.corpus.canvas import Canvas
from training.corpus.content import LabContent
from training.corpus.kit import (
    Env,
    Wording,
    age_sex_segments,
    ascent,
    footer,
    letterhead,
    name_segments,
    one_line,
    signature_block,
    signature_height,
    stamp_block,
)
from training.corpus.labrows import LabRow, Section
from training.corpus.people import Style
from training.corpus.schema import Chunk, LineSpec, RenderedPage, Segment

Column = Literal["test", "value", "flag", "unit", "range", "method"]


@dataclass(frozen=True, slots=True)
class LabStyle:
    """The design of one lab layout.

    Attributes:
        columns: Table columns, left to right.
        labels: Column header words.
        flag_mode: ``column`` (its own column), ``after_value`` (next to the value) or ``none`` (not printed).
        grid: Rules between rows and around the table.
        header_align: Letterhead alignment.
        patient: ``two_column``, ``box`` or ``stacked``.
        title_align: Section title ``left`` or ``center``; ``band`` shades a strip behind it.
        paper: Paper sizes.
        style: ``india`` or ``us``.
        page_per_section: Sections may start a new page.
    """

    columns: tuple[Column, ...]
    labels: dict[str, str]
    flag_mode: Literal["column", "after_value", "none"]
    grid: bool
    header_align: Literal["center", "left"]
    patient: Literal["two_column", "box", "stacked"]
    title_align: Literal["left", "center", "band"]
    paper: tuple[str, ...]
    style: Style
    page_per_section: bool = False
    value_align: Literal["left", "right"] = "left"
    extra_header: tuple[str, ...] = field(default=())
    method_rate: float = 0.0

    def with_method(self, rng: random.Random) -> LabStyle:
        """This design, with a trailing ``Method`` column in a share (``method_rate``) of the reports."""
        if "method" in self.columns or rng.random() >= self.method_rate:
            return self
        return dataclasses.replace(self, columns=(*self.columns, "method"), labels={**self.labels, "method": "Method"})


LAB_STYLES: dict[str, LabStyle] = {
    "lab_classic": LabStyle(
        columns=("test", "value", "unit", "range"),
        labels={"test": "Test Name", "value": "Result", "unit": "Unit", "range": "Bio. Ref. Interval"},
        flag_mode="after_value", grid=False, header_align="center", patient="two_column", title_align="center",
        paper=("A4",), style="india", page_per_section=True, extra_header=("NABL Accredited Laboratory",),
        method_rate=0.3,
    ),
    "lab_grid": LabStyle(
        columns=("test", "value", "flag", "unit", "range"),
        labels={"test": "Investigation", "value": "Observed Value", "flag": "Flag", "unit": "Units",
                "range": "Biological Reference Range"},
        flag_mode="column", grid=True, header_align="left", patient="box", title_align="band",
        paper=("A4",), style="india", extra_header=("Department of Pathology",), method_rate=0.4,
    ),
    "lab_us": LabStyle(
        columns=("test", "value", "flag", "unit", "range"),
        labels={"test": "Test", "value": "Result", "flag": "Flag", "unit": "Units", "range": "Reference Interval"},
        flag_mode="column", grid=False, header_align="left", patient="stacked", title_align="left",
        paper=("Letter",), style="us", extra_header=("CLIA Certified Laboratory",),
    ),
    "lab_compact": LabStyle(
        columns=("test", "value", "unit", "range", "method"),
        labels={"test": "TEST", "value": "RESULT", "unit": "UNITS", "range": "REF. RANGE", "method": "METHOD"},
        flag_mode="after_value", grid=False, header_align="left", patient="two_column", title_align="left",
        paper=("A4", "Letter"), style="india", value_align="right", extra_header=("Diagnostic Laboratory Services",),
    ),
}  # fmt: skip


class LabLayoutError(RuntimeError):
    """The table cannot be laid out on the page."""


@dataclass
class _Table:
    """Column positions and faces, fixed for the whole report."""

    xs: dict[str, float]
    widths: dict[str, float]
    font: ImageFont.FreeTypeFont
    bold: ImageFont.FreeTypeFont
    step: float


# --------------------------------------------------------------------------------------------------- pieces
def _cells_text(cells: list[Segment]) -> str:
    return " ".join(segment.text for segment in cells)


def _measure(canvas: Canvas, style: LabStyle, rows: list[LabRow], *, x0: float, x1: float, size_pt: float) -> _Table:
    with_flag = style.flag_mode != "none"
    for scale in (1.0, 0.93, 0.86, 0.8, 0.75):
        font = canvas.font(size_pt * scale)
        bold = canvas.font(size_pt * scale, "bold")
        widths: dict[str, float] = {}
        for column in style.columns:
            cells = [_cells_text(row.cells(with_flag=with_flag)[column]) for row in rows]
            widths[column] = max(
                [canvas.text_width(text, font) for text in cells] + [canvas.text_width(style.labels[column], bold)]
            )
        if style.flag_mode == "after_value":
            widths["value"] += canvas.text_width(" HIGH", font)
        gap = canvas.px(0.2)
        total = sum(widths.values()) + gap * (len(widths) - 1)
        if total <= x1 - x0:
            spare = (x1 - x0 - total) / len(widths)
            xs: dict[str, float] = {}
            x = x0
            for column in style.columns:
                xs[column] = x
                x += widths[column] + gap + spare
            return _Table(xs=xs, widths=widths, font=font, bold=bold, step=canvas.line_height(font) * 1.25)
    raise LabLayoutError("the result table does not fit the page width")


def _row_line(row: LabRow, style: LabStyle, table: _Table, canvas: Canvas) -> LineSpec:
    cells = row.cells(with_flag=style.flag_mode != "none")
    chunks: list[Chunk] = []
    for column in style.columns:
        segments = cells[column]
        if not segments:
            continue
        x = table.xs[column]
        if column == "value" and style.value_align == "right":
            chunks.append(
                Chunk(tuple(segments), x + table.widths["value"] - canvas.text_width(" HIGH", table.font), "right")
            )
        else:
            chunks.append(Chunk(tuple(segments), x))
        if column == "value" and style.flag_mode == "after_value" and cells["flag"]:
            end = chunks[-1].x if chunks[-1].align == "right" else x + canvas.text_width(row.value_text, table.font)
            chunks.append(Chunk(tuple(cells["flag"]), end + canvas.text_width(" ", table.font)))
    return LineSpec(chunks=chunks, kind="lab_result", payload=row.payload())


def _patient_cells(content: LabContent, words: Wording, style: LabStyle) -> list[LineSpec]:
    """Patient block lines in reading order: name, age/sex, referrer, sample, collected, report date."""
    us = style.style == "us"
    referrer = (
        one_line(
            [
                Segment("Ordering Physician:" if us else words.pick(("Ref. By:", "Referred By:"))),
                Segment(content.referrer, "PRESCRIBER"),
            ],
            "prescriber",
        )
        if content.referrer
        else one_line([Segment("Ref. By:"), Segment("Self")])
    )
    date_label = "Reported:" if us else words.pick(("Report Date:", "Reported On:", "Date:"))
    name_label = "Patient:" if us else words.pick(("Patient Name:", "Name:"))
    collected_label = "Collected:" if us else words.pick(("Collected On:", "Sample Collected:"))
    return [
        one_line(name_segments(content.patient, words, name_label), "patient"),
        one_line(age_sex_segments(content.patient, words), "patient"),
        referrer,
        one_line([Segment("Sample ID:" if not us else "Accession:"), Segment(content.sample_id)]),
        one_line([Segment(collected_label), Segment(content.collected_text)]),
        one_line([Segment(date_label), Segment(content.date_text, "DATE")], "date"),
    ]


def _patient_block(
    canvas: Canvas,
    content: LabContent,
    style: LabStyle,
    *,
    x0: float,
    x1: float,
    top: float,
    size_pt: float,
    words: Wording,
) -> float:
    """The patient block (region ``patient``) in the layout's arrangement; returns the y below."""
    lines = _patient_cells(content, words, style)
    font = canvas.font(size_pt)
    step = canvas.line_height(font)
    arrangement = style.patient
    places = _places(arrangement, len(lines), x0=x0 + canvas.px(0.08), x1=x1)
    while arrangement != "stacked" and not _places_fit(canvas, lines, places, font, x1=x1):
        arrangement = "two_column" if arrangement == "box" else "stacked"
        places = _places(arrangement, len(lines), x0=x0 + canvas.px(0.08), x1=x1)
    rows = max(row for _, row in places) + 1
    with canvas.region("patient"):
        for spec, (x, row) in zip(lines, places, strict=True):
            placed = LineSpec(chunks=[Chunk(spec.chunks[0].segments, x)], kind=spec.kind)
            canvas.draw_line(placed, baseline=top + ascent(font) + row * step, font=font)
        if arrangement == "box":
            canvas.rectangle(
                (x0, top - canvas.px(0.05), x1, top + rows * step + canvas.px(0.02)),
                outline=(90, 90, 90),
                width=max(1, canvas.dpi // 150),
            )
    return top + rows * step + canvas.px(0.1)


def _places(arrangement: str, count: int, *, x0: float, x1: float) -> list[tuple[float, int]]:
    """(x, row) of each patient-block line: one column, two columns of three, or a 3 × 2 grid."""
    if arrangement == "stacked":
        return [(x0, i) for i in range(count)]
    if arrangement == "two_column":
        return [(x0 if i < 3 else x0 + (x1 - x0) * 0.55, i % 3) for i in range(count)]
    order = (0, 1, 3, 2, 4, 5)  # name | age | sample  /  referrer | collected | date
    thirds = (x1 - x0) / 3
    return [(x0 + thirds * (order.index(i) % 3), order.index(i) // 3) for i in range(count)]


def _places_fit(
    canvas: Canvas, lines: list[LineSpec], places: list[tuple[float, int]], font: ImageFont.FreeTypeFont, *, x1: float
) -> bool:
    """True when no line runs into the next one on its row or past ``x1``."""
    gap = canvas.text_width("  ", font)
    spans = sorted(
        (row, x, x + canvas.text_width(spec.text, font)) for spec, (x, row) in zip(lines, places, strict=True)
    )
    for (row, _, end), (next_row, next_x, _) in itertools.pairwise(spans):
        if row == next_row and end + gap > next_x:
            return False
    return all(end <= x1 for _, _, end in spans)


def _page_top(canvas: Canvas, content: LabContent, style: LabStyle, env: Env, *, x0: float, x1: float) -> float:
    """Letterhead and patient block of one page; returns the y where tables may start."""
    rng = env.rng
    margin = canvas.px(0.5)
    y = letterhead(
        canvas,
        content.practice,
        x0=x0,
        x1=x1,
        top=margin,
        accent=content.accent,
        align=style.header_align,
        rng=rng,
        title_pt=env.body_pt * 1.8,
        body_pt=env.body_pt,
        extra=style.extra_header,
        rule=content.accent,
        logo=canvas.px(0.55) if style.header_align == "left" else 0.0,
    )
    return _patient_block(
        canvas, content, style, x0=x0, x1=x1, top=y + canvas.px(0.12), size_pt=env.body_pt, words=env.words
    )


def _title(canvas: Canvas, style: LabStyle, title: str, table: _Table, *, x0: float, x1: float, y: float) -> float:
    face = table.bold
    y += ascent(face)
    if style.title_align == "band":
        canvas.rectangle(
            (x0, y - ascent(face) - canvas.px(0.04), x1, y + canvas.px(0.06)),
            outline=(200, 200, 200),
            width=1,
            fill=(232, 232, 232),
        )
    x = (x0 + x1) / 2 - canvas.text_width(title, face) / 2 if style.title_align == "center" else x0
    canvas.plain(title, x=x, baseline=y, font=face)
    return y + table.step * 0.6


def _column_header(canvas: Canvas, style: LabStyle, table: _Table, *, x0: float, x1: float, y: float) -> float:
    y += ascent(table.bold)
    spec = LineSpec([Chunk((Segment(style.labels[c]),), table.xs[c]) for c in style.columns], "other")
    canvas.draw_line(spec, baseline=y, font=table.bold)
    canvas.rule(x0, x1, y + canvas.px(0.06), width=max(1, canvas.dpi // 150), fill=(80, 80, 80))
    return y + canvas.px(0.06)


# --------------------------------------------------------------------------------------------------- renderer
@dataclass
class _Flow:
    """The page being filled and the pages done."""

    env: Env
    content: LabContent
    style: LabStyle
    table: _Table
    pages: list[Canvas] = field(default_factory=list)
    y: float = 0.0

    @property
    def canvas(self) -> Canvas:
        """The page being filled."""
        return self.pages[-1]

    def bounds(self) -> tuple[float, float, float]:
        """Left and right table edges and the lowest baseline a row may use on the current page."""
        margin = self.canvas.px(0.55)
        return margin, self.canvas.width - margin, self.canvas.height - self.canvas.px(0.5) - self._reserve()

    def _reserve(self) -> float:
        """Room kept at the bottom of every page: footer lines, and the signature on what may be the last page."""
        canvas = self.canvas
        foot = canvas.line_height(canvas.font(self.env.body_pt * 0.8)) * 3
        return foot + signature_height(canvas, width=canvas.px(1.6), captions=2, size_pt=self.env.body_pt * 0.9)

    def new_page(self) -> None:
        """Start a page: letterhead and patient block, tables below."""
        self.pages.append(self.env.canvas())
        x0, x1, _ = self.bounds()
        self.y = _page_top(self.canvas, self.content, self.style, self.env, x0=x0, x1=x1) + self.canvas.px(0.1)

    def section(self, section: Section, *, first: bool) -> None:
        """Flow one section's rows onto the current and following pages (a ``lab_table`` region per page)."""
        rows = list(section.rows)
        title = section.title
        x0, x1, limit = self.bounds()
        if not first and self.style.page_per_section and self.env.rng.random() < 0.5:
            self.new_page()
        while rows:
            x0, x1, limit = self.bounds()
            if self.y + self.table.step * 4 > limit:
                self.new_page()
                x0, x1, limit = self.bounds()
            with self.canvas.region("lab_table"):
                self.y = _title(self.canvas, self.style, title, self.table, x0=x0, x1=x1, y=self.y)
                self.y = _column_header(self.canvas, self.style, self.table, x0=x0, x1=x1, y=self.y)
                while rows and self.y + self.table.step <= limit:
                    self.y += self.table.step
                    self._row(rows.pop(0), x0=x0, x1=x1)
            title = f"{section.title} (contd.)"
            self.y += self.table.step * 0.8

    def _row(self, row: LabRow, *, x0: float, x1: float) -> None:
        spec = _row_line(row, self.style, self.table, self.canvas)
        bold = {0: self.table.bold} if self.style.grid else None
        self.canvas.draw_line(spec, baseline=self.y, font=self.table.font, fonts=bold)
        if self.style.grid:
            self.canvas.rule(x0, x1, self.y + self.canvas.px(0.07), width=1, fill=(170, 170, 170))


def _finish(flow: _Flow) -> list[RenderedPage]:
    """Signature (and stamp) on the last page, then footers with page numbers on every page."""
    env, content = flow.env, flow.content
    last = flow.canvas
    x0, x1, _ = flow.bounds()
    foot_size = env.body_pt * 0.8
    foot_height = last.line_height(last.font(foot_size)) * 3
    bottom = last.height - last.px(0.5)
    captions = [one_line([Segment(content.pathologist)]), one_line([Segment(content.pathologist_title)])]
    sig_top = bottom - foot_height - signature_height(last, width=last.px(1.6), captions=2, size_pt=env.body_pt * 0.9)
    signature_block(
        last, right=x1, top=sig_top, width=last.px(1.6), rng=env.rng, captions=captions, size_pt=env.body_pt * 0.9
    )
    if env.rng.random() < 0.5:
        stamp_block(
            last, content.practice, center=(x1 - last.px(2.4), sig_top + last.px(0.45)), size=last.px(0.9), rng=env.rng
        )
    total = len(flow.pages)
    for number, canvas in enumerate(flow.pages, start=1):
        texts = ["This is an electronically generated report", f"Page {number} of {total}"]
        if number == total:
            texts.insert(0, "*** End of Report ***")
        footer(canvas, texts, x0=x0, x1=x1, bottom=bottom + last.px(0.2), size_pt=foot_size, rule=number != total)
    return [canvas.page() for canvas in flow.pages]


def render_lab(content: LabContent, env: Env, style: LabStyle) -> list[RenderedPage]:
    """Draw a whole lab report; one page per canvas, as many as the sections need.

    Raises:
        LabLayoutError: the table does not fit the page width.
    """
    probe = env.canvas()  # measures with the report's faces before any page is drawn
    margin = probe.px(0.55)
    rows = [row for section in content.sections for row in section.rows]
    table = _measure(probe, style, rows, x0=margin, x1=probe.width - margin, size_pt=env.body_pt)
    flow = _Flow(env=env, content=content, style=style, table=table)
    flow.new_page()
    for index, section in enumerate(content.sections):
        flow.section(section, first=index == 0)
    return _finish(flow)


LAB_LAYOUTS: dict[str, LabStyle] = LAB_STYLES
