"""Undoing OCR's usual slips in the words of a dosing instruction before it is parsed.

Two kinds of slip cost the most on degraded pages: an instruction word one character off ("tines daily",
"Ewice daily", "dally"), and a SIG abbreviation with a letter OCR confuses ("gid" for QID, "g8h" for Q8H, "TOS" for
TDS). A word is repaired only when the repair is unique: exactly one instruction word is one edit away, or exactly
one confusion-swapped spelling is a frequency abbreviation of the SIG table; everything else stays as printed.
"""

from __future__ import annotations

import re
from functools import cache

from rapidfuzz.distance import Levenshtein

from services.normaliser.sig import SigTable, load_sig_table

#: Instruction words a repair may produce.
FREQUENCY_WORDS = ("once", "twice", "thrice", "three", "times", "daily", "hourly", "weekly", "every", "hours")
#: Words that are right as printed, though one edit from a frequency word ("hour" is not "four").
_KNOWN = frozenset(FREQUENCY_WORDS) | frozenset(
    {"hour", "day", "days", "week", "weeks", "time", "month", "months", "tablet", "tablets", "capsule", "capsules",
     "drops", "puffs", "apply", "take", "with", "after", "before", "food", "meals", "meal", "area", "each", "nostril",
     "eye", "eyes", "ear", "ears", "night", "morning", "bedtime", "needed", "required", "four", "five", "dose",
     "doses", "this"}
)  # fmt: skip
#: Letters OCR reads for the letters of a SIG abbreviation ("g" for "q", "O" for "D" or "Q", "P" for "D").
_CONFUSIONS = {"G": "Q", "O": "DQ", "0": "DOQ", "A": "D", "8": "B", "1": "I", "L": "I", "|": "I", "P": "D"}
#: Most letters of one abbreviation repaired ("00S" is QDS).
_MAX_SWAPS = 2
#: A dosing pattern whose dashes OCR read as dots or whose 1s as look-alikes: "1.0.0", "1-1-1-]".
_PATTERN = re.compile(r"(?<![\w.])[01Il|\]!](?:[.\-][01Il|\]!]){2,3}(?![\w.])")
_ONES = str.maketrans({"I": "1", "l": "1", "|": "1", "]": "1", "!": "1"})
#: Every-n-hours with the 1 of 12 read as a letter: "qi2h", "ql 2h" (q12h).
_Q_HOURS = re.compile(r"\b([qQ])\s?[il|!I]\s?(\d)\s?([hH])\b")
_TOKEN = re.compile(r"[A-Za-z0-9|]+")
#: A token before a strength unit belongs to the number ("2 BO mg" is "200 mg", not BD).
_BEFORE_UNIT = re.compile(r"\s*(?:mg|mcg|ug|g|ml|iu|units?)\b", re.IGNORECASE)


def repair_frequency(text: str, *, table: SigTable | None = None, after: str = "") -> str:
    """``text`` with OCR-damaged instruction words and SIG abbreviations read as what they must be.

    Args:
        text: The words to repair.
        table: The SIG table (default: the shared one).
        after: What follows ``text`` in its line, when ``text`` is a piece of one (a span the tagger marked).
    """
    sig = table or _default_table()
    text = _PATTERN.sub(lambda m: m.group(0).translate(_ONES).replace(".", "-"), text)
    text = _Q_HOURS.sub(lambda m: f"{m.group(1)}1{m.group(2)}{m.group(3)}", text)
    context = text + after

    def repair(match: re.Match[str]) -> str:
        if _BEFORE_UNIT.match(context, match.end()):
            return match.group(0)
        return _repair(match.group(0), sig)

    return _TOKEN.sub(repair, text)


def _repair(token: str, sig: SigTable) -> str:
    lower = token.lower()
    if lower in _KNOWN or sig.lookup(abbrev=token) is not None:
        return token
    if token.isalpha() and len(token) >= 4:
        near = [word for word in FREQUENCY_WORDS if Levenshtein.distance(lower, word, score_cutoff=1) <= 1]
        return near[0] if len(near) == 1 else token
    if 2 <= len(token) <= 4 and any(ch.isalpha() for ch in token):
        spellings = {token.upper()}
        for _ in range(_MAX_SWAPS):
            spellings = {
                s[:i] + right + s[i + 1 :]
                for s in spellings
                for i, ch in enumerate(s)
                for right in _CONFUSIONS.get(ch, "")
            }
            found = {s: entry for s in sorted(spellings) if (entry := sig.lookup(abbrev=s, kind="frequency"))}
            meanings = {(e.times_per_period, e.period, e.period_unit) for e in found.values()}
            if len(meanings) == 1:
                return next(iter(found))  # "00S": QDS; "0D": OD or QD, both once a day
            if found:
                return token
    return token


@cache
def _default_table() -> SigTable:
    return load_sig_table()
