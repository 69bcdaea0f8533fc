"""Undoing OCR's usual slips in the words of a dosing instruction before it is parsed.

Two kinds of slip cost the most on degraded pages: an instruction word one character off ("tines daily",
"Ewice daily", "dally"), and a SIG abbreviation with a letter OCR confuses ("gid" for QID, "g8h" for Q8H, "TOS" for
TDS). A word is repaired only when the repair is unique: exactly one instruction word is one edit away, or exactly
one confusion-swapped spelling is a frequency abbreviation of the SIG table; everything else stays as printed.
Digits OCR reads for others are repaired where only one reading makes a dosing instruction: "1-6-1" (a 0 read as a
closed-loop digit, in a once-or-none pattern not counted in units), "qéh" (q6h), "every & hours" (every 8 hours);
an abbreviation run into its duration ("ODx1") is set apart.
"""

from __future__ import annotations

import re
from functools import cache

from rapidfuzz.distance import Levenshtein

from services.normaliser.numbers import OCR_DIGITS
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
#: Every 6 hours with the 6 read as "é" (Tesseract's look-alike), alone or beside the 6: "qéh", "q6éh".
_Q_SIX = re.compile(r"(?<![A-Za-z])([qQ])\s?(?:6?é|é6)\s?([hH])(?![A-Za-z])")
#: Every 8 hours with the 8 read as "&": "every & hours".
_EVERY_EIGHT = re.compile(r"(?<![A-Za-z])(every|each)\s+&\s*(hours?|hrs?)(?![A-Za-z])", re.IGNORECASE)
#: A once-or-none dosing pattern with a 0 read as a closed-loop digit: "1-6-1", "0-1-8" (1-0-1, 0-1-0).
_ZERO_LIKE_PATTERN = re.compile(r"(?<![\w.\-])[01689](?:-[01689]){2,3}(?![\w.\-])")
#: Doses counted in units (insulin: "6-0-8 units"), where a 6 or an 8 in a pattern is what it says.
_UNIT_DOSES = re.compile(r"(?<![A-Za-z])(?:units?|iu|u)(?![A-Za-z])", re.IGNORECASE)
#: A frequency abbreviation run into the duration after it: "ODx1 month", "TDSX7"; a pattern into "for": "1-0-0for3".
_GLUED_DURATION = re.compile(r"(?<![A-Za-z])([A-Za-z]{2,4})(?=[xX]\d)|(?<=\d)(?=for\d)")
#: A frequency span of three once-or-none slots whose dashes OCR lost: "O10", "1-01", "10-1" (0-1-0, 1-0-1, 1-0-1).
_DASHLESS_PATTERN = re.compile(r"[01OoIl|]-?[01OoIl|]-?[01OoIl|]")
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
    text = _Q_SIX.sub(lambda m: f"{m.group(1)}6{m.group(2)}", text)
    text = _EVERY_EIGHT.sub(lambda m: f"{m.group(1)} 8 {m.group(2)}", text)
    if not _UNIT_DOSES.search(text + after):
        text = _ZERO_LIKE_PATTERN.sub(_zero_like_slots, text)
    text = _GLUED_DURATION.sub(lambda m: _unglued(m, sig), text)
    context = text + after

    def repair(match: re.Match[str]) -> str:
        if _BEFORE_UNIT.match(context, match.end()):
            return match.group(0)
        return _repair(match.group(0), sig)

    return _TOKEN.sub(repair, text)


def repair_frequency_span(text: str, *, table: SigTable | None = None, after: str = "") -> str:
    """A tagged frequency span repaired as :func:`repair_frequency` does, and read as a pattern if it is only one.

    The tagger marked the span as the frequency, so three once-or-none slots with a dash or two lost ("O10",
    "1-01") are the pattern they were printed as; in a whole line the same characters may be a number.
    """
    bare = text.strip(" .,;:")
    if _DASHLESS_PATTERN.fullmatch(bare) and bare.count("-") < 2 and re.search(r"\d", bare):
        slots = bare.replace("-", "").translate(OCR_DIGITS)
        return "-".join(slots)
    return repair_frequency(text, table=table, after=after)


def _zero_like_slots(match: re.Match[str]) -> str:
    """``match`` with 6, 8 and 9 read as 0 when every other slot is 0 or 1 and one is 1 ("1-6-1" → "1-0-1")."""
    slots = match.group(0).split("-")
    looped = [slot for slot in slots if slot in "689"]
    if not looped or "1" not in slots or len(looped) > len(slots) - 2:
        return match.group(0)
    return "-".join("0" if slot in "689" else slot for slot in slots)


def _unglued(match: re.Match[str], sig: SigTable) -> str:
    """A frequency abbreviation set apart from the duration OCR ran it into; anything else as printed."""
    word = match.group(1)
    if word is None:
        return " "
    return f"{word} " if sig.lookup(abbrev=word, kind="frequency") is not None else word


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
