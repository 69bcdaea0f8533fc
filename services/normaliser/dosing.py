"""Parsing of medication text into the values of docs/conventions.md: strength, form, route, dose, frequency, ...

Each ``parse_*`` function reads one tagged fragment ("500 mg", "1-0-1", "x 5 days") and finds its value anywhere in
the text, so it also works on a longer span. :func:`parse_medication_line` runs them over a whole raw line when the
tagger gave no fragments; each finder blanks out what it used, and the words left over are the drug words.

Abbreviations, their schedules and every FHIR Timing code come from the SIG table (:mod:`services.normaliser.sig`,
path overridable with ``sig_path``); no timing code is written in this module.

Decisions on ambiguous text (each one is tested):

* ``OD`` is "once daily" (UK/India) unless the line is about the eye: an eye word (eye, eyes, ophthalmic, E/D) or an
  OS/OU abbreviation is present, or the form is drops/ointment and another frequency is also given
  ("Gtt. Timolol 1 drop OD BD"). Then ``OD`` is "right eye": route ``ophthalmic``, and it gives no frequency. The
  SIG table gives ``OD`` no FHIR code, so once-daily ``OD`` has ``timing_code`` null and ``per_day`` 1.
* Indian morning-noon-night(-bedtime) patterns ("1-0-1", "1-1-1-1", "½-0-½") give ``per_day`` = the number of
  non-zero slots and the timing code of the SIG row with that daily count: 1 → ``QD``, 2 → ``BID``, 3 → ``TID``,
  4 → ``QID`` (codes read from the table). "0-0-1" is a count of one, so ``QD``, not a time of day. When every
  non-zero slot holds the same amount and the form is counted (tablet, capsule, drops), that amount is the dose.
* Several frequency expressions: a pattern wins over an abbreviation or words, which win over a time of day
  ("0-0-1 HS" → ``QD``); ``as_needed`` is set by PRN/SOS/"as needed" or a maximum ("max 3/day"). As needed with no
  schedule has ``per_day`` null unless a maximum count is printed (then that count) and ``timing_code`` null.
* "every 4-6 hours" uses the shorter interval (the most administrations); a schedule with no exact SIG row
  ("every 12 hours", "twice a week") keeps its ``per_day`` and has ``timing_code`` null. A month is 30 days.
* A form implies a route only when unambiguous: tablet, capsule and syrup → ``oral``. Drops (eye/ear/nose/mouth),
  injection (IV/IM/SC), cream/ointment/gel (skin, eye, vagina), solution, suspension, spray, powder, patch, inhaler
  and lotion get no default route.
* In a whole line, "IU"/mass units are the strength and "units", volumes, tablets, drops, puffs are the dose
  ("Inj. Insulin 100 IU/ml 10 units"); further strengths of a combination are noted, not represented.
* Durations: "5/7", "2/52", "1/12" are days, weeks, months (UK). "till review", "continue" and similar give no
  :class:`Duration` but an :class:`OpenEndedDuration` carrying the reason.
* Teaspoon/tablespoon doses are converted to 5 mL / 15 mL; "sprays" count as ``puff`` (one actuation).
* An AM/PM before another schedule is a brand suffix ("Tab. Telma AM 40 mg 1-0-0"); "for fever", "prn nausea"
  are indications, noted and kept out of the drug words. A small bare count just before the frequency on a
  tablet/capsule/drops line is the dose ("Tab X 1 BD"); larger ones stay in the drug words ("Dolo 650").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from services.normaliser.numbers import OCR_DIGITS, parse_number
from services.normaliser.sig import SigEntry, SigTable, load_sig_table

DurationUnit = Literal["d", "wk", "mo"]
SigPath = Path | str | None

FORMS = (
    "tablet", "capsule", "syrup", "solution", "suspension", "injection", "cream", "ointment", "gel", "drops",
    "inhaler", "powder", "lotion", "spray", "patch",
)  # fmt: skip
ROUTES = (
    "oral", "topical", "ophthalmic", "otic", "nasal", "inhalation", "sublingual", "subcutaneous", "intramuscular",
    "intravenous", "rectal", "vaginal", "transdermal",
)  # fmt: skip
#: Forms whose route is not in doubt when none is printed.
DEFAULT_ROUTES: dict[str, str] = {"tablet": "oral", "capsule": "oral", "syrup": "oral"}


# --------------------------------------------------------------------------------------------------- value types
@dataclass(frozen=True, slots=True)
class Strength:
    """Strength of the product, e.g. ``{500, "mg"}`` or ``{50, "mg/mL"}``.

    Attributes:
        value: The amount, per mL for a concentration.
        unit: UCUM: ``mg``, ``ug``, ``g``, ``mL``, ``mg/mL``, ``ug/mL``, ``[iU]``, ``[iU]/mL``, ``%``.
        text: The span it was read from.
    """

    value: float
    unit: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Dose:
    """Amount per administration.

    Attributes:
        value: How many units (0.5 for "half tablet").
        unit: ``tablet``, ``capsule``, ``mL``, ``drop``, ``puff``, ``application``, ``[iU]``, ``mg``, ``ug``, ``g``.
        text: The span it was read from.
    """

    value: float
    unit: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Frequency:
    """How often, per docs/conventions.md.

    Attributes:
        text: The frequency words as printed (pieces joined by a space), e.g. ``1-0-1``, ``SOS max 3/day``.
        per_day: Administrations per day (0.5 every other day, 1/7 weekly); null when only as needed.
        timing_code: FHIR Timing code (HL7 GTSAbbreviation) from the SIG table, else null.
        as_needed: PRN / SOS / "as needed" / a maximum count.
    """

    text: str
    per_day: float | None
    timing_code: str | None
    as_needed: bool


@dataclass(frozen=True, slots=True)
class Duration:
    """How long.

    Attributes:
        value: The count of units.
        unit: ``d``, ``wk`` or ``mo``.
        text: The span it was read from.
    """

    value: float
    unit: DurationUnit
    text: str = ""


@dataclass(frozen=True, slots=True)
class OpenEndedDuration:
    """A printed "duration" that has no length ("till review", "continue").

    Attributes:
        text: The words as printed.
        reason: Why there is no duration value, e.g. ``until review``.
    """

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Instruction:
    """A timing instruction relative to meals or sleep.

    Attributes:
        text: The words as printed (``after food``, ``AC``).
        instruction: The SIG table's meaning of the abbreviation (``after meals``, ``at bedtime``).
        when: The SIG table's FHIR Timing code for it, or null where the table has none (AC/PC/CC).
    """

    text: str
    instruction: str
    when: str | None


@dataclass(frozen=True, slots=True)
class MedicationFields:
    """Everything :func:`parse_medication_line` read from one line.

    Attributes:
        text: The line as given.
        drug_text: The drug words left when everything else is removed ("" when none).
        strength: Strength, or None.
        form: Dose form word, or None.
        route: Route word (printed, or the unambiguous default of the form), or None.
        dose: Amount per administration, or None.
        frequency: Frequency, or None.
        duration: Duration, or None (also for open-ended ones; see ``notes``).
        quantity: Units to dispense, or None.
        refills: Number of refills, or None.
        instruction: Meal/sleep instruction, or None.
        notes: Human-readable notes on readings a reviewer may want to check.
    """

    text: str
    drug_text: str
    strength: Strength | None = None
    form: str | None = None
    route: str | None = None
    dose: Dose | None = None
    frequency: Frequency | None = None
    duration: Duration | None = None
    quantity: float | None = None
    refills: int | None = None
    instruction: Instruction | None = None
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------------------- numbers
# OCR reads 0 as O/o and 1 as l/I; a number token may hold them as long as it holds one real digit.
_NUM_CORE = r"[0-9OoIl]+(?:[.,][0-9OoIl]+)*"
_NUM = rf"(?<![\w.,])(?=[0-9OoIl.,]*\d){_NUM_CORE}"
_FRACTION_CHARS = {"½": 0.5, "¼": 0.25, "¾": 0.75}
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBER_WORDS = {word: value for value, word in enumerate(_ONES)} | {word: 10 * (i + 2) for i, word in enumerate(_TENS)}
_WORD = "|".join(sorted([*_NUMBER_WORDS, "hundred", "half"], key=len, reverse=True))
_WORDS = rf"(?<![A-Za-z])(?:{_WORD})(?:(?:\s+|-)(?:and\s+)?(?:a\s+)?(?:{_WORD}))*(?![A-Za-z])"
_AMOUNT = rf"(?:(?<![\w./])\d+\s*/\s*[1-9]\d*(?![\d/])|{_NUM}(?:\s*[½¼¾])?|(?<!\w)[½¼¾]|{_WORDS})"


def _words_to_number(text: str) -> float | None:
    """``thirty`` → 30, ``one hundred twenty`` → 120, ``one and a half`` → 1.5; None for anything else."""
    total, seen = 0.0, False
    for word in re.split(r"[\s-]+", text.lower().strip()):
        seen = seen or word in _NUMBER_WORDS or word in {"hundred", "half"}
        if word in _NUMBER_WORDS:
            total += _NUMBER_WORDS[word]
        elif word == "hundred":
            total = max(total, 1.0) * 100
        elif word == "half":
            total += 0.5
        elif word not in {"and", "a"}:
            return None
    return total if seen else None


def _amount(text: str) -> float | None:
    """Value of an :data:`_AMOUNT` match: ``1/2``, ``1½``, ``½``, ``2``, ``O.5``, ``two``, ``half``."""
    text = text.strip()
    fraction = re.fullmatch(r"(\d+)\s*/\s*(\d+)", text)
    if fraction:
        return int(fraction.group(1)) / int(fraction.group(2))
    if text and text[-1] in _FRACTION_CHARS:
        whole = parse_number(text[:-1]) if text[:-1].strip() else 0.0
        return None if whole is None else whole + _FRACTION_CHARS[text[-1]]
    if re.fullmatch(r"[0-9OoIl.,]+", text):
        return parse_number(text)
    return _words_to_number(text)


def _clean(text: str) -> str:
    return text.strip().rstrip(".,;:").strip()


# ----------------------------------------------------------------------------------------------------- the line
class _Line:
    """A line being consumed: finders read :attr:`masked` and blank out what they used."""

    __slots__ = ("chars", "notes", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.chars = list(text)
        self.notes: list[str] = []

    @property
    def masked(self) -> str:
        return "".join(self.chars)

    def take(self, start: int, end: int) -> None:
        self.chars[start:end] = " " * (end - start)


Span = tuple[int, int]


# ---------------------------------------------------------------------------------------------------- lexicon
@dataclass(frozen=True, slots=True)
class _Lexicon:
    """Regexes and word maps built once per SIG table."""

    table: SigTable
    frequency_abbrev: re.Pattern[str]
    as_needed_abbrev: re.Pattern[str]
    timing_abbrev: re.Pattern[str]
    route_abbrev: re.Pattern[str]
    organ_abbrev: re.Pattern[str]
    form_words: dict[str, str]
    form_re: re.Pattern[str]
    route_of_abbrev: dict[str, str]


_ROUTE_MEANINGS = {
    "by mouth": "oral",
    "nebulized": "inhalation",
    "both eyes": "ophthalmic",
    "left eye": "ophthalmic",
    "right eye": "ophthalmic",
    "both ears": "otic",
    "left ear": "otic",
    "right ear": "otic",
}
_FORM_MEANINGS = {"drop(s)": "drops"}
_FORM_SYNONYMS = {
    **dict.fromkeys(["tab", "tabs", "tablet", "tablets"], "tablet"),
    **dict.fromkeys(["cap", "caps", "capsule", "capsules"], "capsule"),
    **dict.fromkeys(["syp", "syr", "syrup", "syrups"], "syrup"),
    **dict.fromkeys(["susp", "suspension", "suspensions"], "suspension"),
    **dict.fromkeys(["sol", "soln", "solution", "solutions"], "solution"),
    **dict.fromkeys(["inj", "injection", "injections", "amp", "ampoule", "ampoules", "vial", "vials"], "injection"),
    **dict.fromkeys(["oint", "ointment", "ointments", "ung"], "ointment"),
    **dict.fromkeys(["crm", "cream", "creams"], "cream"),
    **dict.fromkeys(["gel", "gels"], "gel"),
    **dict.fromkeys(["gtt", "gtts", "drop", "drops"], "drops"),
    **dict.fromkeys(["inh", "inhaler", "inhalers", "mdi"], "inhaler"),
    **dict.fromkeys(["powder", "powders", "pwd", "sachet", "sachets", "granules"], "powder"),
    **dict.fromkeys(["lotion", "lotions"], "lotion"),
    **dict.fromkeys(["spray", "sprays"], "spray"),
    **dict.fromkeys(["patch", "patches"], "patch"),
}
_OCR_LETTER = {"O": "[O0]", "I": "[I1l]"}


def _abbrev_pattern(abbrev: str) -> str:
    """``BID`` → ``B\\.?[I1l]\\.?D\\.?`` bounded by non-alphanumerics (dots between letters, OCR 0/1 for O/I)."""
    body = r"\.?".join(_OCR_LETTER.get(ch, re.escape(ch)) for ch in abbrev)
    # "8 AM" is a clock time and "2 wk" a duration, not "every morning" or "weekly".
    guard = r"(?<!\d)(?<!\d\s)" if abbrev in {"AM", "PM", "WK", "MO"} else ""
    return rf"{guard}(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9])\.?"


def _alternation(entries: tuple[SigEntry, ...]) -> re.Pattern[str]:
    ordered = sorted((e.abbrev for e in entries), key=len, reverse=True)
    return re.compile("|".join(_abbrev_pattern(a) for a in ordered) or r"(?!x)x", re.IGNORECASE)


def _is_sense_organ(entry: SigEntry) -> bool:
    return bool(re.search(r"\b(?:eyes?|ears?)\b", entry.meaning))


@cache
def _lexicon_for(path: Path | None) -> _Lexicon:
    table = load_sig_table(path=path)
    routes = table.of_kind(kind="route")
    route_of = {e.abbrev: _ROUTE_MEANINGS.get(e.meaning, e.meaning) for e in routes}
    forms = {e.abbrev.lower(): _FORM_MEANINGS.get(e.meaning, e.meaning) for e in table.of_kind(kind="form")}
    form_words = {k: v for k, v in forms.items() if v in FORMS} | _FORM_SYNONYMS
    words = "|".join(sorted(map(re.escape, form_words), key=len, reverse=True))
    organ = tuple(e for e in routes if _is_sense_organ(e))
    organ_re = "|".join(rf"(?<![A-Za-z0-9]){e.abbrev}(?![A-Za-z0-9])" for e in organ) or r"(?!x)x"
    return _Lexicon(
        table=table,
        frequency_abbrev=_alternation(table.of_kind(kind="frequency")),
        as_needed_abbrev=_alternation(table.of_kind(kind="as_needed")),
        timing_abbrev=_alternation(table.of_kind(kind="timing")),
        route_abbrev=_alternation(tuple(e for e in routes if not _is_sense_organ(e) and route_of[e.abbrev] in ROUTES)),
        organ_abbrev=re.compile(organ_re),  # case-sensitive: "as needed" is not "AS" (left ear)
        form_words=form_words,
        form_re=re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])\.?", re.IGNORECASE),
        route_of_abbrev=route_of,
    )


def _lexicon(sig_path: SigPath) -> _Lexicon:
    return _lexicon_for(Path(sig_path).resolve() if sig_path is not None else None)


def _entry(lex: _Lexicon, abbrev: str) -> SigEntry | None:
    """Look up a printed abbreviation, retrying with OCR fixes (``0D`` → ``OD``, ``TlD`` → ``TID``)."""
    entry = lex.table.lookup(abbrev=abbrev)
    if entry is None:
        fixed = re.sub(r"[.\s]", "", abbrev).upper().replace("0", "O").replace("1", "I").replace("L", "I")
        entry = lex.table.lookup(abbrev=fixed)
    return entry


# --------------------------------------------------------------------------------------------------- strength
_MASS = r"mcg|µg|μg|ug|micrograms?|mg|milligrams?|gms?|grams?|g"
_MASS_UNITS = {"mcg": "ug", "µg": "ug", "μg": "ug", "ug": "ug", "mg": "mg", "gm": "g", "g": "g"}
_STRENGTH_RE = re.compile(
    rf"(?P<num>{_NUM})\s*(?P<unit>{_MASS}|i\.?u\.?(?![A-Za-z]))(?![A-Za-z])\.?"
    rf"(?:\s*/\s*(?P<den>{_NUM_CORE})?\s*(?P<dunit>ml|dose|puff|actuation|spray|tab|tablet|cap|capsule)(?![A-Za-z]))?"
    rf"|(?P<pnum>{_NUM})\s*%(?:\s*(?:w/w|w/v|v/v))?",
    re.IGNORECASE,
)
_BULK_STRENGTH_RE = re.compile(rf"(?P<num>{_NUM})\s*(?P<unit>units?|u|ml)(?![A-Za-z])\.?", re.IGNORECASE)


def _mass_unit(printed: str) -> str:
    key = printed.lower().replace(".", "")
    if key.startswith("i"):
        return "[iU]"
    if key.startswith("micro"):
        return "ug"
    if key.startswith("milli"):
        return "mg"
    if key.startswith("gram") or key == "gms":
        return "g"
    return _MASS_UNITS[key]


def _strength_of(match: re.Match[str]) -> Strength | None:
    if match.group("pnum"):
        percent = parse_number(match.group("pnum"))
        return None if percent is None else Strength(value=percent, unit="%", text=_clean(match.group(0)))
    value, unit = parse_number(match.group("num")), _mass_unit(match.group("unit"))
    if value is None:
        return None
    per = (match.group("dunit") or "").lower()
    if per == "ml":
        denominator = parse_number(match.group("den")) if match.group("den") else 1.0
        if not denominator:
            return None
        if unit == "g":  # concentrations are stated per mg, as RxNorm does (MG/ML)
            value, unit = value * 1000, "mg"
        value, unit = value / denominator, f"{unit}/mL"
    return Strength(value=round(value, 6), unit=unit, text=_clean(match.group(0)))


def _find_strength(masked: str) -> Iterator[tuple[Strength, Span]]:
    for match in _STRENGTH_RE.finditer(masked):
        strength = _strength_of(match)
        if strength is not None:
            yield strength, match.span()


def parse_strength(*, text: str) -> Strength | None:
    """Read a strength: ``500 mg``, ``500mg``, ``0.5 g``, ``250 mg/5 ml`` (→ 50 mg/mL), ``1%``, ``40 IU``.

    A strength fragment may also be a plain number of units or a volume (``10 units`` → ``[iU]``, ``500 ml``).

    Args:
        text: A strength fragment, or any text containing one (the first one is read).

    Returns:
        The strength with a UCUM unit, or None when the text holds none.
    """
    found = next(_find_strength(text), None)
    if found:
        return found[0]
    bulk = _BULK_STRENGTH_RE.search(text)
    value = parse_number(bulk.group("num")) if bulk else None
    if bulk is None or value is None:
        return None
    unit = "mL" if bulk.group("unit").lower() == "ml" else "[iU]"
    return Strength(value=value, unit=unit, text=_clean(bulk.group(0)))


# ------------------------------------------------------------------------------------------------------- dose
_DOSE_UNITS: dict[str, tuple[float, str]] = {
    **dict.fromkeys(["tab", "tabs", "tablet", "tablets"], (1.0, "tablet")),
    **dict.fromkeys(["cap", "caps", "capsule", "capsules"], (1.0, "capsule")),
    **dict.fromkeys(["ml", "mls", "cc"], (1.0, "mL")),
    **dict.fromkeys(["tsp", "tsf", "teaspoon", "teaspoons", "teaspoonful", "teaspoonfuls"], (5.0, "mL")),
    **dict.fromkeys(["tbsp", "tablespoon", "tablespoons", "tablespoonful", "tablespoonfuls"], (15.0, "mL")),
    **dict.fromkeys(["drop", "drops", "gtt", "gtts"], (1.0, "drop")),
    **dict.fromkeys(["puff", "puffs", "inhalation", "inhalations", "actuation", "actuations"], (1.0, "puff")),
    **dict.fromkeys(["spray", "sprays"], (1.0, "puff")),
    **dict.fromkeys(["unit", "units", "iu", "i.u.", "i.u"], (1.0, "[iU]")),
    **dict.fromkeys(["application", "applications"], (1.0, "application")),
}
_DOSE_MASS: dict[str, tuple[float, str]] = {
    "mg": (1.0, "mg"),
    "mcg": (1.0, "ug"),
    "ug": (1.0, "ug"),
    "µg": (1.0, "ug"),
    "μg": (1.0, "ug"),
    "g": (1.0, "g"),
}


def _dose_re(units: dict[str, tuple[float, str]]) -> re.Pattern[str]:
    words = "|".join(sorted(map(re.escape, units), key=len, reverse=True))
    return re.compile(rf"(?P<n>{_AMOUNT})\s*(?P<u>{words})(?![A-Za-z])\.?", re.IGNORECASE)


_DOSE_RE = _dose_re(_DOSE_UNITS)
_DOSE_ANY_RE = _dose_re(_DOSE_UNITS | _DOSE_MASS)


def _find_dose(masked: str, *, pattern: re.Pattern[str] = _DOSE_RE) -> Iterator[tuple[Dose, Span]]:
    units = _DOSE_UNITS | _DOSE_MASS
    for match in pattern.finditer(masked):
        amount = _amount(match.group("n"))
        if amount is None or amount <= 0:
            continue
        factor, unit = units[match.group("u").lower()]
        yield Dose(value=round(amount * factor, 6), unit=unit, text=_clean(match.group(0))), match.span()


def parse_dose(*, text: str) -> Dose | None:
    """Read an amount per administration: ``1 tab``, ``2 caps``, ``5 ml``, ``10 units``, ``1 puff``, ``1/2 tab``.

    Fractions (``half tablet``, ``½ tab``, ``1½ tabs``) and number words (``two tablets``) are read; a teaspoon is
    5 mL and a tablespoon 15 mL; a mass is accepted in a dose fragment (``1000 mg``).

    Args:
        text: A dose fragment, or any text containing one (the first one is read).

    Returns:
        The dose, or None when the text holds none.
    """
    found = next(_find_dose(text, pattern=_DOSE_ANY_RE), None)
    return found[0] if found else None


# ------------------------------------------------------------------------------------------------ form, route
def _find_form(masked: str, lex: _Lexicon) -> tuple[str, Span] | None:
    match = lex.form_re.search(masked)
    if match is None:
        return None
    return lex.form_words[match.group(0).rstrip(".").lower()], match.span()


def parse_form(*, text: str, sig_path: SigPath = None) -> str | None:
    """Read a dose form: ``Tab.``, ``Cap``, ``Syp.``, ``Inj``, ``Oint``, ``Gtt``, ``drops``, ``tablet``, ...

    Args:
        text: A form fragment or any text containing one (the first one is read).
        sig_path: SIG table to use instead of the default.

    Returns:
        A form word of docs/conventions.md (``tablet``, ``syrup``, ``drops``, ...), or None.
    """
    found = _find_form(text, _lexicon(sig_path))
    return found[0] if found else None


_EYE_TERMS = re.compile(r"(?<![A-Za-z])(?:eyes?|ophthalmic|e/d)(?![A-Za-z])", re.IGNORECASE)
# For OD: an OS/OU elsewhere on the line also makes it about the eyes (upper case only; "per os" is by mouth).
_EYE_WORDS = re.compile(rf"(?i:{_EYE_TERMS.pattern})|(?<![Pp][Ee][Rr]\s)(?<![A-Za-z0-9])O[SU](?![A-Za-z0-9])")
_EAR_WORDS = re.compile(r"(?<![A-Za-z])(?:ears?|otic)(?![A-Za-z])", re.IGNORECASE)
_ORGAN_FORMS = {"drops", "ointment"}
_OD_RE = re.compile(r"(?<![A-Za-z0-9])[O0]\.?D(?![A-Za-z0-9])\.?", re.IGNORECASE)
_SIDE = r"(?:(?:in|into)\s+)?(?:(?:the|both|each|right|left)\s+)?"
_ROUTE_WORDS: tuple[tuple[str, str], ...] = (
    ("oral", r"oral(?:ly)?|by\s+mouth|per\s+oral|per\s+os|p/o"),
    ("sublingual", r"sublingual(?:ly)?|under\s+the\s+tongue|s/l"),
    ("ophthalmic", rf"ophthalmic|e/d|{_SIDE}eyes?"),
    ("otic", rf"otic|{_SIDE}ears?"),
    ("nasal", rf"(?:intra)?nasal(?:ly)?|{_SIDE}nostrils?"),
    ("inhalation", r"inhal(?:ation|ed|e)|(?:via\s+)?nebuli[sz](?:ation|er|e|ed)"),
    ("subcutaneous", r"subcutaneous(?:ly)?|sub-?cut|s/c|subq"),
    ("intramuscular", r"intramuscular(?:ly)?|i/m"),
    ("intravenous", r"intravenous(?:ly)?|i/v"),
    ("rectal", r"rectal(?:ly)?|per\s+rectum"),
    ("vaginal", r"(?:intra)?vaginal(?:ly)?|per\s+vaginum|p/v"),
    ("transdermal", r"transdermal(?:ly)?"),
    ("topical", r"topical(?:ly)?|(?:apply\s+)?local(?:ly)?|l/a|external(?:ly)?|for\s+external\s+use"),
)
_ROUTE_WORD_RES = tuple(
    (route, re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])", re.IGNORECASE)) for route, words in _ROUTE_WORDS
)


def _organ_context(text: str, form: str | None) -> bool:
    """Whether eye/ear abbreviations (OS, OU, AS, AD, AU) should be read as routes here."""
    return form in _ORGAN_FORMS or bool(_EYE_TERMS.search(text) or _EAR_WORDS.search(text))


def _route_matches(masked: str, lex: _Lexicon, *, organs: bool) -> Iterator[tuple[str, Span]]:
    for match in lex.route_abbrev.finditer(masked):
        entry = _entry(lex, match.group(0))
        if entry is not None:
            yield lex.route_of_abbrev[entry.abbrev], match.span()
    if organs:
        for match in lex.organ_abbrev.finditer(masked):
            yield lex.route_of_abbrev[match.group(0)], match.span()
    for route, pattern in _ROUTE_WORD_RES:
        for match in pattern.finditer(masked):
            yield route, match.span()


def _find_route(masked: str, lex: _Lexicon, *, form: str | None, context: str) -> tuple[str, list[Span]] | None:
    """The first route in the text and the spans of every route word that agrees with it."""
    found = sorted(_route_matches(masked, lex, organs=_organ_context(context, form)), key=lambda item: item[1])
    if not found:
        return None
    route = found[0][0]
    return route, [span for name, span in found if name == route]


def parse_route(*, text: str, form: str | None = None, sig_path: SigPath = None) -> str | None:
    """Read a route: ``PO``, ``by mouth``, ``SL``, ``topical``, ``IV``, ``in both eyes``, ...

    ``OD`` alone is the once-daily frequency, not a route; it is read as the right eye (``ophthalmic``) only in an
    eye context: an eye word in the text, or a drops/ointment ``form``. OS/OU/AS/AD/AU need the same context.

    Args:
        text: A route fragment or any text containing one (the first one is read).
        form: The dose form of the medication, when known (context for eye/ear abbreviations).
        sig_path: SIG table to use instead of the default.

    Returns:
        A route word of docs/conventions.md, or None.
    """
    found = _find_route(text, _lexicon(sig_path), form=form, context=text)
    if found:
        return found[0]
    if _OD_RE.search(text) and (form in _ORGAN_FORMS or _EYE_TERMS.search(text)):
        return "ophthalmic"
    return None


def default_route(*, form: str | None) -> str | None:
    """The route a form implies when none is printed, only where unambiguous (see :data:`DEFAULT_ROUTES`).

    Args:
        form: A form word.

    Returns:
        ``oral`` for tablet, capsule and syrup; None otherwise.
    """
    return DEFAULT_ROUTES.get(form or "")


# -------------------------------------------------------------------------------------------------- frequency
_FreqKind = Literal["pattern", "schedule", "time_of_day", "as_needed", "max", "unreadable"]
_PRIORITY: dict[str, int] = {"pattern": 0, "schedule": 1, "time_of_day": 2}
#: Administrations per day → the SIG abbreviation whose row gives its timing code.
_DAILY_COUNT_ABBREV = {1: "QD", 2: "BID", 3: "TID", 4: "QID"}
_TIME_OF_DAY_MEANING = re.compile(r"morning|evening|afternoon|bedtime|night")


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    text: str
    kind: _FreqKind
    per_day: float | None = None
    timing_code: str | None = None
    dose_amount: float | None = None
    is_od: bool = False
    is_suffix_like: bool = False


_SLOT = r"(?:\d\s*[½¼¾]|[½¼¾]|[13]/[24]|\d(?:\.\d{1,2})?|[OoIl|])"
_PATTERN_RE = re.compile(
    rf"(?<![\w./\-]){_SLOT}(?:\s*[-–—]\s*{_SLOT}){{2,3}}(?![\d/\-])(?!(?![xX])[A-Za-z])",
)
_COUNT = r"once|twice|thrice|\d{1,2}|one|two|three|four|five|six"
_COUNT_VALUES = {"once": 1, "twice": 2, "thrice": 3} | {k: v for k, v in _NUMBER_WORDS.items() if v <= 6}
_COUNT_RE = re.compile(
    rf"(?<![A-Za-z0-9])(?P<n>{_COUNT})\s*(?P<c>x|times?)?\s*(?P<sep>an?\s|per\s|/|in\s+a\s|each\s|every\s)?\s*"
    r"(?P<p>days?|daily|d|weeks?|weekly|wk|months?|monthly)(?![A-Za-z])\.?",
    re.IGNORECASE,
)
_INTERVAL_RE = re.compile(
    r"(?<![A-Za-z])(?:every|each|q)\s*\.?\s*(?P<n>\d{1,2}|one|two|three|four|six|eight|twelve)?"
    r"(?:\s*(?:-|–|to)\s*(?P<n2>\d{1,2}))?\s*(?P<u>hours?|hrs?|h|hourly|days?|d|weeks?|wks?|w)(?![A-Za-z])\.?"
    r"|(?<![\w.])(?P<hn>\d{1,2})(?:\s*(?:-|–|to)\s*(?P<hn2>\d{1,2}))?\s*-?\s*(?:hourly|hrly|hly)(?![A-Za-z])",
    re.IGNORECASE,
)
_WORD_SCHEDULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (abbrev, re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])", re.IGNORECASE))
    for abbrev, words in (
        ("QOD", r"(?:on\s+)?(?:every\s+other|alternate|alt\.?)\s+days?"),
        ("QD", r"every\s*day|each\s+day"),
        ("QW", r"weekly"),
        ("MO", r"monthly"),
    )
)
_TIME_OF_DAY_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (abbrev, re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])", re.IGNORECASE))
    for abbrev, words in (
        ("QAM", r"(?:(?:in\s+the|every|each)\s+)?morning|mane"),
        ("QPM", r"(?:(?:in\s+the|every|each)\s+)?evening"),
        ("QHS", r"(?:at\s+)?bed\s*time|before\s+(?:bed|sleep)|(?:(?:at|every|each)\s+)?night|nocte"),
    )
)
_AS_NEEDED_RE = re.compile(
    r"(?<![A-Za-z])(?:as\s+(?:and\s+when\s+)?(?:needed|required|necessary)|(?:when|if)\s+(?:needed|required|necessary)"
    r"|on\s+demand|on\s+need\s+basis)(?![A-Za-z])",
    re.IGNORECASE,
)
#: "times daily" whose count was not read ("Hwee times daily" from OCR): how often is unknown, not once a day.
_UNCOUNTED_RE = re.compile(r"(?<![A-Za-z])times?\s*(?:an?\s+|per\s+|/\s*)?(?:day|daily)(?![A-Za-z])", re.IGNORECASE)
_MAX_RE = re.compile(
    rf"(?<![A-Za-z])(?:max(?:imum)?\.?|not\s+more\s+than|no\s+more\s+than|up\s*to)\s*:?\s*(?P<n>{_COUNT})\s*"
    r"(?:times?|x|doses?|tabs?|tablets?|caps?|capsules?)?\s*(?:/|a|per|in)\s*(?:a\s+)?(?:day|24\s*h(?:ours?|rs?)?)"
    r"(?![A-Za-z])",
    re.IGNORECASE,
)


def _count_value(text: str) -> int | None:
    key = text.lower()
    return int(key) if key.isdigit() else _COUNT_VALUES.get(key)


def _scheduled(lex: _Lexicon, abbrev: str, per_day: float | None) -> tuple[float | None, str | None]:
    """``per_day`` and timing code from the SIG row of ``abbrev``; the given figure and no code without a row."""
    entry = lex.table.lookup(abbrev=abbrev)
    if entry is None:
        return per_day, None
    return (entry.per_day if entry.per_day is not None else per_day), entry.fhir_timing_code


def _daily_count(lex: _Lexicon, count: float) -> tuple[float | None, str | None]:
    abbrev = _DAILY_COUNT_ABBREV.get(int(count)) if count == int(count) else None
    return (count, None) if abbrev is None else (count, _scheduled(lex, abbrev, count)[1])


def _slot_value(slot: str) -> float | None:
    slot = re.sub(r"\s", "", slot).translate(OCR_DIGITS)
    return _amount(slot)


def _pattern_hit(match: re.Match[str], lex: _Lexicon) -> _Hit | None:
    slots = re.split(r"\s*[-–—]\s*", match.group(0).strip())
    if not re.search(r"[\d½¼¾]", match.group(0)):
        return None
    values = [_slot_value(slot) for slot in slots]
    given = [v for v in values if v]
    if None in values or not given:
        return None
    per_day, code = _daily_count(lex, float(len(given)))
    amount = given[0] if len(set(given)) == 1 else None
    return _Hit(*match.span(), match.group(0), "pattern", per_day, code, dose_amount=amount)


def _interval_hit(match: re.Match[str], lex: _Lexicon) -> _Hit | None:
    number = match.group("n") or match.group("hn") or "1"
    second = match.group("n2") or match.group("hn2")
    count = _count_value(number) or {"eight": 8, "twelve": 12}.get(number.lower())
    if not count:
        return None
    unit = (match.group("u") or "h")[0].lower()
    exact = second is None
    if unit == "h":
        per_day, abbrev = 24 / count, f"Q{count}H"
    elif unit == "d":
        per_day, abbrev = 1 / count, {1: "QD", 2: "QOD"}.get(count, "")
    else:
        per_day, abbrev = 1 / (7 * count), "QW" if count == 1 else ""
    figure, code = _scheduled(lex, abbrev, per_day) if exact and abbrev else (per_day, None)
    return _Hit(*match.span(), _clean(match.group(0)), "schedule", figure, code)


def _count_hit(match: re.Match[str], lex: _Lexicon) -> _Hit | None:
    word = match.group("n").lower()
    if not (word in {"once", "twice", "thrice"} or match.group("c") or match.group("sep")):
        return None  # "5 days" is a duration
    count = _count_value(word)
    if not count:
        return None
    period = match.group("p").lower()[0]
    if period == "d":
        per_day, code = _daily_count(lex, float(count))
    elif period == "w":
        per_day, code = _scheduled(lex, "QW", 1 / 7) if count == 1 else (count / 7, None)
    else:
        per_day, code = _scheduled(lex, "MO", 1 / 30) if count == 1 else (count / 30, None)
    return _Hit(*match.span(), _clean(match.group(0)), "schedule", per_day, code)


def _abbrev_hit(match: re.Match[str], lex: _Lexicon) -> _Hit | None:
    entry = _entry(lex, match.group(0))
    if entry is None:
        return None
    kind: _FreqKind = "time_of_day" if _TIME_OF_DAY_MEANING.search(entry.meaning) else "schedule"
    return _Hit(
        *match.span(),
        _clean(match.group(0)),
        kind,
        entry.per_day,
        entry.fhir_timing_code,
        is_od=entry.abbrev == "OD",
        is_suffix_like=entry.abbrev in {"AM", "PM"},
    )


_WORD_KINDS: tuple[tuple[_FreqKind, tuple[tuple[str, re.Pattern[str]], ...]], ...] = (
    ("schedule", _WORD_SCHEDULES),
    ("time_of_day", _TIME_OF_DAY_WORDS),
)


def _word_hits(masked: str, lex: _Lexicon) -> Iterator[_Hit]:
    for kind, table in _WORD_KINDS:
        for abbrev, pattern in table:
            for match in pattern.finditer(masked):
                per_day, code = _scheduled(lex, abbrev, None)
                if per_day is not None:
                    yield _Hit(*match.span(), _clean(match.group(0)), kind, per_day, code)


def _max_hit(match: re.Match[str], lex: _Lexicon) -> _Hit | None:
    count = _count_value(match.group("n"))
    return _Hit(*match.span(), _clean(match.group(0)), "max", float(count)) if count else None


def _as_needed_hit(match: re.Match[str], lex: _Lexicon) -> _Hit | None:
    return _Hit(*match.span(), _clean(match.group(0)), "as_needed")


def _unreadable_hit(match: re.Match[str], lex: _Lexicon) -> _Hit | None:
    return _Hit(*match.span(), _clean(match.group(0)), "unreadable")


_HitMaker = Callable[[re.Match[str], _Lexicon], _Hit | None]
# Order matters: each finder blanks its spans for the next ("up to 3 times a day" is a maximum, not TID).
_FINDERS: tuple[tuple[Callable[[_Lexicon], re.Pattern[str]], _HitMaker], ...] = (
    (lambda lex: _MAX_RE, _max_hit),
    (lambda lex: _PATTERN_RE, _pattern_hit),
    (lambda lex: _INTERVAL_RE, _interval_hit),
    (lambda lex: _COUNT_RE, _count_hit),
    (lambda lex: _UNCOUNTED_RE, _unreadable_hit),
    (lambda lex: _AS_NEEDED_RE, _as_needed_hit),
    (lambda lex: lex.as_needed_abbrev, _as_needed_hit),
    (lambda lex: lex.frequency_abbrev, _abbrev_hit),
)


def _frequency_hits(masked: str, lex: _Lexicon) -> list[_Hit]:
    line = _Line(masked)
    hits: list[_Hit] = []
    for pattern_of, make in _FINDERS:
        for match in pattern_of(lex).finditer(line.masked):
            hit = make(match, lex)
            if hit is not None:
                hits.append(hit)
                line.take(hit.start, hit.end)
    hits.extend(_word_hits(line.masked, lex))
    return sorted((hit for hit in hits if hit.kind != "unreadable"), key=lambda hit: hit.start)


def _without_brand_suffixes(hits: list[_Hit]) -> list[_Hit]:
    """Drop an AM/PM that comes before another schedule: "Tab. Telma AM 40 mg 1-0-0" names a brand."""
    first_other = next((hit.start for hit in hits if hit.kind in {"pattern", "schedule"}), None)
    if first_other is None:
        return hits
    return [hit for hit in hits if not (hit.is_suffix_like and hit.start < first_other)]


def _od_is_eye(hits: list[_Hit], text: str, form: str | None) -> bool:
    """The OD rule of the module docstring: right eye in an eye context, else once daily."""
    if not any(hit.is_od for hit in hits):
        return False
    others = any(hit.kind in _PRIORITY and not hit.is_od for hit in hits)
    return bool(_EYE_WORDS.search(text)) or (form in _ORGAN_FORMS and others)


def _combine(hits: list[_Hit]) -> Frequency | None:
    if not hits:
        return None
    scheduled = [hit for hit in hits if hit.kind in _PRIORITY]
    as_needed = any(hit.kind in {"as_needed", "max"} for hit in hits)
    text = " ".join(hit.text for hit in hits)
    if scheduled:
        best = min(scheduled, key=lambda hit: (_PRIORITY[hit.kind], hit.start))
        return Frequency(text=text, per_day=best.per_day, timing_code=best.timing_code, as_needed=as_needed)
    ceiling = next((hit.per_day for hit in hits if hit.kind == "max"), None)
    return Frequency(text=text, per_day=ceiling, timing_code=None, as_needed=True)


@dataclass(frozen=True, slots=True)
class _FrequencyFound:
    frequency: Frequency | None
    spans: tuple[Span, ...]
    od_eye: Span | None
    dose_amount: float | None


def _find_frequency(masked: str, lex: _Lexicon, *, form: str | None, context: str) -> _FrequencyFound:
    hits = _without_brand_suffixes(_frequency_hits(masked, lex))
    od_eye = None
    if _od_is_eye(hits, context, form):
        od_eye = next((hit.start, hit.end) for hit in hits if hit.is_od)
        hits = [hit for hit in hits if not hit.is_od]
    pattern = next((hit for hit in hits if hit.kind == "pattern"), None)
    return _FrequencyFound(
        frequency=_combine(hits),
        spans=tuple((hit.start, hit.end) for hit in hits),
        od_eye=od_eye,
        dose_amount=pattern.dose_amount if pattern else None,
    )


def parse_frequency(*, text: str, form: str | None = None, sig_path: SigPath = None) -> Frequency | None:
    """Read how often: SIG abbreviations, words, intervals, Indian patterns and as-needed markers.

    Examples: ``BD`` → 2/day ``BID``; ``Q8H`` → 3/day; ``QOD`` → 0.5; ``QW`` → 1/7; ``every 8 hours``;
    ``twice a day``; ``at bedtime``; ``1-0-1`` → 2/day; ``½-0-½``; ``SOS`` → as needed, per_day null;
    ``SOS max 3/day`` → as needed, per_day 3. Per-day figures and codes come from the SIG table; see the module
    docstring for the rules on ``OD``, patterns and several expressions.

    Args:
        text: A frequency fragment or a longer text.
        form: The dose form, when known (a drops/ointment form makes ``OD`` the right eye next to another
            frequency).
        sig_path: SIG table to use instead of the default.

    Returns:
        The frequency, or None when the text holds none.
    """
    return _find_frequency(text, _lexicon(sig_path), form=form, context=text).frequency


# --------------------------------------------------------------------------------------------------- duration
_DURATION_UNITS: dict[str, DurationUnit] = {"d": "d", "w": "wk", "m": "mo"}
_DURATION_RE = re.compile(
    rf"(?:(?:(?<![A-Za-z])(?:x|×|\*)\s*|(?<![A-Za-z])for\s+(?:(?:the\s+)?next\s+)?)(?P<a>an?\s)?"
    # "every 2 days" is a frequency.
    rf"|(?<![\w.,])(?<!every\s)(?<!each\s))"
    rf"(?P<n>{_NUM_CORE}|{_WORDS})?\s*"
    r"(?P<u>days?|dys?|d|weeks?|wks?|wk|months?|mths?|mnths?|mos?)(?![A-Za-z])\.?",
    re.IGNORECASE,
)
_UK_DURATION_RE = re.compile(
    r"(?:(?<![A-Za-z])(?:x|×)\s*|(?<![A-Za-z])for\s+)?(?<![\d/.])(?P<n>\d{1,2})\s*/\s*(?P<d>7|52|12)(?![\d/])"
    r"(?!\s*(?:tabs?|caps?|ml|mg)\b)",
    re.IGNORECASE,
)
_UK_UNITS: dict[str, DurationUnit] = {"7": "d", "52": "wk", "12": "mo"}
_OPEN_ENDED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])", re.IGNORECASE))
    for reason, words in (
        (
            "until review",
            r"(?:till|until|til|up\s*to)\s+(?:the\s+)?(?:next\s+)?(?:review|visit|follow[\s-]?up|consultation)",
        ),
        ("until further advice", r"(?:till|until)\s+further\s+(?:advice|orders?|notice)"),
        ("continued without an end date", r"(?:to\s+)?continue|cont\.|long[\s-]term|life[\s-]?long|indefinitely"),
    )
)


def _find_duration(masked: str) -> tuple[Duration, Span] | None:
    for match in _DURATION_RE.finditer(masked):
        number = match.group("n")
        value = _amount(number) if number else (1.0 if match.group("a") else None)
        if value and value > 0:
            unit = _DURATION_UNITS[match.group("u")[0].lower()]
            return Duration(value=value, unit=unit, text=_clean(match.group(0))), match.span()
    uk = _UK_DURATION_RE.search(masked)
    if uk and int(uk.group("n")) > 0:
        duration = Duration(value=float(uk.group("n")), unit=_UK_UNITS[uk.group("d")], text=_clean(uk.group(0)))
        return duration, uk.span()
    return None


def _find_open_ended(masked: str) -> tuple[OpenEndedDuration, Span] | None:
    for reason, pattern in _OPEN_ENDED:
        match = pattern.search(masked)
        if match:
            return OpenEndedDuration(text=_clean(match.group(0)), reason=reason), match.span()
    return None


def parse_duration(*, text: str) -> Duration | OpenEndedDuration | None:
    """Read how long: ``x 5 days``, ``for 2 weeks``, ``x 1 month``, ``5/7`` (5 days, UK), ``2/52``, ``x5days``.

    Args:
        text: A duration fragment or a longer text.

    Returns:
        A :class:`Duration` (unit ``d``, ``wk`` or ``mo``); an :class:`OpenEndedDuration` with the reason for
        "till review", "until next visit", "continue", "long term" and the like; None when there is neither.
    """
    found = _find_duration(text) or _find_open_ended(text)
    return found[0] if found else None


# ------------------------------------------------------------------------------------------ quantity, refills
_PACK = r"tabs?|tablets?|caps?|capsules?|units?|ml|bottles?|strips?|packs?|inhalers?|tubes?"
#: OCR's usual reading of a lone "1" after "Qty:" ("Qty: | - Refills: 0"); not when a number follows ("Qty | 30",
#: where it separates).
_LONE_ONE_CHARS = "|]"
_LONE_ONE = rf"[{re.escape(_LONE_ONE_CHARS)}](?![\w{re.escape(_LONE_ONE_CHARS)}]|\s*[\d#])"
_QUANTITY_RES = (
    re.compile(
        rf"(?<![A-Za-z])(?:disp(?:ense)?|qty|quantity)\.?\s*[:=\-]?\s*(?:#|no\.?)?\s*"
        rf"(?P<n>{_NUM_CORE}|{_LONE_ONE}|{_WORDS})(?:\s*\(\s*(?P<w>{_WORDS}|{_NUM_CORE})\s*\))?(?:\s*(?:{_PACK})(?![A-Za-z]))?",
        re.IGNORECASE,
    ),
    re.compile(rf"(?<![\w#])#\s*(?P<n>{_NUM_CORE})(?:\s*\(\s*(?P<w>{_WORDS})\s*\))?", re.IGNORECASE),
    re.compile(rf"\(\s*(?P<n>{_WORDS})\s*\)", re.IGNORECASE),
)
_COUNTED_RE = re.compile(rf"(?P<n>{_NUM})\s*(?:tabs|tablets|caps|capsules)(?![A-Za-z])", re.IGNORECASE)
_REFILLS_RE = re.compile(
    rf"(?<![A-Za-z])(?:refills?|rf|repeats?)\.?\s*[:=#\-]?\s*(?:x\s*)?(?P<n>{_NUM_CORE}|{_WORDS}|none|nil|no)"
    rf"(?![A-Za-z0-9])|(?<![A-Za-z])(?P<m>{_NUM_CORE}|{_WORDS}|no)\s+(?:refills?|repeats?)(?![A-Za-z])"
    r"|(?<![A-Za-z])(?-i:NR)(?![A-Za-z])",
    re.IGNORECASE,
)


def _quantity_value(match: re.Match[str], line: _Line) -> float | None:
    figure = match.group("n")
    value = 1.0 if len(figure) == 1 and figure in _LONE_ONE_CHARS else _amount(figure)
    words = match.groupdict().get("w")
    spelled = _amount(words) if words else None
    if value is not None and spelled is not None and spelled != value:
        line.notes.append(f"quantity {value:g} and spelled-out {spelled:g} disagree; the figure is used")
    return value


def _find_quantity(line: _Line) -> float | None:
    for pattern in _QUANTITY_RES:
        match = pattern.search(line.masked)
        value = _quantity_value(match, line) if match else None
        if match and value is not None and value > 0:
            line.take(*match.span())
            return value
    return None


def parse_quantity(*, text: str) -> float | None:
    """Read the number of units to dispense: ``Disp #30``, ``Qty: 30``, ``#30``, ``30 tabs``, ``(Thirty)``.

    Args:
        text: A quantity fragment or a longer text.

    Returns:
        The quantity, or None.
    """
    found = _find_quantity(_Line(text))
    if found is not None:
        return found
    counted = _COUNTED_RE.search(text)
    return parse_number(counted.group("n")) if counted else None


def _refills_value(match: re.Match[str]) -> int | None:
    word = (match.group("n") or match.group("m") or "0").lower()
    if word in {"none", "nil", "no"}:
        return 0
    value = _amount(word)
    return int(value) if value is not None and value == int(value) else None


def _find_refills(line: _Line) -> int | None:
    match = _REFILLS_RE.search(line.masked)
    value = _refills_value(match) if match else None
    if match and value is not None:
        line.take(*match.span())
    return value


def parse_refills(*, text: str) -> int | None:
    """Read the number of refills: ``Refills 2``, ``Refills: 0``, ``RF x2``, ``2 refills``, ``No refills``, ``NR``.

    Args:
        text: A refills fragment or a longer text.

    Returns:
        The number of refills, or None.
    """
    return _find_refills(_Line(text))


# ------------------------------------------------------------------------------------------------ instruction
_INSTRUCTION_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (abbrev, re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])", re.IGNORECASE))
    for abbrev, words in (
        ("AC", r"(?:before|bef\.?)\s+(?:food|meals?|breakfast|lunch|dinner|eating)|(?:on\s+)?(?:an\s+)?empty\s+stomach"
         r"|b/f|a/c"),
        ("PC", r"(?:after|aft\.?)\s+(?:food|meals?|breakfast|lunch|dinner|eating)|a/f|p/c"),
        ("CC", r"with\s+(?:food|meals?|breakfast|lunch|dinner)"),
        ("HS", r"(?:at\s+)?bed\s*time|before\s+(?:bed|sleep)"),
        ("QHS", r"(?:at|every)\s+night|nocte"),
        ("QAM", r"(?:in\s+the|every)\s+morning"),
        ("QPM", r"(?:in\s+the|every)\s+evening"),
        ("STAT", r"immediately|at\s+once"),
    )
)  # fmt: skip


def _instruction_matches(masked: str, lex: _Lexicon) -> Iterator[tuple[SigEntry, re.Match[str]]]:
    for match in lex.timing_abbrev.finditer(masked):
        if not re.search(r"\d\s*$", masked[: match.start()]):  # "5 cc" is a volume
            entry = _entry(lex, match.group(0))
            if entry is not None:
                yield entry, match
    for abbrev, pattern in _INSTRUCTION_WORDS:
        entry = lex.table.lookup(abbrev=abbrev)
        if entry is None:
            continue
        for match in pattern.finditer(masked):
            yield entry, match
    for match in lex.frequency_abbrev.finditer(masked):
        entry = _entry(lex, match.group(0))
        if entry is not None and entry.abbrev in {"HS", "QHS"}:
            yield entry, match


def _find_instruction(masked: str, lex: _Lexicon) -> tuple[Instruction, Span] | None:
    found = sorted(_instruction_matches(masked, lex), key=lambda item: item[1].start())
    if not found:
        return None
    entry, match = found[0]
    instruction = Instruction(text=_clean(match.group(0)), instruction=entry.meaning, when=entry.fhir_timing_code)
    return instruction, match.span()


def parse_instruction(*, text: str, sig_path: SigPath = None) -> Instruction | None:
    """Read a meal or sleep instruction: ``after food``, ``before food``, ``with meals``, ``at bedtime``, ``AC``.

    The instruction word is the SIG table's meaning of the matching abbreviation (AC "before meals", PC "after
    meals", CC "with meals", HS "at bedtime", STAT "immediately"); "empty stomach" counts as before meals. ``when``
    is that row's FHIR Timing code, null where the table gives none (it gives none for AC, PC, CC).

    Args:
        text: An instruction fragment or a longer text (the first instruction is read).
        sig_path: SIG table to use instead of the default.

    Returns:
        The instruction, or None.
    """
    found = _find_instruction(text, _lexicon(sig_path))
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------- the whole line
_DROP_WORDS = {
    "sig", "rx", "℞", "take", "apply", "use", "give", "instil", "instill", "inject", "disp", "dispense", "qty",
    "quantity", "refills", "refill",
}  # fmt: skip
_EDGE_WORDS = {
    "x", "for", "then", "of", "per", "and", "with", "&", "+", "-", "to", "in", "at", "the", "a", "on", "by", "as",
    "directed", "/",
}  # fmt: skip
_COUNTED_FORMS = {"tablet": "tablet", "capsule": "capsule", "drops": "drop"}


_SYMPTOMS = (
    r"pain|fever|nausea|vomiting|headache|cough|itching|anxiety|insomnia|sleeplessness|constipation|acidity"
    r"|breathlessness|wheez(?:e|ing)|dizziness|loose\s+motions?|diarrh(?:o)?ea|spasms?|cramps?|allergy"
)
_INDICATION_RE = re.compile(
    rf"(?<![A-Za-z])(?:(?P<prefix>for|if|in\s*case\s+of|when|during)\s+)?(?:{_SYMPTOMS})(?![A-Za-z])", re.IGNORECASE
)


def _take_indication(line: _Line, frequency: Frequency | None) -> None:
    """ "SOS for fever", "prn nausea": the reason for use is not part of the drug name (kept as a note)."""
    for match in _INDICATION_RE.finditer(line.masked):
        if match.group("prefix") or (frequency is not None and frequency.as_needed):
            line.take(*match.span())
            line.notes.append(f"indication: {_clean(match.group(0))}")


def _drug_words(masked: str) -> str:
    tokens = [token.strip(".,;:()[]{}#*\"'") for token in masked.split()]
    tokens = [token for token in tokens if token and token.lower() not in _DROP_WORDS]
    if tokens and re.fullmatch(r"\d{1,2}[.)\]]?", tokens[0]) and len(tokens) > 1:
        tokens = tokens[1:]  # serial number of the line
    while tokens and tokens[0].lower() in _EDGE_WORDS:
        tokens = tokens[1:]
    while tokens and tokens[-1].lower() in _EDGE_WORDS:
        tokens = tokens[:-1]
    return " ".join(tokens).strip(" -")


def _take_duration(line: _Line) -> Duration | None:
    found = _find_duration(line.masked)
    if found:
        line.take(*found[1])
        return found[0]
    open_ended = _find_open_ended(line.masked)
    if open_ended:
        line.take(*open_ended[1])
        line.notes.append(f"no duration: {open_ended[0].text} ({open_ended[0].reason})")
    return None


def _take_strength(line: _Line) -> Strength | None:
    found = list(_find_strength(line.masked))
    for strength, span in found:
        line.take(*span)
        if strength is not found[0][0]:
            line.notes.append(f"further strength not represented: {strength.text}")
    return found[0][0] if found else None


def _take_doses(line: _Line) -> tuple[Dose | None, float | None]:
    """The first counted amount is the dose; a later count of tablets/capsules is the quantity."""
    found = list(_find_dose(line.masked))
    if not found:
        return None, None
    line.take(*found[0][1])
    later = next(((d, s) for d, s in found[1:] if d.unit in {"tablet", "capsule"}), None)
    if later:
        line.take(*later[1])
    return found[0][0], later[0].value if later else None


def _take_frequency(line: _Line, lex: _Lexicon, form: str | None) -> _FrequencyFound:
    found = _find_frequency(line.masked, lex, form=form, context=line.text)
    for span in found.spans:
        line.take(*span)
    if found.od_eye:
        line.notes.append("OD read as right eye (ophthalmic context), not once daily")
    return found


def _take_route(line: _Line, lex: _Lexicon, *, masked: str, form: str | None, od_eye: Span | None) -> str | None:
    found = _find_route(masked, lex, form=form, context=line.text)
    if od_eye:
        line.take(*od_eye)
    if found:
        for span in found[1]:
            line.take(*span)
        return found[0]
    return "ophthalmic" if od_eye else None


def _take_form(line: _Line, lex: _Lexicon, *, masked: str) -> str | None:
    found = _find_form(masked, lex)
    if found is None:
        return None
    for match in lex.form_re.finditer(masked):  # "cap ... 1 cap": every mention of the form goes
        if lex.form_words[match.group(0).rstrip(".").lower()] == found[0]:
            line.take(*match.span())
    return found[0]


def _bare_count_dose(line: _Line, found: _FrequencyFound, form: str | None) -> Dose | None:
    """ "1 BD" on a tablet line: a small bare number just before the frequency is the dose."""
    unit = _COUNTED_FORMS.get(form or "")
    if not found.spans or unit is None:
        return None
    before = line.masked[: found.spans[0][0]]
    match = re.search(rf"(?P<n>{_AMOUNT})\s*$", before)
    value = _amount(match.group("n")) if match else None
    if match is None or value is None or not 0 < value <= 4:
        return None
    line.take(*match.span())
    return Dose(value=value, unit=unit, text=_clean(match.group(0)))


def _pattern_dose(found: _FrequencyFound, form: str | None) -> Dose | None:
    unit = _COUNTED_FORMS.get(form or "")
    if found.dose_amount is None or unit is None:
        return None
    return Dose(value=found.dose_amount, unit=unit, text=found.frequency.text if found.frequency else "")


def _form_from_dose(dose: Dose | None, line: _Line) -> str | None:
    form = {"tablet": "tablet", "capsule": "capsule", "drop": "drops"}.get(dose.unit if dose else "")
    if form:
        line.notes.append(f"form {form} read from the dose unit")
    return form


def _route_or_default(route: str | None, form: str | None, line: _Line) -> str | None:
    if route is not None:
        return route
    implied = default_route(form=form)
    if implied:
        line.notes.append(f"route {implied} implied by form {form}")
    return implied


def parse_medication_line(*, text: str, sig_path: SigPath = None) -> MedicationFields:
    """Parse a whole medication line when no tagged fragments are available.

    Examples: ``Tab. Metformin 500 mg 1-0-1 x 30 days``; ``Cap. Omeprazole 20mg OD before food x 14 days``;
    ``Lisinopril 10 mg tablet, Sig: 1 tab PO daily, Disp #30, Refills 2``. OCR noise such as ``500mg``,
    ``1-0-l``, ``0D`` and trailing punctuation is tolerated.

    Args:
        text: The raw line.
        sig_path: SIG table to use instead of the default.

    Returns:
        The fields; ``drug_text`` is what is left when all recognised parts are removed.
    """
    lex, line = _lexicon(sig_path), _Line(text)
    early_form = _find_form(text, lex)
    refills = _find_refills(line)
    quantity = _find_quantity(line)
    duration = _take_duration(line)
    strength = _take_strength(line)
    dose, counted = _take_doses(line)
    before_frequency = line.masked
    found = _take_frequency(line, lex, early_form[0] if early_form else None)
    # Route and form read the same text: "Inh." is both the inhaler form and the inhalation route.
    masked = line.masked
    route = _take_route(line, lex, masked=masked, form=early_form[0] if early_form else None, od_eye=found.od_eye)
    form = _take_form(line, lex, masked=masked) or _form_from_dose(dose, line)
    dose = dose or _bare_count_dose(line, found, form) or _pattern_dose(found, form)
    instruction = _find_instruction(before_frequency, lex)
    if instruction:
        line.take(*instruction[1])
    _take_indication(line, found.frequency)
    return MedicationFields(
        text=text,
        drug_text=_drug_words(line.masked),
        strength=strength,
        form=form,
        route=_route_or_default(route, form, line),
        dose=dose,
        frequency=found.frequency,
        duration=duration,
        quantity=quantity if quantity is not None else counted,
        refills=refills,
        instruction=instruction[0] if instruction else None,
        notes=tuple(line.notes),
    )
