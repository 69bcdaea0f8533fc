"""Parsing of lab-report values: result, unit (to UCUM), reference range, flag, and analyte-aware unit conversion.

Values follow docs/conventions.md: ``value`` is a number or null, ``value_text`` is what was printed, a unit is
``{text, ucum}``, a range ``{low, high, text}`` with one bound null when one-sided, a flag ``H``/``L``/``N``.

Decisions:

* A censored result (``<0.5``, ``>1000``) is not a number: ``value`` is null and the comparator and the limit are
  kept in :attr:`LabValue.comparator` / :attr:`LabValue.limit` (the contract has no comparator field, and 0.5 in
  ``value`` would claim an exact result).
* A unit is mapped to UCUM by a table of printed forms and a per-part mapping, then validated with ucumvert's UCUM
  grammar; anything not recognised, or not valid UCUM, gets ``ucum`` null rather than a guess.
* Range bounds are inclusive: a value equal to a bound is ``N``. A range with sex-specific parts and no sex given
  has both bounds null (the text is kept). Among labelled parts ("Desirable: <200 Borderline: 200-239") the one
  labelled normal/desirable/optimal/reference/adult is used; other labelled lists have null bounds.
* :func:`convert` converts only what is valid for the analyte: same kind of quantity (mass/volume to mass/volume,
  10*3/uL to 10*9/L, U/L to ukat/L); mass ↔ amount of substance with a molecular weight (given, or from the LOINC
  table's ``Molecular_weight`` column); equivalents ↔ moles, units ↔ moles and other analyte-specific pairs only
  with the labunits factor for that LOINC code. Everything else raises :class:`UnitConversionError`.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from services.normaliser.numbers import parse_number

Comparator = Literal["<", "<=", ">", ">="]
Flag = Literal["H", "L", "N"]

#: Qualitative results, printed variants (lower case, spaces collapsed) → canonical word.
QUALITATIVE: dict[str, str] = {
    **dict.fromkeys(["negative", "neg", "-ve", "(-)", "neg."], "NEGATIVE"),
    **dict.fromkeys(["non reactive", "non-reactive", "nonreactive"], "NON-REACTIVE"),
    **dict.fromkeys(["positive", "pos", "+ve", "(+)", "pos."], "POSITIVE"),
    **dict.fromkeys(["trace", "traces", "tr"], "TRACE"),
    **dict.fromkeys(["nil"], "NIL"),
    **dict.fromkeys(["reactive"], "REACTIVE"),
    **dict.fromkeys(["absent"], "ABSENT"),
    **dict.fromkeys(["present"], "PRESENT"),
    **dict.fromkeys(["detected"], "DETECTED"),
    **dict.fromkeys(["not detected", "undetected"], "NOT DETECTED"),
    **{f"{n}+": f"{n}+" for n in range(1, 5)},
    **{"+" * n: f"{n}+" for n in range(1, 5)},
}


# --------------------------------------------------------------------------------------------------- value types
@dataclass(frozen=True, slots=True)
class LabValue:
    """A printed result.

    Attributes:
        value: The number, or None for a qualitative, censored or unreadable result.
        value_text: The result as printed (without a trailing flag), e.g. ``<0.5``, ``NEGATIVE``, ``1,200``.
        comparator: ``<``, ``<=``, ``>``, ``>=`` for a censored result, else None.
        limit: The number after the comparator (0.5 for ``<0.5``), else None.
        qualitative: The canonical qualitative word (``NEGATIVE``, ``POSITIVE``, ``TRACE``, ``NIL``, ``REACTIVE``,
            ``NON-REACTIVE``, ``ABSENT``, ``PRESENT``, ``DETECTED``, ``NOT DETECTED``, ``1+``..``4+``), else None.
        flag: A flag printed after the value (``12.5 H``), ``H`` or ``L``, else None.
    """

    value: float | None
    value_text: str
    comparator: Comparator | None = None
    limit: float | None = None
    qualitative: str | None = None
    flag: Literal["H", "L"] | None = None

    @property
    def readable(self) -> bool:
        """Whether a result was read: a number, a censored limit (``<0.5``) or a qualitative word (``NEGATIVE``)."""
        return self.value is not None or self.limit is not None or self.qualitative is not None


@dataclass(frozen=True, slots=True)
class Unit:
    """A printed unit and its UCUM code.

    Attributes:
        text: The unit as printed.
        ucum: Valid UCUM (``mg/dL``, ``10*3/uL``, ``u[IU]/mL``), or None when unknown or not valid UCUM.
    """

    text: str
    ucum: str | None


@dataclass(frozen=True, slots=True)
class ReferenceRange:
    """A reference range.

    Attributes:
        low: Lower bound, or None (one-sided or unreadable).
        high: Upper bound, or None.
        text: The range as printed.
    """

    low: float | None
    high: float | None
    text: str


class UnitConversionError(ValueError):
    """A conversion that is not valid (for this analyte), or a unit that is not UCUM."""


# ------------------------------------------------------------------------------------------------------- numbers
_SIGNED = r"[+\-−]?\s?[0-9Oo]*[0-9][0-9OoIl]*(?:,\d{2,3})*(?:[.,][0-9OoIl]+)?|[+\-−]?\s?[Oo]?[.,][0-9OoIl]*\d"


# --------------------------------------------------------------------------------------------------------- value
_FLAG_RE = re.compile(
    # Flag letters are upper case only: "10l" is OCR for 101, "10 L" is flagged low.
    r"^(?P<v>.*?\d[0-9OoIl]*)\s*(?:\(\s*(?P<p>[HL])\s*\)|(?P<f>HH|LL|H|L)\b|(?P<w>(?i:high|low))\b|(?P<a>[↑↓]))\s*\*?$"
)
_COMPARATOR_RE = re.compile(r"^(?P<c><=|>=|=<|=>|≤|≥|<|>|less\s+than|more\s+than|greater\s+than)\s*(?P<n>.+)$", re.I)
_COMPARATORS: dict[str, Comparator] = {
    "<": "<",
    "<=": "<=",
    "=<": "<=",
    "≤": "<=",
    ">": ">",
    ">=": ">=",
    "=>": ">=",
    "≥": ">=",
    "less than": "<",
    "more than": ">",
    "greater than": ">",
}


def _split_flag(text: str) -> tuple[str, Literal["H", "L"] | None]:
    match = _FLAG_RE.match(text)
    if match is None:
        return text, None
    mark = (match.group("p") or match.group("f") or match.group("w") or match.group("a")).lower()
    flag: Literal["H", "L"] = "H" if mark[0] in "h↑" else "L"
    return match.group("v").strip(), flag


def _number(text: str) -> float | None:
    text = text.strip()
    return parse_number(text) if re.fullmatch(_SIGNED, text) else None


def parse_value(*, text: str) -> LabValue:
    """Read a printed result: ``12.5``, ``1,200``, ``O.5`` (OCR), ``12.5 H``, ``<0.5``, ``>1000``, ``NEGATIVE``.

    Args:
        text: The value as printed (may carry a trailing flag ``H``/``L``/``(H)``/``High``/``↑``).

    Returns:
        The value; ``value`` is None for qualitative, censored (see the module docstring) or unreadable results.
    """
    printed = " ".join(text.split())
    qualitative = QUALITATIVE.get(printed.lower().rstrip("."))
    if qualitative:
        return LabValue(value=None, value_text=printed, qualitative=qualitative)
    body, flag = _split_flag(printed)
    censored = _COMPARATOR_RE.match(body)
    if censored:
        comparator = _COMPARATORS[" ".join(censored.group("c").lower().split())]
        limit = _number(censored.group("n"))
        return LabValue(value=None, value_text=body, comparator=comparator, limit=limit, flag=flag)
    return LabValue(value=_number(body), value_text=body, flag=flag)


# ---------------------------------------------------------------------------------------------------------- unit
#: Whole printed units (normalised key, see :func:`_unit_key`) → UCUM, for forms the per-part mapping cannot read.
_UNIT_ALIASES: dict[str, str] = {
    "g%": "g/dL",
    "gm%": "g/dL",
    "gms%": "g/dL",
    "mg%": "mg/dL",
    "%": "%",
    "mm/hr": "mm/h",
    "mm/1sthr": "mm/h",
    "mm/1sthour": "mm/h",
    "mm/1hr": "mm/h",
    "mmin1sthr": "mm/h",
    "mmin1sthour": "mm/h",
    "mmhg": "mm[Hg]",
    "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "ml/min/1.73m^2": "mL/min/{1.73_m2}",
    "ml/min/1.73sqm": "mL/min/{1.73_m2}",
    "bpm": "{beats}/min",
    "beats/min": "{beats}/min",
    "inr": "{INR}",
    "ratio": "{ratio}",
}
_ATOMS: dict[str, str] = {
    **dict.fromkeys(["g", "gm", "gms", "gram", "grams"], "g"),
    **dict.fromkeys(["mg", "mgs"], "mg"),
    **dict.fromkeys(["ug", "mcg", "microgram", "micrograms"], "ug"),
    **dict.fromkeys(["ng"], "ng"),
    **dict.fromkeys(["pg"], "pg"),
    **dict.fromkeys(["kg"], "kg"),
    **dict.fromkeys(["dl"], "dL"),
    **dict.fromkeys(["l", "ltr", "litre", "liter"], "L"),
    **dict.fromkeys(["ml"], "mL"),
    **dict.fromkeys(["ul", "mcl", "cumm", "cu.mm", "c.mm", "cmm", "mm3", "mm^3"], "uL"),
    **dict.fromkeys(["fl"], "fL"),
    **dict.fromkeys(["mol"], "mol"),
    **dict.fromkeys(["mmol"], "mmol"),
    **dict.fromkeys(["umol", "micromol"], "umol"),
    **dict.fromkeys(["nmol"], "nmol"),
    **dict.fromkeys(["pmol"], "pmol"),
    **dict.fromkeys(["meq"], "meq"),
    **dict.fromkeys(["mosm", "mosmol"], "mosm"),
    **dict.fromkeys(["iu"], "[IU]"),
    **dict.fromkeys(["miu"], "m[IU]"),
    **dict.fromkeys(["uiu", "microiu"], "u[IU]"),
    **dict.fromkeys(["kiu"], "k[IU]"),
    **dict.fromkeys(["u", "unit", "units"], "U"),
    **dict.fromkeys(["mu"], "mU"),
    **dict.fromkeys(["uu"], "uU"),
    **dict.fromkeys(["ku"], "kU"),
    **dict.fromkeys(["kat"], "kat"),
    **dict.fromkeys(["ukat"], "ukat"),
    **dict.fromkeys(["nkat"], "nkat"),
    **dict.fromkeys(["s", "sec", "secs", "second", "seconds"], "s"),
    **dict.fromkeys(["min", "mins", "minute", "minutes"], "min"),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], "h"),
    **dict.fromkeys(["d", "day", "days"], "d"),
    # A 24-hour collection, written as LOINC writes it.
    **dict.fromkeys(["24h", "24hr", "24hrs", "24hour", "24hours"], "(24.h)"),
    **dict.fromkeys(["mm"], "mm"),
    **dict.fromkeys(["cm"], "cm"),
    **dict.fromkeys(["hpf"], "[HPF]"),
    **dict.fromkeys(["lpf"], "[LPF]"),
}
#: Count prefixes of a numerator ("thou/cumm", "x10^3/uL", "lakhs/cumm") → UCUM factor ("" for a plain count).
_COUNTS: dict[str, str] = {
    **dict.fromkeys(["", "cells", "cell", "/"], ""),
    **dict.fromkeys(["thou", "thousand", "thousands", "k"], "10*3"),
    **dict.fromkeys(["lakh", "lakhs", "lac", "lacs"], "10*5"),
    **dict.fromkeys(["million", "millions", "mill", "mil", "m"], "10*6"),
}
#: ``10^3``, ``10*3``, ``10e3``, ``103``, and the caret as OCR reads it: ``1043``, ``10%3``, ``10*°6`` (val,
#: 2026-12-06).
_POWER_RE = re.compile(r"^(?:x)?10(?:\^|\*|e)(\d{1,2})$|^(?:x)?10(?:[4%°^*]{1,2})?(\d)$")


def _unit_key(text: str) -> str:
    key = text.strip().rstrip(".").lower()
    key = key.replace("µ", "u").replace("μ", "u").replace("³", "^3").replace("²", "2").replace("×", "x")
    return re.sub(r"\s+", "", key)


def _count_factor(numerator: str) -> str | None:
    if numerator in _COUNTS:
        return _COUNTS[numerator]
    power = _POWER_RE.match(numerator)
    if power:
        return f"10*{power.group(1) or power.group(2)}"
    return None


def _numerator(part: str, has_denominator: bool) -> str | None:
    atom = _ATOMS.get(part)
    if atom is not None:
        return atom
    return _count_factor(part) if has_denominator else None


def _by_parts(key: str) -> str | None:
    parts = key.split("/")
    head, tail = parts[0], parts[1:]
    numerator = _numerator(head, bool(tail))
    denominators = [_ATOMS.get(part) for part in tail]
    if numerator is None or None in denominators or (not tail and numerator in {"", None}):
        return None
    return "/".join([numerator, *(d for d in denominators if d is not None)])


@cache
def _ucum_parser() -> Any:
    from ucumvert import get_ucum_parser

    return get_ucum_parser()


def is_valid_ucum(*, code: str) -> bool:
    """Whether ucumvert's UCUM grammar accepts a code.

    Args:
        code: A UCUM expression.

    Returns:
        True when it parses.
    """
    from ucumvert import InvalidUcumError, parse_ucum

    try:
        parse_ucum(code, _ucum_parser())
    except InvalidUcumError:
        return False
    return True


def parse_unit(*, text: str) -> Unit:
    """Map a printed lab unit to UCUM: ``mg/dl`` → ``mg/dL``, ``IU/L`` → ``[IU]/L``, ``thou/mm3`` → ``10*3/uL``.

    Also ``µIU/mL`` → ``u[IU]/mL``, ``million/cumm`` → ``10*6/uL``, ``lakhs/cumm`` → ``10*5/uL``, ``cells/cumm`` →
    ``/uL``, ``mEq/L`` → ``meq/L``, ``mm/hr`` → ``mm/h``, ``sec`` → ``s``, ``gm%`` → ``g/dL``.

    Args:
        text: The unit as printed.

    Returns:
        The unit; ``ucum`` is None when the unit is not recognised or the result is not valid UCUM.
    """
    key = _unit_key(text)
    key = re.sub(r"^x(?=10)", "", key)
    ucum = _known_unit(key) or _repaired_unit(key)
    return Unit(text=text.strip(), ucum=ucum)


def _known_unit(key: str) -> str | None:
    ucum = _UNIT_ALIASES.get(key) or (_by_parts(key) if key else None)
    return ucum if ucum is not None and is_valid_ucum(code=ucum) else None


#: Characters OCR reads for one another in a printed unit: the thin strokes (``l``, ``I``, ``1``, ``/`` …: "g/di",
#: "mg/d]", "mlU/L", "gidl"), ``a`` for ``d`` ("g/aL") and ``e`` for ``c`` ("meg/dl", "mceg/dl", "mecg/dl" for
#: mcg/dL: val, 2026-12-06).
_UNIT_CONFUSIONS: tuple[frozenset[str], ...] = (frozenset("li1|!]/tj["), frozenset("ad"), frozenset("ce"))
#: Longest key repaired, and most repairs (substitutions or deletions of a confusable character) tried.
_MAX_REPAIR_KEY = 10
_MAX_REPAIRS = 2


def _repaired_unit(key: str) -> str | None:
    """The UCUM unit an OCR-damaged unit must be: the one unit that the fewest repairs of confusable characters
        ("g/di" → g/dL, "mgidi" → mg/dL, "milu/l" → m[IU]/L) make readable. None when none does, or when two different
        units are equally near. A repair never makes a rate per day ("g/di" is g/dL, not g/d: OCR loses the L of dL
    far more often than a lab prints a daily excretion so) nor a unit with two "per"s."""
    if not key or len(key) > _MAX_REPAIR_KEY:
        return None
    found: set[str] = set()
    frontier = {key}
    for _ in range(_MAX_REPAIRS):
        frontier = {variant for k in frontier for variant in _one_repair(k)}
        found = {ucum for k in frontier if (ucum := _known_unit(k)) is not None and _plausible_repair(ucum)}
        if found:
            break
    return found.pop() if len(found) == 1 else None


def _plausible_repair(ucum: str) -> bool:
    """Whether a repaired unit is one a report prints: not a rate per day, a single "per" ("m/u/l" is not a million
    per unit per litre)."""
    return not ucum.endswith("/d") and ucum.count("/") <= 1


def _one_repair(key: str) -> set[str]:
    """Every key one confusable character away from ``key`` (substituted by a look-alike, or dropped)."""
    variants: set[str] = set()
    for i, ch in enumerate(key):
        if i == 0:
            continue  # a unit's first letter is not repaired: "titre" is no "litre"
        for group in _UNIT_CONFUSIONS:
            if ch not in group:
                continue
            variants.update(key[:i] + other + key[i + 1 :] for other in group if other != ch)
            if (i > 0 and key[i - 1] in group) or key[i + 1 : i + 2] in group:
                variants.add(key[:i] + key[i + 1 :])  # a stroke read twice ("milu", "mIlU")
    variants.discard("")
    return variants


# --------------------------------------------------------------------------------------------------------- range
_RANGE_LABEL = re.compile(
    r"(?<![A-Za-z])(?P<label>males?|females?|men|women|m|f|adults?|child(?:ren)?|desirable|normal|optimal"
    r"|near\s+optimal|reference|ref\.?|borderline(?:\s+high)?|very\s+high|high|low|deficien(?:t|cy)"
    r"|insufficien(?:t|cy)|sufficient|toxic|pre-?diabet(?:es|ic)|diabet(?:es|ic))(?![A-Za-z])\s*[:=\-]?",
    re.IGNORECASE,
)
_PREFERRED_LABELS = ("normal", "desirable", "optimal", "reference", "ref", "adult")
_SEX_LABELS = {"m": "M", "male": "M", "males": "M", "men": "M", "f": "F", "female": "F", "females": "F", "women": "F"}
_NUM = rf"(?:{_SIGNED})"
_BETWEEN_RE = re.compile(rf"(?P<a>{_NUM})\s*(?:-|–|—|to|−)\s*(?P<b>{_NUM})", re.IGNORECASE)
_UPPER_RE = re.compile(
    rf"(?:<=?|≤|=<|up\s*to|upto|less\s+than|below|under|max(?:imum)?\.?|not\s+more\s+than)\s*:?\s*(?P<v>{_NUM})",
    re.IGNORECASE,
)
_LOWER_RE = re.compile(
    rf"(?:>=?|≥|=>|more\s+than|greater\s+than|above|over|min(?:imum)?\.?|at\s+least)\s*:?\s*(?P<v>{_NUM})",
    re.IGNORECASE,
)


def _bounds(text: str) -> tuple[float | None, float | None]:
    between = _BETWEEN_RE.search(text)
    if between:
        low, high = parse_number(between.group("a")), parse_number(between.group("b"))
        if low is not None and high is not None and low <= high:
            return low, high
        return None, None
    upper = _UPPER_RE.search(text)
    if upper:
        return None, parse_number(upper.group("v"))
    lower = _LOWER_RE.search(text)
    if lower:
        return parse_number(lower.group("v")), None
    return None, None


_NUMBER_NEXT = re.compile(r"\s*[<>≤≥=(]{0,2}\s*[+\-−]?\d|\s*up\s*to", re.IGNORECASE)


def _segments(text: str) -> list[tuple[str, str]]:
    """``M: 13-17 F: 12-15`` → ``[("m", " 13-17 "), ("f", " 12-15")]``; labels only where a number follows."""
    labels = [m for m in _RANGE_LABEL.finditer(text) if _NUMBER_NEXT.match(text, m.end())]
    return [
        (
            " ".join(m.group("label").lower().split()),
            text[m.end() : labels[i + 1].start() if i + 1 < len(labels) else None],
        )
        for i, m in enumerate(labels)
    ]


def _segment_for(segments: list[tuple[str, str]], sex: str | None) -> str | None:
    by_sex = [(_SEX_LABELS[label], part) for label, part in segments if label in _SEX_LABELS]
    if by_sex:
        wanted = (sex or "").strip().upper()[:1]
        return next((part for label, part in by_sex if label == wanted), None)
    return next((part for label, part in segments if label.startswith(_PREFERRED_LABELS)), None)


def parse_reference_range(*, text: str, sex: str | None = None) -> ReferenceRange:
    """Read a reference range: ``70 - 110``, ``0.6 to 1.2``, ``< 200``, ``Up to 40``, ``>= 60``, ``M: 13-17 F: 12-15``.

    Args:
        text: The range as printed.
        sex: ``M`` or ``F`` (or ``male``/``female``), to choose among sex-specific ranges.

    Returns:
        The range; bounds are None where the text gives none or the choice is ambiguous (module docstring).
    """
    printed = " ".join(text.split())
    segments = _segments(printed)
    part = _segment_for(segments, sex) if segments else printed
    low, high = _bounds(part) if part is not None else (None, None)
    return ReferenceRange(low=low, high=high, text=printed)


# ---------------------------------------------------------------------------------------------------------- flag
_PRINTED_FLAGS: dict[str, Flag] = {
    **dict.fromkeys(["h", "hh", "high", "↑", "*h", "h*", "critical high"], "H"),
    **dict.fromkeys(["l", "ll", "low", "↓", "*l", "l*", "critical low"], "L"),
    **dict.fromkeys(["n", "normal", "wnl"], "N"),
}


def derive_flag(
    *, value: float | None, reference_range: ReferenceRange | None, printed_flag: str | None
) -> Flag | None:
    """The result flag: the printed one when readable, else derived from the range (bounds inclusive).

    Args:
        value: The numeric result, or None.
        reference_range: The reference range, or None.
        printed_flag: The flag as printed (``H``, ``(L)``, ``High``, ``↑``, ``HH``), or None.

    Returns:
        ``H``, ``L`` or ``N``; None when no flag is printed and no numeric value and bound are available.
    """
    printed = _PRINTED_FLAGS.get(re.sub(r"[\s()\[\]]", "", printed_flag or "").lower())
    if printed is not None:
        return printed
    if value is None or reference_range is None:
        return None
    low, high = reference_range.low, reference_range.high
    if low is None and high is None:
        return None
    if high is not None and value > high:
        return "H"
    if low is not None and value < low:
        return "L"
    return "N"


# ---------------------------------------------------------------------------------------------------- conversion
_OWN_KIND = {"equivalents", "osmole"}  # defined as mol in UCUM, but not interchangeable with mol for an analyte
_PURE_NUMBERS = {"_10", "percent", "dimensionless", "permille", "parts_per_million", "parts_per_billion"}


def default_loinc_table() -> Path:
    """Return the default LOINC flowsheet table, ``<repo>/../shared/vocab/loinc/h17.csv``.

    Returns:
        The path; it is not checked for existence here.
    """
    return Path(__file__).resolve().parents[2].parent / "shared" / "vocab" / "loinc" / "h17.csv"


@cache
def _molecular_weights(path: Path) -> dict[str, float]:
    weights: dict[str, float] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code, weight = (row.get("LOINC") or "").strip(), (row.get("Molecular_weight") or "").strip()
            if code and weight and code != "LOINC_MERGED":
                try:
                    weights.setdefault(code, float(weight))
                except ValueError:
                    continue
    return weights


def lookup_molecular_weight(*, loinc_code: str, table: Path | str | None = None) -> float | None:
    """The molecular weight (g/mol) the LOINC flowsheet table gives for a code.

    Args:
        loinc_code: A LOINC code, e.g. ``2345-7``.
        table: The h17.csv file; default :func:`default_loinc_table`.

    Returns:
        The weight, or None when the table has none for the code.
    """
    return _molecular_weights(Path(table or default_loinc_table()).resolve()).get(loinc_code)


@cache
def _ucum_to_pint() -> tuple[Any, Any]:
    """A private pint registry with ucumvert's UCUM definitions, and ucumvert's transformer bound to it.

    ucumvert's own ``PintUcumRegistry`` also loads its definitions into pint's application registry; a private
    registry leaves global pint state alone.
    """
    import pint
    import ucumvert
    from ucumvert import UcumToPintTransformer

    registry: Any = pint.UnitRegistry()
    registry.load_definitions(Path(ucumvert.__file__).resolve().parent / "pint_ucum_defs.txt")
    return registry, UcumToPintTransformer(ureg=registry)


def _registry() -> Any:
    return _ucum_to_pint()[0]


def _pint_unit(code: str) -> Any:
    from lark.exceptions import LarkError  # ucumvert's parser and transformer raise lark errors
    from ucumvert import parse_ucum

    try:
        unit = _ucum_to_pint()[1].transform(parse_ucum(code, _ucum_parser()))
    except (LarkError, ValueError, AttributeError) as exc:
        raise UnitConversionError(f"{code!r} is not a UCUM unit ucumvert can convert") from exc
    if not hasattr(unit, "unit_items"):
        raise UnitConversionError(f"{code!r} has no convertible unit (annotation only)")
    return unit


def _signature(unit: Any) -> tuple[Counter[str], Counter[str]]:
    """Kinds of quantity in the numerator and denominator, without cancelling (so mmol/mol is not %)."""
    registry = _registry()
    numerator: Counter[str] = Counter()
    denominator: Counter[str] = Counter()
    for name, exponent in unit.unit_items():
        base = registry.parse_unit_name(name)[0][1]
        dimensionality = registry.get_dimensionality(base)
        if base in _PURE_NUMBERS:
            continue
        kind = base if base in _OWN_KIND or not dimensionality else str(dimensionality)
        (numerator if exponent > 0 else denominator)[kind] += abs(exponent)
    return numerator, denominator


def _annotations(code: str) -> list[str]:
    return sorted(re.findall(r"\{[^}]*\}", code))


def _mass_substance_direction(source: Any, target: Any) -> int:
    """+1 for mass → substance, -1 for substance → mass, 0 when the units differ otherwise."""
    (num_a, den_a), (num_b, den_b) = _signature(source), _signature(target)
    if den_a != den_b:
        return 0
    mass, substance = "[mass]", "[substance]"
    if num_a - num_b == Counter({mass: 1}) and num_b - num_a == Counter({substance: 1}):
        return 1
    if num_a - num_b == Counter({substance: 1}) and num_b - num_a == Counter({mass: 1}):
        return -1
    return 0


def _labunits_pair(loinc_code: str) -> tuple[str, str, float] | None:
    """The analyte's (traditional UCUM, SI UCUM, factor) from labunits, or None when it has no usable entry."""
    from labunits import converters as labunits

    try:
        traditional, si = labunits.traditional_unit(loinc_code), labunits.si_unit(loinc_code)
        factor = float(labunits.conversion_factor(loinc_code))
    except ValueError:
        return None
    pair = parse_unit(text=traditional).ucum, parse_unit(text=si).ucum
    return (_as_units(pair[0]), _as_units(pair[1]), factor) if pair[0] and pair[1] and factor > 0 else None


