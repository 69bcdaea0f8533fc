"""Lab result rows: a value for an analyte, how each phrasing prints the row, and its expected values.

The printed range is the one the expected ``reference_range`` reports (``< 200`` → low null, high 200; a range with
both sexes printed reports the patient's part); the flag is derived from the printed value and range (bounds
inclusive), so a printed ``H``/``L`` always agrees with it and an unflagged row in range is ``N``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from training.corpus.labtests import LabCatalogue, LabTest
from training.corpus.schema import Segment

Flag = Literal["H", "L", "N"]


@dataclass(frozen=True, slots=True)
class LabRowPhrasing:
    """How a lab words its rows: names (common or flowsheet), case, range format and flag words."""

    names: Literal["common", "flowsheet"]
    upper: bool
    range_format: str  # with {low} and {high}
    flag_words: tuple[str, str]  # (high, low)


LAB_ROW_PHRASINGS: dict[str, LabRowPhrasing] = {
    "labrow_common": LabRowPhrasing("common", False, "{low} - {high}", ("H", "L")),
    "labrow_flowsheet": LabRowPhrasing("flowsheet", False, "{low}-{high}", ("H", "L")),
    "labrow_caps": LabRowPhrasing("common", True, "{low} - {high}", ("HIGH", "LOW")),
    "labrow_bracket": LabRowPhrasing("common", False, "[{low} - {high}]", ("High", "Low")),
}
METHODS = ("Photometry", "Calculated", "Impedance", "CLIA", "ECLIA", "HPLC", "Enzymatic", "ISE Direct", "Colorimetric")


@dataclass(frozen=True, slots=True)
class LabRow:
    """One printed result row with the expected values of each piece.

    Attributes:
        test: The analyte.
        name_text: The test name as printed.
        value: The result.
        value_text: The result as printed.
        unit_text: The unit as printed, or None.
        low: Lower bound of the printed range (None: one-sided or not printed).
        high: Upper bound of the printed range.
        range_text: The range as printed, or None.
        flag: Derived flag.
        flag_text: The printed flag word when abnormal, else None.
        method: Method as printed (some layouts), or None.
    """

    test: LabTest
    name_text: str
    value: float
    value_text: str
    unit_text: str | None
    low: float | None
    high: float | None
    range_text: str | None
    flag: Flag
    flag_text: str | None
    method: str | None

    def payload(self) -> dict[str, Any]:
        """The expected lab result's fields except text, page, bbox and confidence."""
        return {
            "test": {"text": self.name_text, "loinc": {"code": self.test.code, "name": self.test.long_name}},
            "value": self.value,
            "value_text": self.value_text,
            "unit": {"text": self.unit_text, "ucum": self.test.ucum} if self.unit_text else None,
            "reference_range": (
                {"low": self.low, "high": self.high, "text": self.range_text} if self.range_text else None
            ),
            "flag": self.flag,
        }

    def cells(self, *, with_flag: bool) -> dict[str, list[Segment]]:
        """Segments per column: test, value, flag, unit, range, method (empty list: nothing printed)."""
        return {
            "test": [Segment(self.name_text, "TEST")],
            "value": [Segment(self.value_text, "VALUE")],
            "flag": [Segment(self.flag_text, "FLAG")] if with_flag and self.flag_text else [],
            "unit": [Segment(self.unit_text, "UNIT")] if self.unit_text else [],
            "range": [Segment(self.range_text, "REF_RANGE")] if self.range_text else [],
            "method": [Segment(self.method)] if self.method else [],
        }


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _sample_value(rng: random.Random, test: LabTest, low: float | None, high: float | None) -> float:
    """A plausible result: mostly in range, abnormal about a third of the time (biased where typical)."""
    if low is not None and high is None:  # lower bound only (folate)
        return rng.uniform(low * 0.4, low * 0.95) if rng.random() < 0.3 else rng.uniform(low * 1.05, low * 3)
    lo = low if low is not None else 0.0
    hi = high if high is not None else lo * 3 + 1
    span = hi - lo
    roll = rng.random()
    bias = test.spec.bias
    p_high = 0.25 if bias == "high" else (0.05 if bias == "low" else 0.15)
    p_low = 0.25 if bias == "low" else (0.05 if bias == "high" else 0.15)
    if roll < p_high:
        return rng.uniform(hi + 0.04 * span, hi + 0.7 * span)
    if roll < p_high + p_low and lo > 0.05 * span:
        return rng.uniform(max(0.0, lo - 0.45 * span), lo - 0.04 * span)
    return rng.uniform(lo + 0.03 * span, hi - 0.03 * span)


