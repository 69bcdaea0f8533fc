"""The SIG abbreviation table: prescription abbreviations with their schedule and FHIR Timing code.

The table is the team's vocabulary file ``../shared/vocab/sig/sig_abbreviations.csv`` (see its ``SOURCE.txt``):
one row per abbreviation with its kind (``frequency``, ``as_needed``, ``timing``, ``route``, ``form``), its meaning,
the schedule as times per period, and the HL7 GTSAbbreviation (FHIR Timing) code where HL7 defines one. Timing
codes used anywhere in the normaliser come from this table, never from the code.

Nothing is read at import: :func:`load_sig_table` reads a file on first use and caches the table per path.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal, cast, get_args

SigKind = Literal["frequency", "as_needed", "timing", "route", "form"]
PeriodUnit = Literal["h", "d", "wk", "mo"]

#: Periods of each unit in a day, for administrations per day. A month counts as 30 days, as a month's supply does.
UNITS_PER_DAY: dict[str, float] = {"h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30}

_COLUMNS = ("abbrev", "kind", "meaning", "times_per_period", "period", "period_unit", "fhir_timing_code", "notes")


def default_sig_path() -> Path:
    """Return the default location of the SIG table, ``<repo>/../shared/vocab/sig/sig_abbreviations.csv``.

    Returns:
        The path; it is not checked for existence here.
    """
    repo = Path(__file__).resolve().parents[2]
    return repo.parent / "shared" / "vocab" / "sig" / "sig_abbreviations.csv"


@dataclass(frozen=True, slots=True)
class SigEntry:
    """One row of the SIG table.

    Attributes:
        abbrev: The abbreviation, upper case without dots (``BID``, ``Q8H``).
        kind: What the abbreviation names: a frequency, as-needed, a timing, a route or a dose form.
        meaning: The meaning in words (``twice daily``, ``by mouth``).
        times_per_period: Administrations per period, for frequencies; else None.
        period: Length of the period in ``period_unit`` units; else None.
        period_unit: ``h``, ``d``, ``wk`` or ``mo``; else None.
        fhir_timing_code: HL7 GTSAbbreviation code (FHIR Timing.code) when HL7 defines one; else None.
        notes: Free-text notes (ISMP "do not use", regional usage); else None.
    """

    abbrev: str
    kind: SigKind
    meaning: str
    times_per_period: float | None = None
    period: float | None = None
    period_unit: PeriodUnit | None = None
    fhir_timing_code: str | None = None
    notes: str | None = None

    @property
    def per_day(self) -> float | None:
        """Administrations per day (``Q8H`` → 3, ``QOD`` → 0.5, ``QW`` → 1/7), or None without a schedule."""
        if self.times_per_period is None or self.period is None or self.period_unit is None:
            return None
        # times × (periods per day) / period keeps exact figures: Q8H → 1 × 24 / 8 = 3.0, QW → 1/7.
        return self.times_per_period * UNITS_PER_DAY[self.period_unit] / self.period


@dataclass(frozen=True, slots=True)
class SigTable:
    """The SIG table with lookups by abbreviation and by kind.

    Attributes:
        entries: The rows in file order.
        path: The file the table was read from.
    """

    entries: tuple[SigEntry, ...]
    path: Path
    _by_abbrev: dict[str, SigEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # First row wins for a repeated abbreviation, so the file order decides, as a reader of the file expects.
        index: dict[str, SigEntry] = {}
        for entry in self.entries:
            index.setdefault(entry.abbrev, entry)
        object.__setattr__(self, "_by_abbrev", index)

    def lookup(self, *, abbrev: str, kind: SigKind | None = None) -> SigEntry | None:
        """Find an abbreviation, ignoring case, dots and spaces (``b.i.d.`` finds ``BID``).

        Args:
            abbrev: The abbreviation as printed.
            kind: Only return the entry when it is of this kind.

        Returns:
            The entry, or None when the table has no such abbreviation (of that kind).
        """
        entry = self._by_abbrev.get(normalise_abbrev(text=abbrev))
        if entry is None or (kind is not None and entry.kind != kind):
            return None
        return entry

    def of_kind(self, *, kind: SigKind) -> tuple[SigEntry, ...]:
        """All entries of one kind, in file order.

        Args:
            kind: ``frequency``, ``as_needed``, ``timing``, ``route`` or ``form``.

        Returns:
            The entries (possibly empty).
        """
        return tuple(entry for entry in self.entries if entry.kind == kind)

    def timing_code(self, *, abbrev: str) -> str | None:
        """The FHIR Timing code of an abbreviation, or None when the table gives none (``OD``, ``Q12H``).

        Args:
            abbrev: The abbreviation as printed.

        Returns:
            The code from the ``fhir_timing_code`` column, or None.
        """
        entry = self.lookup(abbrev=abbrev)
        return entry.fhir_timing_code if entry else None


def normalise_abbrev(*, text: str) -> str:
    """Upper-case an abbreviation and drop dots and spaces (``q.i.d.`` → ``QID``).

    Args:
        text: The abbreviation as printed.

    Returns:
        The lookup key.
    """
    return "".join(ch for ch in text.upper() if ch not in ". ")


def _optional_number(text: str) -> float | None:
    return float(text) if text.strip() else None


def _entry(row: dict[str, str], *, line: int, path: Path) -> SigEntry:
    kind = row["kind"].strip()
    unit = row["period_unit"].strip() or None
    if kind not in get_args(SigKind):
        raise ValueError(f"{path}:{line}: unknown kind {kind!r}")
    if unit is not None and unit not in UNITS_PER_DAY:
        raise ValueError(f"{path}:{line}: unknown period unit {unit!r}")
    try:
        times, period = _optional_number(row["times_per_period"]), _optional_number(row["period"])
    except ValueError as exc:
        raise ValueError(f"{path}:{line}: bad number in schedule columns") from exc
    return SigEntry(
        abbrev=normalise_abbrev(text=row["abbrev"]),
        kind=cast(SigKind, kind),
        meaning=row["meaning"].strip(),
        times_per_period=times,
        period=period,
        period_unit=cast(PeriodUnit | None, unit),
        fhir_timing_code=row["fhir_timing_code"].strip() or None,
        notes=row["notes"].strip() or None,
    )


@cache
def _load(path: Path) -> SigTable:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        entries = tuple(_entry(row, line=number, path=path) for number, row in enumerate(reader, start=2))
    return SigTable(entries=entries, path=path)


def load_sig_table(*, path: Path | str | None = None) -> SigTable:
    """Read the SIG table, once per path.

    Args:
        path: The CSV file; default :func:`default_sig_path`.

    Returns:
        The table (the same object on every call with the same path).

    Raises:
        OSError: The file cannot be read.
        ValueError: The file lacks a column or has an unknown kind, period unit or number.
    """
    return _load(Path(path).resolve() if path is not None else default_sig_path().resolve())
