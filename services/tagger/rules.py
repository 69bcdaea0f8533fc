"""INTERIM rule-based tagger (replaced by the transformer token classifier of issue 5).

It classifies each OCR line (medication, lab_result, patient, prescriber, date, other), marks the entities the
rules can see, and guesses the document type. Its output shape — :class:`shared.contracts.stages.TagOutput` —
is final; only the method changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shared.contracts.stages import Entity, TaggedLine, TextLine

VERSION = "rules-1"

_FORM = (
    r"(?:tab|tabs|tablet|cap|caps|capsule|syp|syrup|susp|suspension|inj|injection|oint|ointment|cream|gel"
    r"|drops?|sol|solution|inh|inhaler|lotion|spray|patch|powder)"
)
_MED_START = re.compile(rf"^\s*(?:\d{{1,2}}\s*[.)]\s*)?{_FORM}\b\.?\s+[A-Za-z]", re.IGNORECASE)
_STRENGTH = re.compile(r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|µg|ug|g|ml|iu|units?|%)(?!\w)", re.IGNORECASE)
_SIG = re.compile(
    r"\b(?:sig|disp|refills?|rf|\d-\d-\d|od|qd|bd|bid|tds|tid|qid|qds|hs|qhs|q\d+h|sos|prn|stat|daily|po|gtt)\b",
    re.IGNORECASE,
)
_LAB_ROW = re.compile(
    # The test name may end in a letter, a bracket, % or a letter+digit name ("FT4", "Vitamin B12", "Total T3").
    r"^(?P<test>[A-Za-z][A-Za-z0-9 ().,/%+#'\-]*?(?:[A-Za-z)%#]|(?<=[A-Za-z])\d{1,2}))\s+"
    r"(?P<value>[<>]?\s?\d+(?:[.,]\d+)*|negative|positive|nil|trace|reactive|non-reactive)"
    r"(?:\s+(?P<flag>[HL]|high|low))?"
    r"(?:\s+(?P<unit>10[\^*x]\d+/\S+|(?![\[(<>]?\s?\d)\S+))?"
    r"(?:\s+(?P<range>.*\d.*))?$",
    re.IGNORECASE,
)
_PAGE_NUMBER = re.compile(r"page\s+\d+\s*(?:of|/)\s*\d+", re.IGNORECASE)
_NAME = re.compile(
    r"\b(?:patient(?:'s)?\s*name|name|patient)\s*[:\-]\s*"
    r"(?P<v>[A-Za-z][A-Za-z .']{1,60}?)(?=\s{2,}|\s+age\b|\s+sex\b|$|\s+[A-Za-z.]+(?:\s[A-Za-z.]+)?\s*:)",
    re.IGNORECASE,
)
_AGE_SEX = re.compile(
    r"\b(?:age\s*/\s*sex|age|sex)\s*[:\-]?\s*(?P<v>\d{1,3}\s*(?:y|yrs|years)?\s*[/,]?\s*(?:m|f|male|female)?)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\bdate\s*[:\-]?\s*(?P<v>\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}\s+[A-Za-z]{3,9},?\s+\d{4})",
    re.IGNORECASE,
)
_PRESCRIBER = re.compile(
    r"^\s*(?:(?:ref(?:erred)?\.?\s*by|consultant|referring\s+doctor)\s*[:\-]?\s*)?"
    r"(?P<v>dr\.?\s+[A-Za-z][A-Za-z .]{2,60}?)(?:,|\s{2,}|$|(?=\s+[A-Za-z.]+(?:\s[A-Za-z.]+)?\s*:))",
    re.IGNORECASE,
)
_REGISTRATION = re.compile(
    r"\breg(?:istration|n)?\.?\s*(?:no\.?|number|#)?\s*[:\-]?\s*(?P<v>[A-Z0-9][A-Z0-9/\-]{2,})", re.IGNORECASE
)
_LAB_WORDS = re.compile(
    r"\b(?:laboratory|lab|pathology|diagnostics|reference|biological|test|investigation|specimen|sample)\b",
    re.IGNORECASE,
)
_RX_WORDS = re.compile(r"(?:\bRx\b|℞|\bprescription\b|\bsig\b|\bdisp\b|\brefills?\b)", re.IGNORECASE)


#: Detector classes that say what a line is when the text patterns do not.
_REGION_KINDS = {"medication_line": "medication"}
_HEADER_KINDS = frozenset({"patient", "date", "prescriber"})


def tag_line(line: TextLine) -> TaggedLine:
    """Classify one line and extract the entities the rules can see (the detected region's class as a hint).

    A header line may carry several header entities ("Ref. By: Dr. X  Report Date: 06/04/2025"): its kind is the
    first that matched, its entities are all of them.
    """
    hint = _REGION_KINDS.get(line.region_cls or "")
    kind_found: str | None = None
    entities: list[Entity] = []
    for kind, matcher in _MATCHERS:
        if (hint == "medication" and kind == "lab_result") or (kind_found and kind not in _HEADER_KINDS):
            continue  # "use 2 drops OU ..." reads like a lab row; the detector saw a medication line
        matched = matcher(line.text)
        if not matched and kind == hint:
            matched = [Entity(label="MEDICATION", text=line.text.strip(), confidence=0.5)]
        if matched:
            entities.extend(matched)
            kind_found = kind_found or kind
    return TaggedLine(
        page=line.page, text=line.text, bbox=line.bbox, kind=kind_found or "other", entities=entities, confidence=0.6
    )


def document_type(lines: list[TaggedLine]) -> str:
    """``prescription``, ``lab_report`` or ``unknown`` from line kinds and cue words."""
    meds = sum(1 for line in lines if line.kind == "medication")
    labs = sum(1 for line in lines if line.kind == "lab_result")
    text = " ".join(line.text for line in lines)
    lab_score = 2 * labs + len(_LAB_WORDS.findall(text))
    rx_score = 2 * meds + 2 * len(_RX_WORDS.findall(text))
    if lab_score == rx_score == 0:
        return "unknown"
    return "lab_report" if lab_score > rx_score else "prescription"


def _medication(text: str) -> list[Entity]:
    if _MED_START.search(text) or (_STRENGTH.search(text) and _SIG.search(text)):
        return [Entity(label="MEDICATION", text=text.strip(), confidence=0.6)]
    return []


def _lab_result(text: str) -> list[Entity]:
    match = _LAB_ROW.match(text.strip())
    if match is None or _MED_START.search(text) or _PAGE_NUMBER.match(text.strip()):
        return []
    labels = {"test": "TEST", "value": "VALUE", "flag": "FLAG", "unit": "UNIT", "range": "REF_RANGE"}
    return [
        Entity(label=label, text=match.group(group).strip(), confidence=0.6)
        for group, label in labels.items()
        if match.group(group)
    ]


def _single(pattern: re.Pattern[str], label: str) -> Callable[[str], list[Entity]]:
    def find(text: str) -> list[Entity]:
        match = pattern.search(text)
        return [Entity(label=label, text=match.group("v").strip(), confidence=0.6)] if match else []

    return find


def _patient(text: str) -> list[Entity]:
    found = _single(_NAME, "PATIENT_NAME")(text) + _single(_AGE_SEX, "AGE_SEX")(text)
    return found


def _prescriber(text: str) -> list[Entity]:
    return _single(_PRESCRIBER, "PRESCRIBER")(text) + _single(_REGISTRATION, "REGISTRATION")(text)


_MATCHERS: tuple[tuple[str, Callable[[str], list[Entity]]], ...] = (
    ("patient", _patient),
    ("date", _single(_DATE, "DATE")),
    ("prescriber", _prescriber),
    ("medication", _medication),
    ("lab_result", _lab_result),
)
