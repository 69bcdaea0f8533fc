"""Server-side chart geometry for the operations page: the template draws these shapes as inline SVG.

No JavaScript and no assets: every bar, line and label is computed here from :class:`monitoring.Activity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from services.gateway.monitoring import STAGE_NAMES, Activity

WIDTH, HEIGHT = 720, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 26  # margins (SVG units) around the plot area
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Mark:
    """A bar or a dot: its box (or centre, for dots) and the tooltip."""

    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Line:
    name: str
    points: str
    dots: list[Mark]


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the end labels stay inside the picture


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Mark] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.bars and not any(line.dots for line in self.lines)


def failure_chart(activity: Activity) -> Chart:
    """Bars of the failure rate (failed / finished) per interval; intervals where nothing finished have none."""
    slot = PLOT_W / len(activity.buckets)
    bars = []
    for index, bucket in enumerate(activity.buckets):
        rate = bucket.failure_rate
        if rate is None:
            continue
        height = max(rate * PLOT_H, 1.0)  # a hairline shows "finished, none failed"
        bars.append(
            Mark(
                x=round(LEFT + index * slot + slot * 0.15, 1),
                y=round(TOP + PLOT_H - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                title=f"{_clock(activity, index)}: {bucket.failed} of {bucket.finished} failed ({rate:.0%})",
            )
        )
    y_ticks = [Tick(position=TOP + PLOT_H * (1 - share), label=f"{share:.0%}") for share in (0.0, 0.5, 1.0)]
    return Chart(title="Failure rate", bars=bars, x_ticks=_x_ticks(activity), y_ticks=y_ticks)


def latency_chart(activity: Activity) -> Chart:
    """One line per stage: the median ``total_ms`` of the jobs that finished in each interval."""
    slot = PLOT_W / len(activity.buckets)
    peak = max((v for bucket in activity.buckets for v in bucket.latency_ms.values()), default=0.0)
    top = nice_ceiling(peak)
    lines = []
    for name in STAGE_NAMES:
        dots = []
        for index, bucket in enumerate(activity.buckets):
            value = bucket.latency_ms.get(name)
            if value is None:
                continue
            dots.append(
                Mark(
                    x=round(LEFT + (index + 0.5) * slot, 1),
                    y=round(TOP + PLOT_H * (1 - value / top), 1),
                    width=0,
                    height=0,
                    title=f"{name} {_clock(activity, index)}: median {value:.0f} ms",
                )
            )
        lines.append(Line(name=name, points=" ".join(f"{d.x},{d.y}" for d in dots), dots=dots))
    y_ticks = [Tick(position=TOP + PLOT_H * (1 - share), label=_ms(top * share)) for share in (0.0, 0.5, 1.0)]
    return Chart(title="Stage latency (median)", lines=lines, x_ticks=_x_ticks(activity), y_ticks=y_ticks)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # unreachable: value <= 10 * power by construction


def _x_ticks(activity: Activity) -> list[Tick]:
    slot = PLOT_W / len(activity.buckets)
    ticks = [Tick(position=LEFT + i * slot, label=_clock(activity, i)) for i in range(0, len(activity.buckets), 3)]
    ticks.append(Tick(position=LEFT + PLOT_W, label=activity.until.strftime("%H:%M"), anchor="end"))
    return ticks


def _clock(activity: Activity, index: int) -> str:
    return activity.buckets[index].start.strftime("%H:%M")


def _ms(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"
