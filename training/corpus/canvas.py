"""A page being drawn: text lines with their tight boxes, regions around them, and clutter (signatures, stamps).

Every line is drawn inside an open region (``with canvas.region("patient"): ...``); the region's box is the union of
its lines and shapes plus a small margin, clipped to the page, so every line box lies inside its region's box by
construction. Line boxes are the ink boxes PIL reports for the drawn text (``ImageDraw.textbbox``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from training.corpus.fonts import FontBook, FontStyle
from training.corpus.schema import (
    REGION_CLASSES,
    Box,
    Chunk,
    LineSpec,
    RenderedLine,
    RenderedPage,
    RenderedRegion,
    Segment,
    bio_tokens,
    line_text,
)

Color = tuple[int, int, int]
INK: Color = (20, 20, 24)


class LayoutOverflow(RuntimeError):
    """Content does not fit: a line would leave the page, or a layout ran out of room."""


def union(boxes: list[Box]) -> Box:
    """The smallest box containing all ``boxes``."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


@dataclass
class _OpenRegion:
    cls: str
    boxes: list[Box] = field(default_factory=list)


class Canvas:
    """One page at a resolution, drawn top to bottom by a layout.

    Args:
        width: Page width in pixels.
        height: Page height in pixels.
        dpi: Resolution (points and inches → pixels).
        fonts: The document's font family at this resolution.
        paper: Background colour.
    """

    def __init__(self, *, width: int, height: int, dpi: int, fonts: FontBook, paper: Color = (255, 255, 255)) -> None:
        self.width, self.height, self.dpi, self.fonts = width, height, dpi, fonts
        self.image = Image.new("RGB", (width, height), paper)
        self.draw = ImageDraw.Draw(self.image)
        self.lines: list[RenderedLine] = []
        self.regions: list[RenderedRegion] = []
        self._open: _OpenRegion | None = None
        self.margin_px = max(2, round(0.03 * dpi))

    # ------------------------------------------------------------------------------------------- units
    def px(self, inches: float) -> int:
        """Inches → pixels at the page resolution."""
        return round(inches * self.dpi)

    def font(self, size_pt: float, style: FontStyle = "regular") -> ImageFont.FreeTypeFont:
        """The document family's face at ``size_pt`` points."""
        return self.fonts.font(size_pt, style)

    def line_height(self, font: ImageFont.FreeTypeFont, spacing: float = 1.35) -> int:
        """Baseline-to-baseline distance for a face (``spacing`` × its height), in pixels."""
        ascent, descent = font.getmetrics()
        return round((ascent + descent) * spacing)

    def text_width(self, text: str, font: ImageFont.FreeTypeFont) -> float:
        """Advance width of ``text`` in a face, in pixels."""
        return float(font.getlength(text))

    # ------------------------------------------------------------------------------------------- regions
    @contextmanager
    def region(self, cls: str) -> Iterator[None]:
        """Open a region: lines and shapes drawn inside belong to it; its box is set on exit."""
        if cls not in REGION_CLASSES:
            raise ValueError(f"unknown region class {cls!r}")
        if self._open is not None:
            raise RuntimeError("regions do not nest")
        self._open = _OpenRegion(cls)
        try:
            yield
        finally:
            opened, self._open = self._open, None
            if opened.boxes:
                x0, y0, x1, y1 = union(opened.boxes)
                m = self.margin_px
                self.regions.append(
                    RenderedRegion(
                        cls=opened.cls,
                        bbox=(max(0.0, x0 - m), max(0.0, y0 - m), min(self.width, x1 + m), min(self.height, y1 + m)),
                    )
                )

    def _add_box(self, box: Box) -> None:
        if self._open is None:
            raise RuntimeError("draw inside a region")
        self._open.boxes.append(box)

    # ------------------------------------------------------------------------------------------- text
    def draw_line(
        self,
        spec: LineSpec,
        *,
        baseline: float,
        font: ImageFont.FreeTypeFont,
        fill: Color = INK,
        fonts: dict[int, ImageFont.FreeTypeFont] | None = None,
    ) -> Box:
        """Draw a line's chunks on one baseline and record it (text, tight box, tokens, payload).

        Args:
            spec: The line.
            baseline: y of the baseline in pixels.
            font: Face for every chunk, unless ``fonts`` gives one for a chunk index.
            fill: Ink colour.
            fonts: Per-chunk faces (a bold test name, say).

        Returns:
            The line's box.
        """
        if self._open is None:
            raise RuntimeError("draw inside a region")
        boxes = []
        for index, chunk in enumerate(spec.chunks):
            face = (fonts or {}).get(index, font)
            x = chunk.x - self.text_width(chunk.text, face) if chunk.align == "right" else chunk.x
            self.draw.text((x, baseline), chunk.text, font=face, fill=fill, anchor="ls")
            boxes.append(tuple(float(v) for v in self.draw.textbbox((x, baseline), chunk.text, font=face, anchor="ls")))
        box = union(boxes)  # type: ignore[arg-type]
        if box[0] < 0 or box[1] < 0 or box[2] > self.width or box[3] > self.height:
            raise LayoutOverflow(f"line {spec.text[:40]!r} leaves the page at {box}")
        self.lines.append(
            RenderedLine(
                text=line_text(spec.segments),
                bbox=box,
                region=self._open.cls,
                kind=spec.kind,
                tokens=bio_tokens(spec.segments),
                payload=spec.payload,
            )
        )
        self._add_box(box)
        return box

    def text(
        self,
        segments: list[Segment] | tuple[Segment, ...],
        *,
        x: float,
        baseline: float,
        font: ImageFont.FreeTypeFont,
        kind: str = "other",
        align: str = "left",
        fill: Color = INK,
    ) -> Box:
        """Draw one run of segments (a one-chunk line)."""
        spec = LineSpec(chunks=[Chunk(tuple(segments), x, align)], kind=kind)  # type: ignore[arg-type]
        return self.draw_line(spec, baseline=baseline, font=font, fill=fill)

    def plain(self, text: str, *, x: float, baseline: float, font: ImageFont.FreeTypeFont, **kw: object) -> Box:
        """Draw unlabelled text (kind ``other``)."""
        return self.text([Segment(" ".join(text.split()))], x=x, baseline=baseline, font=font, **kw)  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------------- shapes
    def rule(self, x0: float, x1: float, y: float, *, width: int = 2, fill: Color = INK) -> None:
        """A horizontal rule (part of the open region, if any)."""
        self.draw.line([(x0, y), (x1, y)], fill=fill, width=width)
        if self._open is not None:
            self._add_box((x0, y - width / 2, x1, y + width / 2))

    def rectangle(self, box: Box, *, outline: Color = INK, width: int = 2, fill: Color | None = None) -> None:
        """A rectangle (a frame or a shaded band), part of the open region if any."""
        self.draw.rectangle(box, outline=outline, width=width, fill=fill)
        if self._open is not None:
            self._add_box(box)

    def logo(self, x: float, y: float, size: float, color: Color, rng: random.Random) -> None:
        """A simple emblem (a cross in a circle, or a monogram square) for a letterhead."""
        box = (x, y, x + size, y + size)
        if rng.random() < 0.5:
            self.draw.ellipse(box, outline=color, width=max(2, round(size / 14)))
            arm, mid = size * 0.18, (x + size / 2, y + size / 2)
            self.draw.rectangle((mid[0] - arm / 2, y + size * 0.2, mid[0] + arm / 2, y + size * 0.8), fill=color)
            self.draw.rectangle((x + size * 0.2, mid[1] - arm / 2, x + size * 0.8, mid[1] + arm / 2), fill=color)
        else:
            self.draw.rounded_rectangle(box, radius=size / 6, fill=color)
        if self._open is not None:
            self._add_box(box)

    def signature(self, box: Box, rng: random.Random, color: Color = (25, 35, 110)) -> Box:
        """A scribbled signature inside ``box``: looping cursive strokes (region ``signature`` must be open)."""
        x0, y0, x1, y1 = box
        width = max(2, round(self.dpi / 110))
        height, middle = y1 - y0, (y0 + y1) / 2
        drawn: list[tuple[float, float]] = []
        strokes = rng.randint(1, 3)
        span = (x1 - x0) / strokes
        for stroke in range(strokes):
            loops = rng.randint(2, 4)
            radius = height * rng.uniform(0.12, 0.24)
            slope = rng.uniform(-0.25, 0.25)
            start = x0 + stroke * span
            points = []
            for i in range(24 * loops + 1):
                t = i / (24 * loops)
                angle = t * loops * 2 * math.pi
                x = start + t * span * 0.92 + radius * 0.9 * math.cos(angle)
                y = middle - radius * math.sin(angle) * rng.uniform(0.85, 1.15) + (t - 0.5) * height * slope
                points.append((min(max(x, x0), x1), min(max(y, y0), y1)))
            self.draw.line(points, fill=color, width=width, joint="curve")
            drawn += points
        if rng.random() < 0.6:  # an underline flourish
            flourish = [(x0 + (x1 - x0) * 0.05, y1 - height * 0.08), (x1 - (x1 - x0) * 0.05, y1 - height * 0.2)]
            self.draw.line(flourish, fill=color, width=width)
            drawn += flourish
        xs, ys = [p[0] for p in drawn], [p[1] for p in drawn]
        found = (
            max(0.0, min(xs) - width),
            max(0.0, min(ys) - width),
            min(float(self.width), max(xs) + width),
            min(float(self.height), max(ys) + width),
        )
        self._add_box(found)
        return found

    def stamp(self, center: tuple[float, float], size: float, texts: list[str], rng: random.Random) -> Box:
        """An inked stamp (circle or rectangle outline with text), tilted, blended over the page.

        Stamp text is clutter: it is not recorded as a line. Its region ``stamp`` must be open.
        """
        color = rng.choice(((40, 60, 170), (110, 40, 140), (170, 40, 50), (30, 100, 160)))
        round_stamp = rng.random() < 0.5
        w, h = (size, size) if round_stamp else (size * 1.7, size * 0.8)
        layer = Image.new("RGBA", (round(w) + 8, round(h) + 8), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        stroke = max(2, round(size / 40))
        if round_stamp:
            draw.ellipse((4, 4, w + 4, h + 4), outline=(*color, 210), width=stroke)
            draw.ellipse(
                (4 + size * 0.08, 4 + size * 0.08, w + 4 - size * 0.08, h + 4 - size * 0.08),
                outline=(*color, 210),
                width=max(1, stroke // 2),
            )
        else:
            draw.rectangle((4, 4, w + 4, h + 4), outline=(*color, 210), width=stroke)
        face = self.font(max(5.0, size / self.dpi * 72 / 9), "bold")
        room = w * (0.62 if round_stamp else 0.85)
        while face.size > 6 and max(face.getlength(text) for text in texts[:3]) > room:
            face = ImageFont.truetype(face.path, face.size - 1)
        for i, text in enumerate(texts[:3]):
            y = 4 + h * (0.3 + 0.22 * i) if len(texts) > 1 else 4 + h / 2
            draw.text((4 + w / 2, y), text, font=face, fill=(*color, 200), anchor="mm")
        angle = rng.uniform(-25, 25)
        rotated = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
        x = round(center[0] - rotated.width / 2)
        y = round(center[1] - rotated.height / 2)
        self.image.paste(rotated, (x, y), rotated)
        alpha_box = rotated.getchannel("A").getbbox() or (0, 0, rotated.width, rotated.height)
        box = (
            max(0.0, float(x + alpha_box[0])),
            max(0.0, float(y + alpha_box[1])),
            min(float(self.width), float(x + alpha_box[2])),
            min(float(self.height), float(y + alpha_box[3])),
        )
        self._add_box(box)
        return box

    def page(self) -> RenderedPage:
        """The drawn page with its regions and lines."""
        return RenderedPage(image=self.image, dpi=self.dpi, regions=list(self.regions), lines=list(self.lines))
