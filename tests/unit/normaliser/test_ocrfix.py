"""Undoing OCR slips in dosing words: unique repairs only, and what is right as printed stays."""

from __future__ import annotations

import pytest

from services.normaliser.dosing import parse_frequency
from services.normaliser.ocrfix import repair_frequency, repair_frequency_span
from tests.unit.normaliser.test_dosing import per_day


@pytest.mark.parametrize(
    ("printed", "repaired", "abbrev"),
    [
        ("three tines daily", "three times daily", "TID"),
        ("Ewice daily", "twice daily", "BID"),
        ("tice daily", "twice daily", "BID"),
        ("twice dally", "twice daily", "BID"),
        ("1 PO gid", "1 PO QID", "QID"),
        ("cap 1 PO g8h", "cap 1 PO Q8H", "Q8H"),
        ("5 ml TOS for 14 days", "5 ml TDS for 14 days", "TDS"),
        ("cap 1 PO qa", "cap 1 PO QD", "QD"),
        ("5MG Qps 2WEEKS", "5MG QDS 2WEEKS", "QDS"),  # P for D
        ("600 mg 00S", "600 mg QDS", "QDS"),  # two letters damaged
        ("2.5m ODS 7 days", "2.5m QDS 7 days", "QDS"),
        ("1 tab PO qi2h, Disp #80", "1 tab PO q12h, Disp #80", "Q12H"),  # the 1 of 12 read as a letter
        ("1 capsule PO ql 2h", "1 capsule PO q12h", "Q12H"),
        ("2 tablets PO qéh", "2 tablets PO q6h", "Q6H"),  # the 6 read as é
        ("apply to affected area q6éh", "apply to affected area q6h", "Q6H"),
        ("take 1 tab PO every & hours", "take 1 tab PO every 8 hours", "Q8H"),  # the 8 read as &
        ("Cap. Oxycodone 5 mg ODx1 month", "Cap. Oxycodone 5 mg OD x1 month", "QD"),  # run into the duration
    ],
)
def test_damaged_words_are_read_as_the_one_word_they_can_be(printed: str, repaired: str, abbrev: str) -> None:
    assert repair_frequency(printed) == repaired
    frequency = parse_frequency(text=repair_frequency(printed))
    assert frequency is not None and frequency.per_day == per_day(abbrev)


@pytest.mark.parametrize(
    "printed",
    [
        "every hour",  # "hour" is one edit from "four" but right as printed
        "at bed time",
        "Tab PO 10 mg",
        "apply to affected area",
        "SOS",
        "Cap. Ibuprofen 2 BO mg",  # before a unit: part of the number ("200 mg"), not BD
        "OD",
    ],
)
def test_words_right_as_printed_or_without_a_unique_repair_stay(printed: str) -> None:
    assert repair_frequency(printed) == printed


@pytest.mark.parametrize(
    ("printed", "repaired", "per_day"),
    [
        ("100 mag 1.0.0 alter meals", "100 mag 1-0-0 alter meals", 1),  # dashes read as dots
        ("10 mg 0.0.1 42 weeks", "10 mg 0-0-1 42 weeks", 1),
        ("10 mg 1-1-1-]", "10 mg 1-1-1-1", 4),  # a 1 read as a bracket
        ("25 mg 1-6-1 before food", "25 mg 1-0-1 before food", 2),  # a 0 read as a closed-loop digit
        ("20 mg 0-1-8 after food", "20 mg 0-1-0 after food", 1),
        ("Cap Prozac 20mg 1-0-0for3days", "Cap Prozac 20mg 1-0-0 for3days", 1),
    ],
)
def test_dosing_patterns_with_damaged_dashes_or_ones_are_read_as_printed(
    printed: str, repaired: str, per_day: float
) -> None:
    assert repair_frequency(printed) == repaired
    frequency = parse_frequency(text=repaired)
    assert frequency is not None and frequency.per_day == per_day


@pytest.mark.parametrize(
    ("span", "pattern", "per_day"),
    [("O10", "0-1-0", 1), ("1-01", "1-0-1", 2), ("10-1", "1-0-1", 2), ("11-1", "1-1-1", 3)],
)
def test_a_tagged_frequency_span_of_three_slots_with_dashes_lost_is_the_pattern(
    span: str, pattern: str, per_day: float
) -> None:
    assert repair_frequency_span(span) == pattern  # in a whole line ("O10 3 days") they stay: see below
    frequency = parse_frequency(text=pattern)
    assert frequency is not None and frequency.per_day == per_day


@pytest.mark.parametrize(
    "printed",
    [
        "Dolo 1.5 mg",
        "version 1.0.0.1.2",
        "10.0.4",
        "80 14 days",
        "00 after meals",
        "Inj Actrapid 6-0-8 units",  # insulin doses in units: the 6 and 8 are doses
        "1-6-6",  # more than one slot would need repair: not a damaged once-or-none pattern
        "8-8-8",
        "1-2-2",
        "O10 3 days",  # in a whole line, three characters are not a pattern
        "Box2",  # not a frequency abbreviation run into a duration
    ],
)
def test_numbers_are_not_taken_for_dosing_patterns(printed: str) -> None:
    assert repair_frequency(printed) == printed


@pytest.mark.parametrize("span", ["10", "1", "I0-1-0-1", "twice daily"])
def test_other_tagged_frequency_spans_are_repaired_as_any_text(span: str) -> None:
    assert repair_frequency_span(span) == repair_frequency(span)