def _printed_range(
    rng: random.Random, test: LabTest, sex: str, phrasing: LabRowPhrasing
) -> tuple[float | None, float | None, str]:
    """(low, high, text) of the range as printed for this patient."""
    decimals = test.spec.decimals
    low, high = test.bounds(sex)
    one_sided = test.spec.one_sided
    if high is None and low is not None:
        return low, None, f"> {_fmt(low, decimals)}"
    if one_sided == "upper" and high is not None and rng.random() < 0.6:
        return None, high, rng.choice((f"< {_fmt(high, decimals)}", f"<{_fmt(high, decimals)}"))
    if one_sided == "lower" and low is not None and rng.random() < 0.6:
        return low, None, rng.choice((f"> {_fmt(low, decimals)}", f">{_fmt(low, decimals)}"))
    if low is None or high is None:  # only an upper bound in the file
        return None, high, f"< {_fmt(high, decimals)}" if high is not None else ""
    text = phrasing.range_format.format(low=_fmt(low, decimals), high=_fmt(high, decimals))
    if test.spec.sex_ranges and rng.random() < 0.35:
        parts = [
            f"{key}: " + phrasing.range_format.format(low=_fmt(lo, decimals), high=_fmt(hi, decimals))
            for key, (lo, hi) in sorted(test.spec.sex_ranges.items(), key=lambda kv: kv[0] != "M")
        ]
        text = " ".join(parts)
    return low, high, text


def _flag(value: float, low: float | None, high: float | None) -> Flag:
    if high is not None and value > high:
        return "H"
    if low is not None and value < low:
        return "L"
    return "N"


def sample_row(rng: random.Random, test: LabTest, *, sex: str, phrasing: str, method: bool = False) -> LabRow:
    """One result row for a patient of ``sex`` in a phrasing of :data:`LAB_ROW_PHRASINGS`."""
    style = LAB_ROW_PHRASINGS[phrasing]
    name = test.flowsheet_name if style.names == "flowsheet" else rng.choice(test.spec.names)
    name = name.upper() if style.upper else name
    file_low, file_high = test.bounds(sex)
    value = round(_sample_value(rng, test, file_low, file_high), test.spec.decimals)
    low, high, range_text = _printed_range(rng, test, sex, style)
    flag = _flag(value, low, high)
    units = test.unit_texts()
    unit_text = rng.choice(units[:2]) if units else None
    words = {"H": style.flag_words[0], "L": style.flag_words[1]}
    return LabRow(
        test=test,
        name_text=name,
        value=value,
        value_text=_fmt(value, test.spec.decimals),
        unit_text=unit_text,
        low=low,
        high=high,
        range_text=range_text,
        flag=flag,
        flag_text=words.get(flag),
        method=rng.choice(METHODS) if method else None,
    )


@dataclass(frozen=True, slots=True)
class Section:
    """A printed section: its title and rows."""

    key: str
    title: str
    rows: tuple[LabRow, ...]


def sample_sections(
    rng: random.Random,
    *,
    catalogue: LabCatalogue,
    sex: str,
    phrasing: str,
    count: int,
    method: bool = False,
    panels: tuple[str, ...] = (),
) -> list[Section]:
    """``count`` sections (``panels`` first, then random ones), each with all or most of its analytes.

    Raises:
        KeyError: unknown phrasing or panel.
    """
    from training.corpus.labtests import LAB_PANELS

    available = catalogue.panels()
    keys = [key for key in panels if key in available]
    rest = [key for key in available if key not in keys]
    rng.shuffle(rest)
    keys += rest[: max(0, count - len(keys))]
    sections = []
    upper = LAB_ROW_PHRASINGS[phrasing].upper
    for key in keys[:count]:
        tests = catalogue.panel(key)
        chosen: list[LabTest] = []
        groups: set[str] = set()
        for test in tests:
            if test.spec.group and (test.spec.group in groups or rng.random() < 0.5):
                continue
            if len(tests) > 6 and rng.random() < 0.15:
                continue  # labs often leave out an analyte or two of a long panel
            chosen.append(test)
            if test.spec.group:
                groups.add(test.spec.group)
        title = rng.choice(LAB_PANELS[key][0])
        rows = tuple(sample_row(rng, test, sex=sex, phrasing=phrasing, method=method) for test in chosen)
        sections.append(Section(key=key, title=title.upper() if upper else title, rows=rows))
    return sections