def _plain(code_a: str, code_b: str) -> bool:
    """Whether two units convert without analyte knowledge (same kinds of quantity, same annotations)."""
    return _annotations(code_a) == _annotations(code_b) and _signature(_pint_unit(code_a)) == _signature(
        _pint_unit(code_b)
    )


@cache
def same_kind_of_unit(a: str, b: str) -> bool:
    """Whether two UCUM units measure the same kind of quantity: ``u[IU]/mL`` and ``m[IU]/L`` do, ``mg/dL`` and
    ``g/L`` do, ``mg/dL`` and ``mmol/L`` do not, ``%`` and ``10*3/uL`` do not. Units ucumvert cannot read
    (``{mcU}/ml`` in some flowsheet rows) are compared as written, case-folded."""
    try:
        return _plain(a, b)
    except (UnitConversionError, ValueError, KeyError, AttributeError):
        return a.casefold() == b.casefold()


def _as_units(code: str) -> str:
    # labunits writes "μU/mL" for insulin where labs print µIU/mL: for matching its pairs, an IU is a U.
    return code.replace("[IU]", "U").replace("[iU]", "U")


def _via_labunits(value: float, from_ucum: str, to_ucum: str, loinc_code: str) -> float | None:
    """Convert with the analyte's labunits factor, when the units are (plain variants of) its traditional/SI pair."""
    pair = _labunits_pair(loinc_code)
    if pair is None:
        return None
    traditional, si, factor = pair
    source, target = _as_units(from_ucum), _as_units(to_ucum)
    for start, end, scale in ((traditional, si, factor), (si, traditional, 1 / factor)):
        if _plain(source, start) and _plain(end, target):
            in_start = _ratio(value * _pint_unit(source), _pint_unit(start))
            return _ratio(in_start * scale * _pint_unit(end), _pint_unit(target))
    return None


