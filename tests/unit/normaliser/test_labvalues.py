"""Lab-report parsing: values, units to UCUM, reference ranges, flags, and analyte-aware conversion."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from labunits import converters as labunits

from services.normaliser.labvalues import (
    LabValue,
    ReferenceRange,
    Unit,
    UnitConversionError,
    convert,
    derive_flag,
    is_valid_ucum,
    lookup_molecular_weight,
    parse_reference_range,
    parse_unit,
    parse_value,
)
from shared.contracts import extraction

H17 = Path(__file__).resolve().parents[3].parent / "shared" / "vocab" / "loinc" / "h17.csv"


def h17_weight(code: str) -> float:
    """The first Molecular_weight the LOINC table gives for a code, read here independently of the parser."""
    with H17.open(encoding="utf-8", newline="") as handle:
        return next(
            float(r["Molecular_weight"]) for r in csv.DictReader(handle) if r["LOINC"] == code and r["Molecular_weight"]
        )


# --------------------------------------------------------------------------------------------------------- value
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5", LabValue(value=12.5, value_text="12.5")),
        ("140", LabValue(value=140.0, value_text="140")),
        (" 4.2 ", LabValue(value=4.2, value_text="4.2")),
        ("1,200", LabValue(value=1200.0, value_text="1,200")),
        ("2,50,000", LabValue(value=250000.0, value_text="2,50,000")),  # Indian grouping
        ("0,5", LabValue(value=0.5, value_text="0,5")),  # decimal comma
        ("-2.5", LabValue(value=-2.5, value_text="-2.5")),
        ("O.5", LabValue(value=0.5, value_text="O.5")),  # OCR O for 0
        ("1O.2", LabValue(value=10.2, value_text="1O.2")),
        ("12.5 H", LabValue(value=12.5, value_text="12.5", flag="H")),
        ("12.5H", LabValue(value=12.5, value_text="12.5", flag="H")),
        ("3.1 L", LabValue(value=3.1, value_text="3.1", flag="L")),
        ("3.1 (L)", LabValue(value=3.1, value_text="3.1", flag="L")),
        ("250 HH", LabValue(value=250.0, value_text="250", flag="H")),
        ("12.5 High", LabValue(value=12.5, value_text="12.5", flag="H")),
        ("6.5 ↑", LabValue(value=6.5, value_text="6.5", flag="H")),
        ("10l", LabValue(value=101.0, value_text="10l")),  # lower-case l is a digit, not a flag
        ("<0.5", LabValue(value=None, value_text="<0.5", comparator="<", limit=0.5)),
        ("< 0.5", LabValue(value=None, value_text="< 0.5", comparator="<", limit=0.5)),
        (">1000", LabValue(value=None, value_text=">1000", comparator=">", limit=1000.0)),
        ("<= 5", LabValue(value=None, value_text="<= 5", comparator="<=", limit=5.0)),
        ("≥ 90", LabValue(value=None, value_text="≥ 90", comparator=">=", limit=90.0)),
        ("less than 0.01", LabValue(value=None, value_text="less than 0.01", comparator="<", limit=0.01)),
        ("NEGATIVE", LabValue(value=None, value_text="NEGATIVE", qualitative="NEGATIVE")),
        ("Negative", LabValue(value=None, value_text="Negative", qualitative="NEGATIVE")),
        ("-ve", LabValue(value=None, value_text="-ve", qualitative="NEGATIVE")),
        ("POSITIVE", LabValue(value=None, value_text="POSITIVE", qualitative="POSITIVE")),
        ("TRACE", LabValue(value=None, value_text="TRACE", qualitative="TRACE")),
        ("Nil", LabValue(value=None, value_text="Nil", qualitative="NIL")),
        ("REACTIVE", LabValue(value=None, value_text="REACTIVE", qualitative="REACTIVE")),
        ("Non Reactive", LabValue(value=None, value_text="Non Reactive", qualitative="NON-REACTIVE")),
        ("NON-REACTIVE", LabValue(value=None, value_text="NON-REACTIVE", qualitative="NON-REACTIVE")),
        ("Absent", LabValue(value=None, value_text="Absent", qualitative="ABSENT")),
        ("Not Detected", LabValue(value=None, value_text="Not Detected", qualitative="NOT DETECTED")),
        ("++", LabValue(value=None, value_text="++", qualitative="2+")),
        ("3+", LabValue(value=None, value_text="3+", qualitative="3+")),
    ],
)
def test_parse_value(text: str, expected: LabValue) -> None:
    assert parse_value(text=text) == expected


@pytest.mark.parametrize("text", ["", "   ", "abc", "8-10", "12.5.3", "see note", "H", "1.2 mg/dL"])
def test_parse_value_without_a_number(text: str) -> None:
    parsed = parse_value(text=text)
    assert parsed.value is None
    assert parsed.qualitative is None
    assert parsed.value_text == " ".join(text.split())


# ---------------------------------------------------------------------------------------------------------- unit
UNITS = [
    ("mg/dl", "mg/dL"),
    ("mg/dL", "mg/dL"),
    ("MG/DL", "mg/dL"),
    ("mg%", "mg/dL"),
    ("g/dl", "g/dL"),
    ("gm/dl", "g/dL"),
    ("gm%", "g/dL"),
    ("g/L", "g/L"),
    ("mg/L", "mg/L"),
    ("mmol/l", "mmol/L"),
    ("µmol/L", "umol/L"),
    ("umol/l", "umol/L"),
    ("nmol/L", "nmol/L"),
    ("IU/L", "[IU]/L"),
    ("IU/ml", "[IU]/mL"),
    ("mIU/mL", "m[IU]/mL"),
    ("µIU/mL", "u[IU]/mL"),
    ("μIU/ml", "u[IU]/mL"),  # Greek mu
    ("uIU/ml", "u[IU]/mL"),
    ("U/L", "U/L"),
    ("u/l", "U/L"),
    ("mU/L", "mU/L"),
    ("x10^3/uL", "10*3/uL"),
    ("10^3/µL", "10*3/uL"),
    ("10³/µL", "10*3/uL"),
    ("x 10^3 / uL", "10*3/uL"),
    ("thou/mm3", "10*3/uL"),
    ("thou/cumm", "10*3/uL"),
    ("K/uL", "10*3/uL"),
    ("x10^9/L", "10*9/L"),
    ("million/cumm", "10*6/uL"),
    ("mill/mm3", "10*6/uL"),
    ("10^6/uL", "10*6/uL"),
    ("x10^12/L", "10*12/L"),
    ("lakhs/cumm", "10*5/uL"),
    ("cells/cumm", "/uL"),
    ("/cumm", "/uL"),
    ("/hpf", "/[HPF]"),
    ("%", "%"),
    ("fL", "fL"),
    ("fl", "fL"),
    ("pg", "pg"),
    ("ng/mL", "ng/mL"),
    ("ng/ml", "ng/mL"),
    ("pg/mL", "pg/mL"),
    ("ng/dL", "ng/dL"),
    ("µg/dL", "ug/dL"),
    ("mcg/dl", "ug/dL"),
    ("mEq/L", "meq/L"),
    ("meq/l", "meq/L"),
    ("mOsm/kg", "mosm/kg"),
    ("mm/hr", "mm/h"),
    ("mm/1st hr", "mm/h"),
    ("mm/h", "mm/h"),
    ("sec", "s"),
    ("secs", "s"),
    ("seconds", "s"),
    ("mmHg", "mm[Hg]"),
    ("mL/min/1.73m²", "mL/min/{1.73_m2}"),
    ("mg/24 hrs", "mg/(24.h)"),
    ("mg/dL.", "mg/dL"),
]


@pytest.mark.parametrize(("text", "ucum"), UNITS)
def test_parse_unit(text: str, ucum: str) -> None:
    assert parse_unit(text=text) == Unit(text=text.strip(), ucum=ucum)
    assert is_valid_ucum(code=ucum)


@pytest.mark.parametrize("text", ["", "foo", "cells", "Index", "titre", "mg/foo", "10^3", "m"])
def test_unknown_units_get_no_ucum(text: str) -> None:
    assert parse_unit(text=text) == Unit(text=text.strip(), ucum=None)


@pytest.mark.parametrize(
    ("text", "ucum"),
    [
        ("g/di", "g/dL"),
        ("g/dt", "g/dL"),
        ("g/aL.", "g/dL"),
        ("mg/d]", "mg/dL"),
        ("mgidi", "mg/dL"),
        ("gidl", "g/dL"),
        ("mlU/L", "m[IU]/L"),
        ("milU/L", "m[IU]/L"),
        ("mmol/1", "mmol/L"),
        ("ng/mi", "ng/mL"),
        ("meg/dl", "ug/dL"),  # e for c
        ("mceg/dL", "ug/dL"),
        ("mecg/dl", "ug/dL"),
        ("1043/mm3", "10*3/uL"),  # the caret read as 4, %, *°
        ("1046/uL", "10*6/uL"),
        ("10%3/ul", "10*3/uL"),
        ("10*°6/uL", "10*6/uL"),
    ],
)
def test_ocr_damaged_units_are_read_as_the_one_unit_they_can_be(text: str, ucum: str) -> None:
    assert parse_unit(text=text) == Unit(text=text.strip(), ucum=ucum)


@pytest.mark.parametrize(
    ("text", "ucum"),
    [
        ("mg/d", "mg/d"),  # valid as printed: not repaired
        ("gid", None),  # "g/d" would be a daily rate
        ("gl", None),  # "g" would drop a stroke that was printed once
        ("UnitsL", None),
    ],
)
def test_a_unit_repair_never_guesses(text: str, ucum: str | None) -> None:
    assert parse_unit(text=text) == Unit(text=text.strip(), ucum=ucum)


@pytest.mark.parametrize(("code", "valid"), [("mg/dL", True), ("10*3/uL", True), ("u[IU]/mL", True), ("mg/", False)])
def test_is_valid_ucum(code: str, valid: bool) -> None:
    assert is_valid_ucum(code=code) is valid


# --------------------------------------------------------------------------------------------------------- range
@pytest.mark.parametrize(
    ("text", "sex", "low", "high"),
    [
        ("70 - 110", None, 70.0, 110.0),
        ("70-110", None, 70.0, 110.0),
        ("70 – 110", None, 70.0, 110.0),
        ("(70-110)", None, 70.0, 110.0),
        ("70 - 110 mg/dL", None, 70.0, 110.0),
        ("0.6 to 1.2", None, 0.6, 1.2),
        ("-2 to +2", None, -2.0, 2.0),
        ("1,50,000 - 4,50,000", None, 150000.0, 450000.0),
        ("< 200", None, None, 200.0),
        ("<200", None, None, 200.0),
        ("Desirable <200", None, None, 200.0),
        ("Up to 40", None, None, 40.0),
        ("Upto 40", None, None, 40.0),
        ("less than 5", None, None, 5.0),
        (">= 60", None, 60.0, None),
        ("> 60", None, 60.0, None),
        ("Above 40", None, 40.0, None),
        ("M: 13.0-17.0 F: 12.0-15.5", "M", 13.0, 17.0),
        ("M: 13.0-17.0 F: 12.0-15.5", "F", 12.0, 15.5),
        ("M: 13.0-17.0 F: 12.0-15.5", "female", 12.0, 15.5),
        ("M: 13.0-17.0 F: 12.0-15.5", None, None, None),  # which one is not known
        ("Male 0.7-1.3 Female 0.6-1.1", "M", 0.7, 1.3),
        ("Men: 0.7 - 1.3; Women: 0.6 - 1.1", "F", 0.6, 1.1),
        ("Desirable: <200 Borderline: 200-239 High: >=240", None, None, 200.0),
        ("Normal: <5.7, Prediabetes: 5.7-6.4, Diabetes: >=6.5", None, None, 5.7),
        ("Borderline: 200-239 High: >=240", None, None, None),  # no normal part
        ("Negative", None, None, None),
        ("110 - 70", None, None, None),  # inverted
        ("", None, None, None),
    ],
)
def test_parse_reference_range(text: str, sex: str | None, low: float | None, high: float | None) -> None:
    assert parse_reference_range(text=text, sex=sex) == ReferenceRange(low=low, high=high, text=" ".join(text.split()))


# ---------------------------------------------------------------------------------------------------------- flag
RANGE = ReferenceRange(low=70.0, high=110.0, text="70-110")
UPPER = ReferenceRange(low=None, high=200.0, text="<200")
LOWER = ReferenceRange(low=40.0, high=None, text=">40")
NONE = ReferenceRange(low=None, high=None, text="Negative")


@pytest.mark.parametrize(
    ("value", "reference_range", "printed", "flag"),
    [
        (120.0, RANGE, None, "H"),
        (60.0, RANGE, None, "L"),
        (90.0, RANGE, None, "N"),
        (70.0, RANGE, None, "N"),  # bounds are inclusive
        (110.0, RANGE, None, "N"),
        (250.0, UPPER, None, "H"),
        (150.0, UPPER, None, "N"),
        (30.0, LOWER, None, "L"),
        (50.0, LOWER, None, "N"),
        (90.0, RANGE, "H", "H"),  # the printed flag wins
        (120.0, RANGE, "L", "L"),
        (90.0, None, "(H)", "H"),
        (90.0, None, "High", "H"),
        (90.0, None, "HH", "H"),
        (90.0, None, "low", "L"),
        (90.0, None, "↓", "L"),
        (90.0, None, "N", "N"),
        (None, None, "H", "H"),
        (120.0, RANGE, "*", "H"),  # unreadable printed flag: derived
        (120.0, RANGE, "", "H"),
        (None, RANGE, None, None),
        (90.0, None, None, None),
        (90.0, NONE, None, None),
        (None, None, None, None),
    ],
)
def test_derive_flag(
    value: float | None, reference_range: ReferenceRange | None, printed: str | None, flag: str | None
) -> None:
    assert derive_flag(value=value, reference_range=reference_range, printed_flag=printed) == flag


# ----------------------------------------------------------------------------------------------------- convert
@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (100.0, "mg/dL", "g/L", 1.0),
        (1.0, "g/dL", "g/L", 10.0),
        (5.0, "10*3/uL", "10*9/L", 5.0),
        (4.5, "10*6/uL", "10*12/L", 4.5),
        (40.0, "U/L", "ukat/L", 0.666666666667),
        (1.0, "[IU]/L", "m[IU]/mL", 1.0),
        (2.0, "ng/mL", "ug/L", 2.0),
        (50.0, "%", "1", 0.5),
        (1.0, "mg/(24.h)", "mg/d", 1.0),
        (7.0, "mg/dL", "mg/dL", 7.0),
        (37.0, "Cel", "[degF]", 98.6),
        (98.6, "[degF]", "Cel", 37.0),
    ],
)
def test_convert_same_kind_of_quantity(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value=value, from_ucum=source, to_ucum=target) == expected


@pytest.mark.parametrize(
    ("value", "source", "target", "code", "per_weight"),
    [
        # per_weight: mg/dL -> mmol/L is value × 10 [dL/L] ÷ weight [g/mol]; the reverse is value × weight ÷ 10
        (90.0, "mg/dL", "mmol/L", "2345-7", 10.0),  # glucose
        (5.0, "mmol/L", "mg/dL", "14749-6", -10.0),
        (1.0, "mg/dL", "umol/L", "2160-0", 10_000.0),  # creatinine
        (88.4, "umol/L", "mg/dL", "14682-9", -10_000.0),
        (200.0, "mg/dL", "mmol/L", "2093-3", 10.0),  # cholesterol
    ],
)
def test_convert_mass_and_substance_with_the_tables_molecular_weight(
    value: float, source: str, target: str, code: str, per_weight: float
) -> None:
    weight = h17_weight(code)
    assert lookup_molecular_weight(loinc_code=code) == weight
    expected = value * per_weight / weight if per_weight > 0 else value * weight / -per_weight
    assert convert(value=value, from_ucum=source, to_ucum=target, loinc_code=code) == pytest.approx(expected, rel=1e-10)


def test_explicit_molecular_weight_wins() -> None:
    assert convert(value=180.0, from_ucum="mg/dL", to_ucum="mmol/L", molecular_weight=180.0) == 10.0
    assert convert(value=10.0, from_ucum="mmol/L", to_ucum="g/L", loinc_code="2345-7", molecular_weight=100.0) == 1.0


def test_molecular_weight_table_is_overridable(tmp_path: Path) -> None:
    table = tmp_path / "h17.csv"
    table.write_text("LVL,INDENTEDNAME,LOINC,Molecular_weight\n2,Test analyte,99999-9,50\n", encoding="utf-8")
    assert lookup_molecular_weight(loinc_code="99999-9", table=table) == 50.0
    assert lookup_molecular_weight(loinc_code="2345-7", table=table) is None
    assert convert(value=5.0, from_ucum="mg/dL", to_ucum="mmol/L", loinc_code="99999-9", loinc_table=table) == 1.0


@pytest.mark.parametrize(
    ("value", "source", "target", "code", "pair", "scale"),
    [
        # expected = value × labunits factor × scale (scale converts the SI unit of labunits to the target)
        (140.0, "meq/L", "mmol/L", "2951-2", ("mEq/L", "mmol/L"), 1.0),  # sodium
        (140.0, "meq/L", "mol/L", "2951-2", ("mEq/L", "mmol/L"), 0.001),
        (2.0, "meq/L", "mmol/L", "2601-3", ("mEq/L", "mmol/L"), 1.0),  # magnesium, divalent
        (10.0, "u[IU]/mL", "pmol/L", "20448-7", ("μU/mL", "pmol/L"), 1.0),  # insulin, printed µIU/mL
    ],
)
def test_convert_with_the_labunits_factor(
    *, value: float, source: str, target: str, code: str, pair: tuple[str, str], scale: float
) -> None:
    assert (labunits.traditional_unit(code), labunits.si_unit(code)) == pair
    expected = value * labunits.conversion_factor(code) * scale
    assert convert(value=value, from_ucum=source, to_ucum=target, loinc_code=code) == pytest.approx(expected)
    assert convert(value=expected, from_ucum=target, to_ucum=source, loinc_code=code) == pytest.approx(value)


@pytest.mark.parametrize(
    ("source", "target", "code", "message"),
    [
        ("mg/dL", "mmol/L", None, "molecular weight"),
        ("mg/dL", "mmol/L", "718-7", "molecular weight"),  # haemoglobin: no weight in the table
        ("meq/L", "mmol/L", None, "analyte-specific"),
        ("meq/L", "mmol/L", "2345-7", "analyte-specific"),
        ("%", "mmol/mol", "4548-4", "analyte-specific"),  # HbA1c NGSP -> IFCC is not a unit change
        ("[IU]/L", "10*9/L", None, "analyte-specific"),
        ("mg/dL", "mm", None, "analyte-specific"),
        ("mL/min/{1.73_m2}", "mL/min", None, "annotations"),
        ("mg/dL", "foo", None, "not a UCUM unit ucumvert can convert"),
        ("mg/", "mg/dL", None, "not a UCUM unit ucumvert can convert"),
        ("{ratio}", "%", None, "annotation only"),
        ("[pH]", "1", None, "ucumvert can convert"),  # valid UCUM, but no pint definition in ucumvert
    ],
)
def test_invalid_conversions_are_refused(source: str, target: str, code: str | None, message: str) -> None:
    with pytest.raises(UnitConversionError, match=message):
        convert(value=1.0, from_ucum=source, to_ucum=target, loinc_code=code)


def test_conversion_error_is_a_value_error() -> None:
    assert issubclass(UnitConversionError, ValueError)


# ------------------------------------------------------------------------------------------------------ contract
@pytest.mark.parametrize(
    ("value", "unit", "reference", "sex", "printed_flag"),
    [
        ("12.5 H", "g/dl", "M: 13.0-17.0 F: 12.0-15.5", "M", None),
        ("<0.5", "mg/dl", "0.6 to 1.2", None, None),
        ("NEGATIVE", "", "Negative", None, None),
        ("1,200", "cells/cumm", "4000-11000", None, "L"),
    ],
)
def test_results_fit_the_extraction_contract(
    value: str, unit: str, reference: str, sex: str | None, printed_flag: str | None
) -> None:
    parsed, reference_range = parse_value(text=value), parse_reference_range(text=reference, sex=sex)
    lab_unit = parse_unit(text=unit) if unit else None
    result = extraction.LabResult(
        text=value,
        test=extraction.LabTest(text="test"),
        value=parsed.value,
        value_text=parsed.value_text,
        unit=extraction.LabUnit(text=lab_unit.text, ucum=lab_unit.ucum) if lab_unit else None,
        reference_range=extraction.ReferenceRange(
            low=reference_range.low, high=reference_range.high, text=reference_range.text
        ),
        flag=derive_flag(value=parsed.value, reference_range=reference_range, printed_flag=printed_flag),
        confidence=1.0,
        page=1,
        bbox=(0, 0, 1, 1),
    )
    assert result.value_text == parsed.value_text
