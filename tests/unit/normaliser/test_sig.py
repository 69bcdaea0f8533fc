"""The SIG table loader: every row of the shared CSV is read as typed, lookups by abbreviation and kind, caching."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from services.normaliser.sig import SigKind, SigTable, default_sig_path, load_sig_table, normalise_abbrev

ROOT = Path(__file__).resolve().parents[3]
SIG_CSV = ROOT.parent / "shared" / "vocab" / "sig" / "sig_abbreviations.csv"
with SIG_CSV.open(encoding="utf-8", newline="") as _handle:
    ROWS = list(csv.DictReader(_handle))
PERIODS_PER_DAY = {"h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30}
HEADER = "abbrev,kind,meaning,times_per_period,period,period_unit,fhir_timing_code,notes\n"


@pytest.fixture(scope="module")
def table() -> SigTable:
    return load_sig_table()


def test_default_path_is_the_shared_vocabulary() -> None:
    assert default_sig_path().resolve() == SIG_CSV.resolve()


def test_every_row_is_loaded_in_file_order(table: SigTable) -> None:
    assert [entry.abbrev for entry in table.entries] == [row["abbrev"] for row in ROWS]
    assert table.path == SIG_CSV.resolve()


@pytest.mark.parametrize("row", ROWS, ids=[row["abbrev"] for row in ROWS])
def test_row_fields_are_typed_as_in_the_csv(table: SigTable, row: dict[str, str]) -> None:
    entry = table.lookup(abbrev=row["abbrev"])
    assert entry is not None
    assert entry.kind == row["kind"]
    assert entry.meaning == row["meaning"]
    assert entry.fhir_timing_code == (row["fhir_timing_code"] or None)
    assert entry.notes == (row["notes"] or None)
    assert table.timing_code(abbrev=row["abbrev"]) == (row["fhir_timing_code"] or None)
    if row["times_per_period"]:
        expected = float(row["times_per_period"]) * PERIODS_PER_DAY[row["period_unit"]] / float(row["period"])
        assert entry.per_day == expected
    else:
        assert entry.per_day is None
        assert entry.times_per_period is None


@pytest.mark.parametrize(
    ("abbrev", "per_day"),
    [("BID", 2.0), ("TDS", 3.0), ("Q8H", 3.0), ("QOD", 0.5), ("QW", 1 / 7), ("Q12H", 2.0), ("QD", 1.0)],
)
def test_per_day_known_figures(table: SigTable, abbrev: str, per_day: float) -> None:
    entry = table.lookup(abbrev=abbrev)
    assert entry is not None
    assert entry.per_day == per_day


@pytest.mark.parametrize(
    ("printed", "abbrev"),
    [("b.i.d.", "BID"), ("t.d.s", "TDS"), ("q.i.d.", "QID"), ("h.s.", "HS"), ("p.o.", "PO"), ("Q 8 H", "Q8H")],
)
def test_lookup_ignores_case_dots_and_spaces(table: SigTable, printed: str, abbrev: str) -> None:
    entry = table.lookup(abbrev=printed)
    assert entry is not None
    assert entry.abbrev == abbrev
    assert normalise_abbrev(text=printed) == abbrev


def test_lookup_by_kind(table: SigTable) -> None:
    assert table.lookup(abbrev="PO", kind="route") is not None
    assert table.lookup(abbrev="PO", kind="frequency") is None
    assert table.lookup(abbrev="XYZ") is None
    assert table.timing_code(abbrev="XYZ") is None


def test_of_kind_partitions_the_table(table: SigTable) -> None:
    kinds: tuple[SigKind, ...] = ("frequency", "as_needed", "timing", "route", "form")
    by_kind = {kind: table.of_kind(kind=kind) for kind in kinds}
    assert sum(len(entries) for entries in by_kind.values()) == len(ROWS)
    assert [e.abbrev for e in by_kind["as_needed"]] == [r["abbrev"] for r in ROWS if r["kind"] == "as_needed"]


def test_cached_per_path(tmp_path: Path) -> None:
    assert load_sig_table() is load_sig_table(path=SIG_CSV)
    other = tmp_path / "sig.csv"
    other.write_text(HEADER + "BD,frequency,twice daily,2,1,d,BID,\n", encoding="utf-8")
    custom = load_sig_table(path=other)
    assert custom is load_sig_table(path=str(other))
    assert [e.abbrev for e in custom.entries] == ["BD"]
    assert custom is not load_sig_table()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("BD,sometimes,twice daily,2,1,d,BID,\n", "unknown kind"),
        ("BD,frequency,twice daily,2,1,fortnight,BID,\n", "unknown period unit"),
        ("BD,frequency,twice daily,two,1,d,BID,\n", "bad number"),
    ],
)
def test_bad_rows_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_sig_table(path=path)


def test_missing_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("abbrev,kind,meaning\nBD,frequency,twice daily\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing columns"):
        load_sig_table(path=path)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        load_sig_table(path=tmp_path / "absent.csv")


def test_importing_the_parsers_reads_nothing() -> None:
    code = (
        "import sys\n"
        "import services.normaliser.sig as s, services.normaliser.dosing, services.normaliser.labvalues\n"
        "assert s._load.cache_info().currsize == 0\n"
        "assert not {'pint', 'ucumvert', 'labunits'} & set(sys.modules), sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
