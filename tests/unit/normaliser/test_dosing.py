"""Medication parsing: strength, form, route, dose, frequency, duration, quantity, instructions, whole lines.

Timing codes and per-day figures are read from the shared SIG CSV here (never written out), so the tests check
that the parser takes them from the table.
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from services.normaliser.dosing import (
    FORMS,
    ROUTES,
    Dose,
    Duration,
    Frequency,
    MedicationFields,
    OpenEndedDuration,
    Strength,
    default_route,
    parse_dose,
    parse_duration,
    parse_form,
    parse_frequency,
    parse_instruction,
    parse_medication_line,
    parse_quantity,
    parse_refills,
    parse_route,
    parse_strength,
)
from shared.contracts import extraction

SIG_CSV = Path(__file__).resolve().parents[3].parent / "shared" / "vocab" / "sig" / "sig_abbreviations.csv"
with SIG_CSV.open(encoding="utf-8", newline="") as _handle:
    SIG = {row["abbrev"]: row for row in csv.DictReader(_handle)}
PERIODS_PER_DAY = {"h": 24.0, "d": 1.0, "wk": 1 / 7, "mo": 1 / 30}


def code(abbrev: str) -> str | None:
    """The FHIR Timing code the CSV gives an abbreviation (None where the column is empty)."""
    return SIG[abbrev]["fhir_timing_code"] or None


def per_day(abbrev: str) -> float:
    row = SIG[abbrev]
    return float(row["times_per_period"]) * PERIODS_PER_DAY[row["period_unit"]] / float(row["period"])


def row(abbrev: str) -> tuple[float, str | None]:
    return per_day(abbrev), code(abbrev)


COUNT_ROWS = {1: "QD", 2: "BID", 3: "TID", 4: "QID"}  # the documented count → SIG row rule for patterns


def count(n: int) -> tuple[float, str | None]:
    return float(n), code(COUNT_ROWS[n])


# ------------------------------------------------------------------------------------------------------ strength
@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("500 mg", 500, "mg"),
        ("500mg", 500, "mg"),
        ("500 MG", 500, "mg"),
        ("500 mg.", 500, "mg"),
        ("0.5 g", 0.5, "g"),
        ("1 gm", 1, "g"),
        ("250 mg/5 ml", 50, "mg/mL"),
        ("125mg/5ml", 25, "mg/mL"),
        ("228.5 mg / 5 mL", 45.7, "mg/mL"),
        ("5 mg/ml", 5, "mg/mL"),
        ("1 g/10 ml", 100, "mg/mL"),
        ("1%", 1, "%"),
        ("0.5 % w/v", 0.5, "%"),
        ("2% w/w", 2, "%"),
        ("40 IU", 40, "[iU]"),
        ("60000 I.U.", 60000, "[iU]"),
        ("100 IU/ml", 100, "[iU]/mL"),
        ("50 mcg", 50, "ug"),
        ("50 µg", 50, "ug"),  # micro sign
        ("50 μg", 50, "ug"),  # Greek mu
        ("50 ug", 50, "ug"),
        ("200 mcg/puff", 200, "ug"),
        ("5OO mg", 500, "mg"),  # OCR O for 0
        ("O.5 mg", 0.5, "mg"),
        ("1,000 mg", 1000, "mg"),
        ("10 units", 10, "[iU]"),
        ("500 ml", 500, "mL"),
        ("Tab. Metformin 500 mg 1-0-1", 500, "mg"),
    ],
)
def test_parse_strength(text: str, value: float, unit: str) -> None:
    strength = parse_strength(text=text)
    assert strength is not None
    assert (strength.value, strength.unit) == (value, unit)


@pytest.mark.parametrize("text", ["", "Metformin", "500", "mg", "1-0-1", "x 5 days", "Dolo 650"])
def test_parse_strength_none(text: str) -> None:
    assert parse_strength(text=text) is None


# ---------------------------------------------------------------------------------------------------------- form
@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Tab.", "tablet"),
        ("Tab", "tablet"),
        ("TAB", "tablet"),
        ("tablet", "tablet"),
        ("Tablets", "tablet"),
        ("Cap", "capsule"),
        ("Cap.", "capsule"),
        ("capsule", "capsule"),
        ("Syp.", "syrup"),
        ("Syrup", "syrup"),
        ("SYR", "syrup"),
        ("Susp.", "suspension"),
        ("Inj", "injection"),
        ("Inj.", "injection"),
        ("Oint", "ointment"),
        ("Ointment", "ointment"),
        ("Cream", "cream"),
        ("Gel", "gel"),
        ("Gtt", "drops"),
        ("gtts", "drops"),
        ("drops", "drops"),
        ("Eye drops", "drops"),
        ("Inhaler", "inhaler"),
        ("Sachet", "powder"),
        ("Lotion", "lotion"),
        ("Nasal spray", "spray"),
        ("Patch", "patch"),
        ("Sol.", "solution"),
        ("Tab.Metformin", "tablet"),
    ],
)
def test_parse_form(text: str, form: str) -> None:
    assert parse_form(text=text) == form


@pytest.mark.parametrize("text", ["", "Metformin", "Table", "Captopril", "500 mg", "Gelusil"])
def test_parse_form_none(text: str) -> None:
    assert parse_form(text=text) is None


# --------------------------------------------------------------------------------------------------------- route
@pytest.mark.parametrize(
    ("text", "form", "route"),
    [
        ("PO", None, "oral"),
        ("p.o.", None, "oral"),
        ("by mouth", None, "oral"),
        ("orally", None, "oral"),
        ("SL", None, "sublingual"),
        ("under the tongue", None, "sublingual"),
        ("topical", None, "topical"),
        ("apply locally", None, "topical"),
        ("IM", None, "intramuscular"),
        ("IV", None, "intravenous"),
        ("SC", None, "subcutaneous"),
        ("SQ", None, "subcutaneous"),
        ("s/c", None, "subcutaneous"),
        ("PR", None, "rectal"),
        ("per vaginum", None, "vaginal"),
        ("NEB", None, "inhalation"),
        ("INH", None, "inhalation"),
        ("TD", None, "transdermal"),
        ("in both eyes", None, "ophthalmic"),
        ("into each nostril", None, "nasal"),
        ("ear", None, "otic"),
        ("OU", "drops", "ophthalmic"),
        ("left eye OS", None, "ophthalmic"),
        ("AU", "drops", "otic"),
        ("OD", "drops", "ophthalmic"),  # OD with a drops form: right eye
        ("right eye OD", None, "ophthalmic"),
    ],
)
def test_parse_route(text: str, form: str | None, route: str) -> None:
    assert parse_route(text=text, form=form) == route


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("OD", None),  # alone, OD is once daily
        ("OD", "tablet"),
        ("AS", None),  # left ear only in an ear context
        ("as needed", "drops"),  # lower-case "as" is not AS
        ("OS", "tablet"),
        ("", None),
        ("Metformin", None),
    ],
)
def test_parse_route_none(text: str, form: str | None) -> None:
    assert parse_route(text=text, form=form) is None


@pytest.mark.parametrize(
    ("form", "route"),
    [("tablet", "oral"), ("capsule", "oral"), ("syrup", "oral")]
    + [(f, None) for f in ("drops", "injection", "cream", "ointment", "inhaler", "spray", "patch", "solution", None)],
)
def test_default_route_only_when_unambiguous(form: str | None, route: str | None) -> None:
    assert default_route(form=form) == route


# ---------------------------------------------------------------------------------------------------------- dose
@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("1 tab", 1, "tablet"),
        ("1 tablet", 1, "tablet"),
        ("2 tabs", 2, "tablet"),
        ("2 caps", 2, "capsule"),
        ("1 cap.", 1, "capsule"),
        ("5 ml", 5, "mL"),
        ("5ml", 5, "mL"),
        ("2.5 mL", 2.5, "mL"),
        ("10 units", 10, "[iU]"),
        ("10 IU", 10, "[iU]"),
        ("1 puff", 1, "puff"),
        ("2 puffs", 2, "puff"),
        ("2 sprays", 2, "puff"),
        ("1 drop", 1, "drop"),
        ("2 gtts", 2, "drop"),
        ("half tablet", 0.5, "tablet"),
        ("1/2 tab", 0.5, "tablet"),
        ("½ tab", 0.5, "tablet"),
        ("1½ tabs", 1.5, "tablet"),
        ("one tablet", 1, "tablet"),
        ("two capsules", 2, "capsule"),
        ("1 tsp", 5, "mL"),
        ("2 teaspoonful", 10, "mL"),
        ("1 tbsp", 15, "mL"),
        ("1 application", 1, "application"),
        ("1000 mg", 1000, "mg"),
        ("1 TAB", 1, "tablet"),
    ],
)
def test_parse_dose(text: str, value: float, unit: str) -> None:
    dose = parse_dose(text=text)
    assert dose is not None
    assert (dose.value, dose.unit) == (value, unit)


@pytest.mark.parametrize("text", ["", "tab", "BD", "x 5 days", "0 tab", "Metformin"])
def test_parse_dose_none(text: str) -> None:
    assert parse_dose(text=text) is None


# ----------------------------------------------------------------------------------------------------- frequency
FREQUENCIES: list[tuple[str, tuple[float | None, str | None], bool, str]] = [
    # SIG abbreviations: figures and codes straight from the CSV row
    *[(a, row(a), False, a) for a in ("QD", "OD", "DAILY", "BID", "BD", "TID", "TDS", "QID", "QDS", "QOD", "EOD")],
    *[(a, row(a), False, a) for a in ("QAM", "QPM", "HS", "QHS", "Q1H", "Q2H", "Q4H", "Q6H", "Q8H", "Q12H", "Q24H")],
    *[(a, row(a), False, a) for a in ("QW", "WK", "MO")],
    ("od.", row("OD"), False, "od"),
    ("Od", row("OD"), False, "Od"),
    ("0D", row("OD"), False, "0D"),  # OCR zero for O
    ("b.i.d.", row("BID"), False, "b.i.d"),
    ("BlD", row("BID"), False, "BlD"),  # OCR l for I
    ("t.d.s.", row("TDS"), False, "t.d.s"),
    ("TlD", row("TID"), False, "TlD"),
    ("B.D.", row("BD"), False, "B.D"),
    ("q.i.d", row("QID"), False, "q.i.d"),
    ("daily", row("DAILY"), False, "daily"),
    # words
    ("once daily", row("QD"), False, "once daily"),
    ("once a day", row("QD"), False, "once a day"),
    ("every day", row("QD"), False, "every day"),
    ("twice a day", row("BID"), False, "twice a day"),
    ("twice daily", row("BID"), False, "twice daily"),
    ("2 times a day", row("BID"), False, "2 times a day"),
    ("three times a day", row("TID"), False, "three times a day"),
    ("thrice daily", row("TID"), False, "thrice daily"),
    ("3x/day", row("TID"), False, "3x/day"),
    ("4 times daily", row("QID"), False, "4 times daily"),
    ("every 8 hours", row("Q8H"), False, "every 8 hours"),
    ("q 8 h", row("Q8H"), False, "q 8 h"),
    ("q8h", row("Q8H"), False, "q8h"),
    ("8 hourly", row("Q8H"), False, "8 hourly"),
    ("every 6 hrs", row("Q6H"), False, "every 6 hrs"),
    ("every 12 hours", row("Q12H"), False, "every 12 hours"),
    ("every other day", row("QOD"), False, "every other day"),
    ("on alternate days", row("QOD"), False, "on alternate days"),
    ("every 2 days", row("QOD"), False, "every 2 days"),
    ("once a week", row("QW"), False, "once a week"),
    ("once weekly", row("QW"), False, "once weekly"),
    ("weekly", row("QW"), False, "weekly"),
    ("monthly", row("MO"), False, "monthly"),
    ("at bedtime", row("QHS"), False, "at bedtime"),
    ("at night", row("QHS"), False, "at night"),
    ("nocte", row("QHS"), False, "nocte"),
    ("in the morning", row("QAM"), False, "in the morning"),
    ("every evening", row("QPM"), False, "every evening"),
    # Indian morning-noon-night patterns: count of non-zero slots, code of the SIG row with that count
    ("1-0-1", count(2), False, "1-0-1"),
    ("1-1-1", count(3), False, "1-1-1"),
    ("0-0-1", count(1), False, "0-0-1"),
    ("1-0-0", count(1), False, "1-0-0"),
    ("0-1-0", count(1), False, "0-1-0"),
    ("1-1-0", count(2), False, "1-1-0"),
    ("2-0-2", count(2), False, "2-0-2"),
    ("1-1-1-1", count(4), False, "1-1-1-1"),
    ("½-0-½", count(2), False, "½-0-½"),
    ("1/2-0-1/2", count(2), False, "1/2-0-1/2"),
    ("1 - 0 - 1", count(2), False, "1 - 0 - 1"),
    ("1–0–1", count(2), False, "1–0–1"),  # en dashes
    ("1-0-l", count(2), False, "1-0-l"),  # OCR l for 1
    ("l-0-1", count(2), False, "l-0-1"),
    ("1-O-1", count(2), False, "1-O-1"),  # OCR O for 0
    ("1-0-1.", count(2), False, "1-0-1"),
    # no exact SIG row: figure kept, code null
    ("twice a week", (2 / 7, None), False, "twice a week"),
    ("q4-6h", (6.0, None), False, "q4-6h"),
    ("every 3 days", (1 / 3, None), False, "every 3 days"),
    # as needed
    ("PRN", (None, None), True, "PRN"),
    ("p.r.n.", (None, None), True, "p.r.n"),
    ("SOS", (None, None), True, "SOS"),
    ("S.O.S.", (None, None), True, "S.O.S"),
    ("as needed", (None, None), True, "as needed"),
    ("when required", (None, None), True, "when required"),
    ("if needed", (None, None), True, "if needed"),
    ("SOS max 3/day", (3.0, None), True, "SOS max 3/day"),
    ("PRN, maximum 4 times a day", (4.0, None), True, "PRN maximum 4 times a day"),
    ("up to 4 times a day", (4.0, None), True, "up to 4 times a day"),
    ("BD PRN", row("BID"), True, "BD PRN"),
    ("Q6H PRN", row("Q6H"), True, "Q6H PRN"),
    ("1-0-1 SOS", count(2), True, "1-0-1 SOS"),
    # several expressions: a pattern wins over an abbreviation or a time of day
    ("0-0-1 HS", count(1), False, "0-0-1 HS"),
    ("1-0-1 BD", count(2), False, "1-0-1 BD"),
    # inside a longer text
    ("1 tab PO daily", row("DAILY"), False, "daily"),
    ("Tab. Metformin 500 mg 1-0-1 x 30 days", count(2), False, "1-0-1"),
]


@pytest.mark.parametrize(("text", "expected", "as_needed", "printed"), FREQUENCIES, ids=[f[0] for f in FREQUENCIES])
def test_parse_frequency(text: str, expected: tuple[float | None, str | None], as_needed: bool, printed: str) -> None:
    frequency = parse_frequency(text=text)
    assert frequency == Frequency(text=printed, per_day=expected[0], timing_code=expected[1], as_needed=as_needed)


def test_od_follows_the_sig_table() -> None:
    # The CSV gives OD no FHIR code (ambiguous with "right eye"): once daily, code null.
    assert SIG["OD"]["fhir_timing_code"] == ""
    frequency = parse_frequency(text="OD")
    assert frequency is not None
    assert (frequency.per_day, frequency.timing_code) == (1.0, None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Metformin 500 mg",
        "for 5 days",
        "x 5 days",
        "5 days",
        "x 2 wk",
        "8 AM",
        "at 9 PM",
        "12-03-2026",
        "120-80",
        "1-2-3-4-5",
        "0-0-0",
        "Tab.",
        "Disp #30",
        "as directed",
        "Hwee times daily",  # OCR lost the count: unknown, not once a day
        "times a day",
    ],
)
def test_parse_frequency_none(text: str) -> None:
    assert parse_frequency(text=text) is None


def test_od_next_to_another_frequency_on_drops_is_the_right_eye() -> None:
    frequency = parse_frequency(text="1 drop OD BD", form="drops")
    assert frequency == Frequency(text="BD", per_day=per_day("BD"), timing_code=code("BD"), as_needed=False)


def test_od_alone_on_drops_stays_once_daily() -> None:
    frequency = parse_frequency(text="1 drop OD", form="drops")
    assert frequency == Frequency(text="OD", per_day=per_day("OD"), timing_code=code("OD"), as_needed=False)


def test_od_with_an_eye_word_is_not_a_frequency() -> None:
    assert parse_frequency(text="1 drop in the right eye OD") is None


def test_am_before_a_schedule_is_a_brand_suffix() -> None:
    frequency = parse_frequency(text="Telma AM 40 mg 1-0-0")
    assert frequency == Frequency(text="1-0-0", per_day=1.0, timing_code=code("QD"), as_needed=False)
    after = parse_frequency(text="10 mg AM")
    assert after == Frequency(text="AM", per_day=per_day("AM"), timing_code=code("AM"), as_needed=False)


def test_custom_sig_table_drives_the_codes(tmp_path: Path) -> None:
    custom = tmp_path / "sig.csv"
    custom.write_text(
        "abbrev,kind,meaning,times_per_period,period,period_unit,fhir_timing_code,notes\n"
        "BD,frequency,twice daily,2,1,d,TEST-BID,\nBID,frequency,twice daily,2,1,d,TEST-BID,\n",
        encoding="utf-8",
    )
    assert parse_frequency(text="BD", sig_path=custom) == Frequency("BD", 2.0, "TEST-BID", False)
    assert parse_frequency(text="1-0-1", sig_path=custom) == Frequency("1-0-1", 2.0, "TEST-BID", False)
    assert parse_frequency(text="TDS", sig_path=custom) is None  # not in that table
    assert parse_frequency(text="1-1-1", sig_path=custom) == Frequency("1-1-1", 3.0, None, False)


# ------------------------------------------------------------------------------------------------------ duration
@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("x 5 days", 5, "d"),
        ("x5 days", 5, "d"),
        ("X 5 Days", 5, "d"),
        ("x5days", 5, "d"),
        ("× 5 days", 5, "d"),
        ("for 2 weeks", 2, "wk"),
        ("for two weeks", 2, "wk"),
        ("x 1 month", 1, "mo"),
        ("x 3 months", 3, "mo"),
        ("for a week", 1, "wk"),
        ("for the next 10 days", 10, "d"),
        ("x 30 days", 30, "d"),
        ("5 days", 5, "d"),
        ("x 8 wks", 8, "wk"),
        ("x 14 d", 14, "d"),
        ("x 1 mo.", 1, "mo"),
        ("5/7", 5, "d"),
        ("x 10/7", 10, "d"),
        ("2/52", 2, "wk"),
        ("3/12", 3, "mo"),
        ("1-0-1 x 5 days", 5, "d"),
    ],
)
def test_parse_duration(text: str, value: float, unit: str) -> None:
    duration = parse_duration(text=text)
    assert isinstance(duration, Duration)
    assert (duration.value, duration.unit) == (value, unit)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("till review", "until review"),
        ("until next visit", "until review"),
        ("Till next review", "until review"),
        ("till follow up", "until review"),
        ("until further advice", "until further advice"),
        ("continue", "continued without an end date"),
        ("long term", "continued without an end date"),
        ("lifelong", "continued without an end date"),
    ],
)
def test_open_ended_duration_has_no_value_but_a_reason(text: str, reason: str) -> None:
    duration = parse_duration(text=text)
    assert duration == OpenEndedDuration(text=text, reason=reason)


@pytest.mark.parametrize(
    "text", ["", "1-0-1", "every 2 days", "twice a day", "1/2 tab", "0D", "12/07/2025", "x 0 days", "Metformin"]
)
def test_parse_duration_none(text: str) -> None:
    assert parse_duration(text=text) is None


# ------------------------------------------------------------------------------------------- quantity, refills
@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("Disp #30", 30),
        ("Disp: 30", 30),
        ("Dispense: 30 (thirty) tablets", 30),
        ("Qty: 30", 30),
        ("QTY 60", 60),
        ("#30", 30),
        ("# 21", 21),
        ("30 tabs", 30),
        ("14 capsules", 14),
        ("(Thirty)", 30),
        ("(twenty one)", 21),
        ("(one hundred twenty)", 120),
        ("Disp #3O", 30),  # OCR O for 0
        ("Qty: | - Refills: 0", 1),  # OCR | for a lone 1
        ("Qty: ] - Refills: 2", 1),
    ],
)
def test_parse_quantity(text: str, quantity: float) -> None:
    assert parse_quantity(text=text) == quantity


@pytest.mark.parametrize("text", ["", "Disp", "1 tab", "x 30 days", "Refills 2", "Qty: 0", "Qty: ||", "Qty: | #"])
def test_parse_quantity_none(text: str) -> None:
    assert parse_quantity(text=text) is None


def test_a_bar_before_a_figure_separates_it_is_not_a_one() -> None:
    assert parse_quantity(text="Qty | 30") != 1
    assert parse_quantity(text="Qty: |30") != 1


@pytest.mark.parametrize(
    ("text", "refills"),
    [
        ("Refills 2", 2),
        ("Refills: 0", 0),
        ("Refill x 1", 1),
        ("RF: 3", 3),
        ("2 refills", 2),
        ("two refills", 2),
        ("No refills", 0),
        ("Refills: none", 0),
        ("NR", 0),
    ],
)
def test_parse_refills(text: str, refills: int) -> None:
    assert parse_refills(text=text) == refills


@pytest.mark.parametrize("text", ["", "Disp #30", "nr", "Refills"])
def test_parse_refills_none(text: str) -> None:
    assert parse_refills(text=text) is None


# --------------------------------------------------------------------------------------------------- instruction
@pytest.mark.parametrize(
    ("text", "abbrev", "printed"),
    [
        ("after food", "PC", "after food"),
        ("after meals", "PC", "after meals"),
        ("A/F", "PC", "A/F"),
        ("PC", "PC", "PC"),
        ("p.c.", "PC", "p.c"),
        ("before food", "AC", "before food"),
        ("before breakfast", "AC", "before breakfast"),
        ("empty stomach", "AC", "empty stomach"),
        ("AC", "AC", "AC"),
        ("a.c.", "AC", "a.c"),
        ("with meals", "CC", "with meals"),
        ("with food", "CC", "with food"),
        ("at bedtime", "HS", "at bedtime"),
        ("HS", "HS", "HS"),
        ("at night", "QHS", "at night"),
        ("in the morning", "QAM", "in the morning"),
        ("STAT", "STAT", "STAT"),
        ("Cap. Omeprazole 20mg OD before food x 14 days", "AC", "before food"),
    ],
)
def test_parse_instruction(text: str, abbrev: str, printed: str) -> None:
    instruction = parse_instruction(text=text)
    assert instruction is not None
    assert instruction.text == printed
    assert instruction.instruction == SIG[abbrev]["meaning"]
    assert instruction.when == code(abbrev)


@pytest.mark.parametrize("text", ["", "5 cc", "BD", "Metformin 500 mg"])
def test_parse_instruction_none(text: str) -> None:
    assert parse_instruction(text=text) is None


# -------------------------------------------------------------------------------------------------- whole lines
STRENGTH_UNITS = {"mg", "ug", "g", "mL", "mg/mL", "ug/mL", "[iU]", "[iU]/mL", "%"}
DOSE_UNITS = {"tablet", "capsule", "mL", "drop", "puff", "application", "[iU]", "mg"}


def _q(value: Strength | Dose | Duration | None) -> tuple[float, str] | None:
    return None if value is None else (value.value, value.unit)


def _f(value: Frequency | None) -> tuple[str, float | None, str | None, bool] | None:
    return None if value is None else (value.text, value.per_day, value.timing_code, value.as_needed)


LINES: list[dict[str, Any]] = [
    {
        "text": "Tab. Metformin 500 mg 1-0-1 x 30 days",
        "drug": "Metformin", "strength": (500, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("1-0-1", *count(2), False), "duration": (30, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Cap. Omeprazole 20mg OD before food x 14 days",
        "drug": "Omeprazole", "strength": (20, "mg"), "form": "capsule", "route": "oral", "dose": None,
        "frequency": ("OD", *row("OD"), False), "duration": (14, "d"), "quantity": None, "refills": None,
        "instruction": "AC",
    },
    {
        "text": "Syp. Ambroxol 5 ml TDS x 5 days",
        "drug": "Ambroxol", "strength": None, "form": "syrup", "route": "oral", "dose": (5, "mL"),
        "frequency": ("TDS", *row("TDS"), False), "duration": (5, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Lisinopril 10 mg tablet, Sig: 1 tab PO daily, Disp #30, Refills 2",
        "drug": "Lisinopril", "strength": (10, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("daily", *row("DAILY"), False), "duration": None, "quantity": 30, "refills": 2,
    },
    {
        "text": "Amoxicillin 500 mg cap 1 cap PO TID x 7 days #21",
        "drug": "Amoxicillin", "strength": (500, "mg"), "form": "capsule", "route": "oral", "dose": (1, "capsule"),
        "frequency": ("TID", *row("TID"), False), "duration": (7, "d"), "quantity": 21, "refills": None,
    },
    {  # OCR: l for 1, trailing full stop, brand number kept in the drug words
        "text": "Tab. Dolo 650 1-0-l x 3 days.",
        "drug": "Dolo 650", "strength": None, "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("1-0-l", *count(2), False), "duration": (3, "d"), "quantity": None, "refills": None,
    },
    {  # OCR: zero for O in OD, no space in 20mg
        "text": "Cap. Pantoprazole 40mg 0D",
        "drug": "Pantoprazole", "strength": (40, "mg"), "form": "capsule", "route": "oral", "dose": None,
        "frequency": ("0D", *row("OD"), False), "duration": None, "quantity": None, "refills": None,
    },
    {
        "text": "Tab.Glimepiride 2mg 1-0-0 x30days",
        "drug": "Glimepiride", "strength": (2, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("1-0-0", *count(1), False), "duration": (30, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "1. Tab. Pan 40 mg 1 OD before breakfast x 1 month",
        "drug": "Pan", "strength": (40, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("OD", *row("OD"), False), "duration": (1, "mo"), "quantity": None, "refills": None,
        "instruction": "AC",
    },
    {
        "text": "Tab. Augmentin 625 mg ½-0-½ x 5 days",
        "drug": "Augmentin", "strength": (625, "mg"), "form": "tablet", "route": "oral", "dose": (0.5, "tablet"),
        "frequency": ("½-0-½", *count(2), False), "duration": (5, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Syp. Amoxyclav 228.5 mg/5 ml 5 ml BD x 5/7",
        "drug": "Amoxyclav", "strength": (45.7, "mg/mL"), "form": "syrup", "route": "oral", "dose": (5, "mL"),
        "frequency": ("BD", *row("BD"), False), "duration": (5, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Gtt. Timolol 0.5% 1 drop OD BD",
        "drug": "Timolol", "strength": (0.5, "%"), "form": "drops", "route": "ophthalmic", "dose": (1, "drop"),
        "frequency": ("BD", *row("BD"), False), "duration": None, "quantity": None, "refills": None,
    },
    {
        "text": "Moxifloxacin eye drops 1 drop in each eye QID x 7 days",
        "drug": "Moxifloxacin", "strength": None, "form": "drops", "route": "ophthalmic", "dose": (1, "drop"),
        "frequency": ("QID", *row("QID"), False), "duration": (7, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Inj. Insulin Glargine 100 IU/ml 10 units SC HS",
        "drug": "Insulin Glargine", "strength": (100, "[iU]/mL"), "form": "injection", "route": "subcutaneous",
        "dose": (10, "[iU]"), "frequency": ("HS", *row("HS"), False), "duration": None, "quantity": None,
        "refills": None, "instruction": "HS",
    },
    {  # a brand suffix that is also a SIG abbreviation
        "text": "Tab. Telma AM 40 mg 1-0-0",
        "drug": "Telma AM", "strength": (40, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("1-0-0", *count(1), False), "duration": None, "quantity": None, "refills": None,
    },
    {
        "text": "Tab Paracetamol 500mg SOS max 3/day for fever",
        "drug": "Paracetamol", "strength": (500, "mg"), "form": "tablet", "route": "oral", "dose": None,
        "frequency": ("SOS max 3/day", 3.0, None, True), "duration": None, "quantity": None, "refills": None,
    },
    {
        "text": "Inh. Salbutamol 100 mcg 2 puffs SOS",
        "drug": "Salbutamol", "strength": (100, "ug"), "form": "inhaler", "route": "inhalation", "dose": (2, "puff"),
        "frequency": ("SOS", None, None, True), "duration": None, "quantity": None, "refills": None,
    },
    {
        "text": "Ondansetron 4 mg tab 1 tab PO q8h prn nausea, Disp: 12 (twelve)",
        "drug": "Ondansetron", "strength": (4, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("q8h prn", *row("Q8H"), True), "duration": None, "quantity": 12, "refills": None,
    },
    {
        "text": "Tab. Thyronorm 50 mcg 1-0-0 empty stomach till review",
        "drug": "Thyronorm", "strength": (50, "ug"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("1-0-0", *count(1), False), "duration": None, "quantity": None, "refills": None,
        "instruction": "AC",
    },
    {
        "text": "Tab. Methotrexate 7.5 mg once a week x 3 months",
        "drug": "Methotrexate", "strength": (7.5, "mg"), "form": "tablet", "route": "oral", "dose": None,
        "frequency": ("once a week", *row("QW"), False), "duration": (3, "mo"), "quantity": None, "refills": None,
    },
    {
        "text": "Cap. Vitamin D3 60000 IU once weekly x 8 weeks",
        "drug": "Vitamin D3", "strength": (60000, "[iU]"), "form": "capsule", "route": "oral", "dose": None,
        "frequency": ("once weekly", *row("QW"), False), "duration": (8, "wk"), "quantity": None, "refills": None,
    },
    {
        "text": "Mupirocin 2% ointment apply locally TDS",
        "drug": "Mupirocin", "strength": (2, "%"), "form": "ointment", "route": "topical", "dose": None,
        "frequency": ("TDS", *row("TDS"), False), "duration": None, "quantity": None, "refills": None,
    },
    {  # no default route for an injection
        "text": "Inj. Ceftriaxone 1 g BD x 5 days",
        "drug": "Ceftriaxone", "strength": (1, "g"), "form": "injection", "route": None, "dose": None,
        "frequency": ("BD", *row("BD"), False), "duration": (5, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Atorvastatin 20 mg 1 tablet by mouth at bedtime #90 RF x3",
        "drug": "Atorvastatin", "strength": (20, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("at bedtime", *row("QHS"), False), "duration": None, "quantity": 90, "refills": 3,
        "instruction": "HS",
    },
    {
        "text": "Tab Azithromycin 500 mg 1 tab daily for 3 days, 3 tabs",
        "drug": "Azithromycin", "strength": (500, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("daily", *row("DAILY"), False), "duration": (3, "d"), "quantity": 3, "refills": None,
    },
    {
        "text": "Tab Amlodipine 5 mg 1 BD",
        "drug": "Amlodipine", "strength": (5, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("BD", *row("BD"), False), "duration": None, "quantity": None, "refills": None,
    },
    {
        "text": "Tab. Ecosprin 75 mg 0-1-0 after lunch, continue",
        "drug": "Ecosprin", "strength": (75, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("0-1-0", *count(1), False), "duration": None, "quantity": None, "refills": None,
        "instruction": "PC",
    },
 {
        "text": "TAB. DOLO 650MG 1-1-1 X 5 DAYS",
        "drug": "DOLO", "strength": (650, "mg"), "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("1-1-1", *count(3), False), "duration": (5, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Cap.Omez 20 mg 1-0-0 B/F x 2 wks",
        "drug": "Omez", "strength": (20, "mg"), "form": "capsule", "route": "oral", "dose": (1, "capsule"),
        "frequency": ("1-0-0", *count(1), False), "duration": (2, "wk"), "quantity": None, "refills": None,
        "instruction": "AC",
    },
    {
        "text": "Rx: Amoxicillin 250mg/5ml susp, 5 ml PO TID x 10 days, Qty: 150 ml",
        "drug": "Amoxicillin", "strength": (50, "mg/mL"), "form": "suspension", "route": "oral", "dose": (5, "mL"),
        "frequency": ("TID", *row("TID"), False), "duration": (10, "d"), "quantity": 150, "refills": None,
    },
    {
        "text": "Inj. Pantop 40 mg IV OD x 3 days",
        "drug": "Pantop", "strength": (40, "mg"), "form": "injection", "route": "intravenous", "dose": None,
        "frequency": ("OD", *row("OD"), False), "duration": (3, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Otrivin nasal drops 2 drops each nostril TDS",
        "drug": "Otrivin", "strength": None, "form": "drops", "route": "nasal", "dose": (2, "drop"),
        "frequency": ("TDS", *row("TDS"), False), "duration": None, "quantity": None, "refills": None,
    },
    {
        "text": "Ciplox eye drops 1 drop both eyes 4 times a day",
        "drug": "Ciplox", "strength": None, "form": "drops", "route": "ophthalmic", "dose": (1, "drop"),
        "frequency": ("4 times a day", *row("QID"), False), "duration": None, "quantity": None, "refills": None,
    },
    {
        "text": "Candid ear drops 2 drops in left ear TDS x 7 days",
        "drug": "Candid", "strength": None, "form": "drops", "route": "otic", "dose": (2, "drop"),
        "frequency": ("TDS", *row("TDS"), False), "duration": (7, "d"), "quantity": None, "refills": None,
    },
    {
        "text": "Tab Shelcal 500 1 OD A/F",
        "drug": "Shelcal 500", "strength": None, "form": "tablet", "route": "oral", "dose": (1, "tablet"),
        "frequency": ("OD", *row("OD"), False), "duration": None, "quantity": None, "refills": None,
        "instruction": "PC",
    },
]  # fmt: skip


@pytest.mark.parametrize("case", LINES, ids=[case["text"] for case in LINES])
def test_parse_medication_line(case: dict[str, Any]) -> None:
    fields = parse_medication_line(text=case["text"])
    assert fields.text == case["text"]
    assert fields.drug_text == case["drug"]
    assert _q(fields.strength) == case["strength"]
    assert fields.form == case["form"]
    assert fields.route == case["route"]
    assert _q(fields.dose) == case["dose"]
    assert _f(fields.frequency) == case["frequency"]
    assert _q(fields.duration) == case["duration"]
    assert fields.quantity == case["quantity"]
    assert fields.refills == case["refills"]
    instruction = case.get("instruction")
    assert (fields.instruction.instruction if fields.instruction else None) == (
        SIG[instruction]["meaning"] if instruction else None
    )


def test_line_notes_explain_the_readings() -> None:
    fields = parse_medication_line(text="Gtt. Timolol 0.5% 1 drop OD BD")
    assert "OD read as right eye (ophthalmic context), not once daily" in fields.notes
    review = parse_medication_line(text="Tab. Thyronorm 50 mcg 1-0-0 till review")
    assert review.duration is None
    assert "no duration: till review (until review)" in review.notes
    assert "route oral implied by form tablet" in review.notes
    combination = parse_medication_line(text="Tab. Amoxicillin 500 mg + Clavulanic acid 125 mg 1-0-1")
    assert combination.drug_text == "Amoxicillin + Clavulanic acid"
    assert _q(combination.strength) == (500, "mg")
    assert combination.dose == Dose(value=1, unit="tablet", text="1-0-1")
    assert "further strength not represented: 125 mg" in combination.notes


def test_eye_drops_with_od_only_have_no_frequency() -> None:
    fields = parse_medication_line(text="Moxifloxacin eye drops 1 drop OD")
    assert fields.route == "ophthalmic"
    assert fields.frequency is None


@pytest.mark.parametrize("text", ["", "   ", "Rx", "Dr. A. Kumar MBBS"])
def test_lines_without_medication_fields(text: str) -> None:
    fields = parse_medication_line(text=text)
    assert (fields.strength, fields.form, fields.route, fields.dose, fields.frequency, fields.duration) == (None,) * 6
    assert (fields.quantity, fields.refills, fields.instruction) == (None, None, None)


def test_frozen_slotted_values() -> None:
    fields = parse_medication_line(text="Tab. Metformin 500 mg 1-0-1 x 30 days")
    assert isinstance(fields, MedicationFields)
    assert not hasattr(fields, "__dict__")
    with pytest.raises(AttributeError):
        fields.form = "capsule"  # type: ignore[misc]


@pytest.mark.parametrize("case", LINES, ids=[case["text"] for case in LINES])
def test_fields_fit_the_extraction_contract(case: dict[str, Any]) -> None:
    fields = parse_medication_line(text=case["text"])
    strength, dose, duration = fields.strength, fields.dose, fields.duration
    medication = extraction.Medication(
        text=fields.text,
        drug=extraction.Drug(text=fields.drug_text),
        strength=extraction.Quantity(value=strength.value, unit=strength.unit) if strength else None,
        form=fields.form,
        route=fields.route,
        dose=extraction.Quantity(value=dose.value, unit=dose.unit) if dose else None,
        frequency=extraction.Frequency(**asdict(fields.frequency)) if fields.frequency else None,
        duration=extraction.Duration(value=duration.value, unit=duration.unit) if duration else None,
        quantity=fields.quantity,
        confidence=1.0,
        page=1,
        bbox=(0, 0, 1, 1),
    )
    # docs/conventions.md vocabularies
    assert medication.form is None or medication.form in FORMS
    assert medication.route is None or medication.route in ROUTES
    assert medication.strength is None or medication.strength.unit in STRENGTH_UNITS
    assert medication.dose is None or medication.dose.unit in DOSE_UNITS
