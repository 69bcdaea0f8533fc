"""The SIG abbreviation table as the generator reads it: schedule (per day) and FHIR Timing code of each row.

Read from ``<vocab_dir>/sig/sig_abbreviations.csv``. The generator deliberately has its own small reader instead of
importing the normaliser's: the ground truth must not be computed by the code it measures. Every timing code in
the corpus comes from the ``fhir_timing_code`` column of this file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: Periods of each unit in a day (a month counts as 30 days).
UNITS_PER_DAY: dict[str, float] = {"h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30}


@dataclass(frozen=True, slots=True)
class SigRow:
    """One row: abbreviation (upper case, no dots), kind, meaning, administrations per day and FHIR code."""

    abbrev: str
    kind: str
    meaning: str
    per_day: float | None
    timing_code: str | None
    period: float | None
    period_unit: str | None


@dataclass(frozen=True, slots=True)
class SigTable:
    rows: tuple[SigRow, ...]

    def abbrev(self, text: str) -> SigRow:
        """The row of an abbreviation as printed (case, dots and spaces ignored).

        Raises:
            KeyError: the table has no such abbreviation.
        """
        key = "".join(ch for ch in text.upper() if ch not in ". ")
        for row in self.rows:
            if row.abbrev == key:
                return row
        raise KeyError(f"SIG table has no abbreviation {text!r}")

    def meaning(self, words: str, *, kind: str = "frequency") -> SigRow:
        """The first row of a kind whose meaning is exactly ``words`` (``twice daily`` → the BID row).

        Raises:
            KeyError: no such meaning.
        """
        for row in self.rows:
            if row.kind == kind and row.meaning == words:
                return row
        raise KeyError(f"SIG table has no {kind} meaning {words!r}")

    def daily_count(self, count: int) -> SigRow:
        """The first once-a-day-period frequency row with ``count`` administrations and a FHIR code.

        Indian "1-0-1" patterns use this: two non-zero slots → the twice-daily row.

        Raises:
            KeyError: no such row.
        """
        for row in self.rows:
            if (
                row.kind == "frequency"
                and row.period == 1
                and row.period_unit == "d"
                and row.per_day == count
                and row.timing_code
            ):
                return row
        raise KeyError(f"SIG table has no coded frequency of {count} a day")

    def of_kind(self, kind: str) -> list[SigRow]:
        """The rows of one kind, in file order."""
        return [row for row in self.rows if row.kind == kind]


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def _row(raw: dict[str, str]) -> SigRow:
    times, period, unit = _number(raw["times_per_period"]), _number(raw["period"]), raw["period_unit"].strip() or None
    per_day = times * UNITS_PER_DAY[unit] / period if times is not None and period and unit else None
    return SigRow(
        abbrev="".join(ch for ch in raw["abbrev"].upper() if ch not in ". "),
        kind=raw["kind"].strip(),
        meaning=raw["meaning"].strip(),
        per_day=per_day,
        timing_code=raw["fhir_timing_code"].strip() or None,
        period=period,
        period_unit=unit,
    )


@cache
def load_sig_table(vocab_dir: Path) -> SigTable:
    """Read ``<vocab_dir>/sig/sig_abbreviations.csv`` (cached per folder).

    Raises:
        OSError: the file cannot be read.
    """
    path = vocab_dir / "sig" / "sig_abbreviations.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return SigTable(rows=tuple(_row(raw) for raw in csv.DictReader(handle)))