def _ratio(quantity: Any, target: Any) -> float:
    """``quantity`` expressed in ``target`` (a unit quantity whose magnitude may differ from 1, e.g. ``mg/(24.h)``)."""
    return _clean_float(float((quantity / target).to("dimensionless").magnitude))


def _plain_convert(value: float, source: Any, target: Any) -> float:
    if source.magnitude == 1 and target.magnitude == 1:
        # Through a quantity, so that offset units (Cel, [degF]) convert as temperatures.
        return _clean_float(float(_registry().Quantity(value, source.units).to(target.units).magnitude))
    return _ratio(value * source, target)


def _clean_float(value: float) -> float:
    return float(f"{value:.12g}")  # drop binary noise such as 0.9999999999999999


def _convert_mass_substance(value: float, source: Any, target: Any, *, direction: int, weight: float) -> float:
    grams_per_mole = _registry().Quantity(weight, "gram / mole")
    quantity = value * source
    return _ratio(quantity / grams_per_mole if direction > 0 else quantity * grams_per_mole, target)


def convert(
    *,
    value: float,
    from_ucum: str,
    to_ucum: str,
    loinc_code: str | None = None,
    molecular_weight: float | None = None,
    loinc_table: Path | str | None = None,
) -> float:
    """Convert a result between UCUM units when that is valid for the analyte.

    Args:
        value: The result in ``from_ucum``.
        from_ucum: Its UCUM unit, e.g. ``mg/dL``.
        to_ucum: The wanted UCUM unit, e.g. ``mmol/L``.
        loinc_code: The analyte's LOINC code; needed for analyte-specific conversions.
        molecular_weight: g/mol, for mass ↔ amount of substance; default: the LOINC table's value for the code.
        loinc_table: The h17.csv file holding molecular weights; default :func:`default_loinc_table`.

    Returns:
        The value in ``to_ucum`` (12 significant digits).

    Raises:
        UnitConversionError: A unit is not UCUM, or the conversion is not valid without analyte knowledge that is
            missing (molecular weight, a labunits factor), or not valid at all (``%`` to ``mmol/mol``).
    """
    if from_ucum == to_ucum:
        return value
    what = f"{from_ucum} -> {to_ucum}" + (f" for LOINC {loinc_code}" if loinc_code else "")
    source, target = _pint_unit(from_ucum), _pint_unit(to_ucum)
    if _annotations(from_ucum) != _annotations(to_ucum):
        raise UnitConversionError(f"{what}: the units carry different annotations")
    if _signature(source) == _signature(target):
        return _plain_convert(value, source, target)
    direction = _mass_substance_direction(source, target)
    if direction:
        weight = molecular_weight
        if weight is None and loinc_code:
            weight = lookup_molecular_weight(loinc_code=loinc_code, table=loinc_table)
        if weight is not None and weight > 0:
            return _convert_mass_substance(value, source, target, direction=direction, weight=weight)
    converted = _via_labunits(value, from_ucum, to_ucum, loinc_code) if loinc_code else None
    if converted is None:
        needs = "the molecular weight of the analyte" if direction else "an analyte-specific factor (labunits)"
        raise UnitConversionError(f"{what}: not a valid conversion without {needs}")
    return converted
