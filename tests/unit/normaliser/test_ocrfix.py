"""Undoing OCR slips in dosing words: unique repairs only, and what is right as printed stays."""

from __future__ import annotations

import pytest

from services.normaliser.dosing import parse_frequency
from services.normaliser.ocrfix import repair_frequency
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
