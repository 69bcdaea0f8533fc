"""Assembling the coded result from tagged lines: patient, prescriber, date, medications, lab results.

Parsing of strengths, SIG frequencies, durations, lab values, units and ranges is in :mod:`dosing` and
:mod:`labvalues`; coding against RxNorm and LOINC in :mod:`vocabulary`. "No confident match" is an explicit
outcome: the code stays null, and the document is routed to review with a reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from services.normaliser import dosing, labvalues
from services.normaliser.calibration import Calibration
from services.normaliser.ocrfix import repair_frequency, repair_frequency_span
from services.normaliser.vocabulary import VocabularyIndex
from services.normaliser.vocabulary.index import DrugMatch, LabTestMatch
from services.normaliser.vocabulary.terms import trim_drug_words
from shared.contracts.extraction import (
    ClinicalDrug,
    Drug,
    Duration,
    ExtractionResult,
    Frequency,
    LabResult,
    LabTest,
    LabUnit,
    LoincConcept,
    Medication,
    ModelVersions,
    Patient,
    Prescriber,
    Quantity,
    ReferenceRange,
    RxNormConcept,
)
from shared.contracts.stages import TaggedLine

#: Calibrated confidence from which a code is given (below it: no code, and the document goes to review).
REVIEW_THRESHOLD = 0.9
#: Mean OCR word confidence of a page below which the document goes to review: what was read may be wrong or missing
#: beyond what item-level checks see. Chosen on val (docs/evaluation.md): up to 0.8 every document it newly sent to
#: review had field errors, and no clean page fell below it (their lowest 0.864).
LEGIBLE_PAGE = 0.8
_MONTHS = {
    m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
}


@dataclass
class Groups:
    medications: list[TaggedLine] = field(default_factory=list)
    lab_results: list[TaggedLine] = field(default_factory=list)
    patient: list[TaggedLine] = field(default_factory=list)
    prescriber: list[TaggedLine] = field(default_factory=list)
    dates: list[TaggedLine] = field(default_factory=list)

    @property
    def header(self) -> list[TaggedLine]:
        """Patient, prescriber and date lines in reading order (a header line may carry entities of each)."""
        return sorted(self.patient + self.prescriber + self.dates, key=lambda ln: (ln.page, ln.bbox[1], ln.bbox[0]))


def group_lines(lines: list[TaggedLine]) -> Groups:
    """Lines by kind, in reading order (page, top, left)."""
    groups = Groups()
    targets = {
        "medication": groups.medications,
        "lab_result": groups.lab_results,
        "patient": groups.patient,
        "prescriber": groups.prescriber,
        "date": groups.dates,
    }
    for line in sorted(lines, key=lambda ln: (ln.page, ln.bbox[1], ln.bbox[0])):
        target = targets.get(line.kind)
        if target is not None:
            target.append(line)
    return groups


def _entity(lines: list[TaggedLine], label: str) -> str | None:
    return next((e.text for line in lines for e in line.entities if e.label == label), None)


def patient(lines: list[TaggedLine]) -> Patient:
    """Name, age and sex from the patient lines."""
    age_sex = _entity(lines, "AGE_SEX") or ""
    age = re.search(r"\d{1,3}", age_sex)
    sex = re.search(r"\b(m|f|male|female)\b", age_sex, re.IGNORECASE)
    return Patient(
        name=_entity(lines, "PATIENT_NAME"),
        age=age.group(0) if age else None,
        sex=sex.group(1)[0].upper() if sex else None,
    )


def prescriber(lines: list[TaggedLine]) -> Prescriber | None:
    name, registration = _entity(lines, "PRESCRIBER"), _entity(lines, "REGISTRATION")
    return Prescriber(name=name, registration=registration) if name or registration else None


def parse_date(text: str | None) -> str | None:
    """ISO date from ``dd/mm/yyyy`` (day first unless impossible), ``yyyy-mm-dd`` or ``12 Mar 2026``."""
    if not text:
        return None
    numeric = re.fullmatch(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{2,4})", text.strip())
    try:
        if numeric:
            a, b, c = (int(g) for g in numeric.groups())
            if a > 31:
                return date(a, b, c).isoformat()
            year = c + 2000 if c < 100 else c
            day, month = (b, a) if b > 12 >= a else (a, b)
            return date(year, month, day).isoformat()
        words = re.fullmatch(r"(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*,?\s+(\d{4})", text.strip())
        if words and words.group(2).lower() in _MONTHS:
            return date(int(words.group(3)), _MONTHS[words.group(2).lower()], int(words.group(1))).isoformat()
    except ValueError:
        return None
    return None


def printed_span(line: str, words: str) -> str:
    """``words`` as printed in ``line``, punctuation between them kept: "Klonopin Clonazepam" → "Klonopin (Clonazepam)".

    Returns ``words`` unchanged when they do not stand together in the line.
    """
    parts = words.split()
    if not parts:
        return words
    found = re.search(r"[\s()\[\]/+,]*".join(re.escape(p) for p in parts), line)
    if found is None:
        return words
    text = found.group(0)
    if text.count("(") > text.count(")") and line[found.end() : found.end() + 1] == ")":
        text += ")"
    return text


def _within(part: str, whole: str, *, line: str) -> bool:
    """Whether ``part`` is a strictly shorter piece of ``whole``, itself one stretch of ``line`` (case-folded): not
    an expression joined from several places ("Bid" of the brand "Nitro-Bid" and a later "once daily")."""
    part, whole, line = part.casefold(), whole.casefold(), line.casefold()
    return part != whole and part in whole and whole in line


def medication_fields(line: TaggedLine) -> dosing.MedicationFields:
    """The fields of a medication line: the tagger's spans first, the whole-line parser for what it did not mark.

    The drug words are the tagger's DRUG span; strength, frequency and duration are parsed from their spans when
    those parse (the span "1-0-1" alone, "x 5 days" alone), and taken from the whole-line parse otherwise. The
    frequency is read after undoing OCR slips in its words (:mod:`services.normaliser.ocrfix`: "tines", "gid").
    """
    whole = dosing.parse_medication_line(text=line.text)
    drug = _entity([line], "DRUG")
    strength_text, frequency_text = _entity([line], "STRENGTH"), _entity([line], "FREQUENCY")
    duration_text = _entity([line], "DURATION")
    strength = dosing.parse_strength(text=strength_text) if strength_text else None
    frequency = None
    if frequency_text:
        at = line.text.find(frequency_text)
        after = line.text[at + len(frequency_text) :] if at >= 0 else ""
        frequency = dosing.parse_frequency(text=repair_frequency_span(frequency_text, after=after), form=whole.form)
    repaired = repair_frequency(line.text)
    whole_frequency = (
        whole.frequency if repaired == line.text else dosing.parse_medication_line(text=repaired).frequency
    )
    if frequency and whole_frequency and _within(frequency.text, whole_frequency.text, line=repaired):
        frequency = whole_frequency  # the span held "daily" of "three tines daily": the repaired line reads more
    duration = dosing.parse_duration(text=duration_text) if duration_text else None
    return replace(
        whole,
        drug_text=drug or whole.drug_text,
        strength=strength or whole.strength,
        frequency=frequency or whole_frequency,
        duration=duration if isinstance(duration, dosing.Duration) else whole.duration,
    )


def drug_match(
    line: TaggedLine, *, vocabulary: VocabularyIndex
) -> tuple[dosing.MedicationFields, str, DrugMatch | None]:
    """A medication line's fields, its drug words and their RxNorm match (None: no candidate at all)."""
    fields = medication_fields(line)
    strength = (fields.strength.value, fields.strength.unit) if fields.strength else None
    drug_text = fields.drug_text
    words = drug_text if vocabulary.is_drug_name(drug_text) else (trim_drug_words(drug_text) or drug_text)
    return fields, words, vocabulary.match_drug(text=words, strength=strength, form=fields.form)


def medication(line: TaggedLine, *, vocabulary: VocabularyIndex, calibration: Calibration) -> Medication:
    """Parse and code one medication line; the drug is coded only when its calibrated confidence is high enough."""
    fields, words, match = drug_match(line, vocabulary=vocabulary)
    confidence = _confidence(calibration, "drug", match)
    confident = match is not None and confidence >= REVIEW_THRESHOLD
    drug = Drug(
        text=printed_span(line.text, words),
        rxnorm=RxNormConcept(rxcui=match.rxcui, name=match.name, tty=match.tty) if confident and match else None,
        clinical_drug=(
            ClinicalDrug(rxcui=match.scd_rxcui, name=match.scd_name)
            if confident and match and match.scd_rxcui and match.scd_name
            else None
        ),
        brand=match.brand if confident and match else None,
    )
    return Medication(
        text=line.text,
        drug=drug,
        strength=Quantity(value=fields.strength.value, unit=fields.strength.unit) if fields.strength else None,
        form=fields.form,
        route=fields.route,
        dose=Quantity(value=fields.dose.value, unit=fields.dose.unit) if fields.dose else None,
        frequency=(
            Frequency(
                text=fields.frequency.text,
                per_day=fields.frequency.per_day,
                timing_code=fields.frequency.timing_code,
                as_needed=fields.frequency.as_needed,
            )
            if fields.frequency
            else None
        ),
        duration=Duration(value=fields.duration.value, unit=fields.duration.unit) if fields.duration else None,
        quantity=fields.quantity,
        confidence=confidence,
        page=line.page,
        bbox=line.bbox,
    )


def lab_match(
    line: TaggedLine, *, vocabulary: VocabularyIndex, sex: str | None = None
) -> tuple[str, labvalues.Unit | None, LabTestMatch | None]:
    """A lab-result line's test words, its unit and the test's LOINC match (None: no candidate at all); the unit
    and the printed reference range (for the patient's ``sex``) help choose between codes of one name."""
    test_text = _entity([line], "TEST") or line.text
    unit_text = _entity([line], "UNIT")
    unit = _litre_restored(labvalues.parse_unit(text=unit_text), test_text) if unit_text else None
    range_text = _entity([line], "REF_RANGE")
    reference = labvalues.parse_reference_range(text=range_text, sex=sex) if range_text else None
    match = vocabulary.match_lab_test(
        text=test_text,
        unit=unit.ucum if unit else None,
        reference=(reference.low, reference.high) if reference else None,
    )
    if match is not None and match.method in _NAME_READ and unread_before_value(line):
        match = replace(match, method="interrupted")
    return test_text, unit, match


#: Methods whose confidence is the measured precision of a name read as printed (not a similarity).
_NAME_READ = frozenset({"exact", "part", "inside", "corrected", "range"})
_LETTER = re.compile(r"[^\W\d_]")


def unread_before_value(line: TaggedLine) -> bool:
    """Whether a word with letters that no entity holds stands between a lab row's test name and its value.

    "HDL en I “s 57 mg/dL 10 - 150": OCR ran two rows together, and the name it read ("HDL") is of another row than
    the value and range (the triglycerides'); the words it could not read lie between. Such a match is method
    ``interrupted``, calibrated apart (``make calibrate``) rather than trusted as the exact name it looks like.
    """
    spans = _entity_positions(line)
    test = next((span for span in spans if span[0] == "TEST"), None)
    if test is None:
        return False
    value = next((span for span in spans if span[0] == "VALUE" and span[1] >= test[2]), None)
    if value is None:
        return False
    held = {i for _, start, end in spans for i in range(start, end)}
    words = line.text.split()
    return any(i not in held and _LETTER.search(words[i]) for i in range(test[2], value[1]))


def _entity_positions(line: TaggedLine) -> list[tuple[str, int, int]]:
    """The entities of a line as (label, first word, last word + 1): the tag stage writes a line's text as its words
    joined by spaces and its entities in order, each the words it covers joined the same way."""
    words = line.text.split()
    found, at = [], 0
    for entity in line.entities:
        span = entity.text.split()
        start = next((i for i in range(at, len(words) - len(span) + 1) if words[i : i + len(span)] == span), None)
        if start is None:
            continue
        found.append((entity.label, start, start + len(span)))
        at = start + len(span)
    return found


#: A mass per day as UCUM writes it ("mg/d"), and the words that name a timed collection, for which it is the unit.
_MASS_PER_DAY = re.compile(r"^(?:[mun]?g)/d$")
_TIMED_COLLECTION = re.compile(r"\b(?:urine|ur|24|24h|24hr|24hrs|24-hour|day|daily)\b", re.IGNORECASE)


def _litre_restored(unit: labvalues.Unit, test_text: str) -> labvalues.Unit:
    """A mass per day ("mg/d") printed for a test that is not of a timed collection is a concentration per
    decilitre whose "L" OCR lost: "Calcium 9.9 mg/d" is mg/dL; "24 hr Urine Calcium 180 mg/d" stays a daily rate."""
    if unit.ucum is None or not _MASS_PER_DAY.match(unit.ucum) or _TIMED_COLLECTION.search(test_text):
        return unit
    return labvalues.Unit(text=unit.text, ucum=f"{unit.ucum}L")


def lab_result(
    line: TaggedLine, *, vocabulary: VocabularyIndex, calibration: Calibration, sex: str | None
) -> LabResult:
    """Parse and code one lab-result line; the test is coded only when its calibrated confidence is high enough."""
    test_text, unit, match = lab_match(line, vocabulary=vocabulary, sex=sex)
    value = labvalues.parse_value(text=_entity([line], "VALUE") or "")
    range_text = _entity([line], "REF_RANGE")
    reference = labvalues.parse_reference_range(text=range_text, sex=sex) if range_text else None
    confidence = _confidence(calibration, "lab", match)
    confident = match is not None and confidence >= REVIEW_THRESHOLD
    flag = labvalues.derive_flag(value=value.value, reference_range=reference, printed_flag=_entity([line], "FLAG"))
    return LabResult(
        text=line.text,
        test=LabTest(
            text=test_text, loinc=LoincConcept(code=match.code, name=match.name) if confident and match else None
        ),
        value=value.value,
        value_text=value.value_text,
        unit=LabUnit(text=unit.text, ucum=unit.ucum) if unit else None,
        reference_range=(
            ReferenceRange(low=reference.low, high=reference.high, text=reference.text) if reference else None
        ),
        flag=flag,
        confidence=confidence,
        page=line.page,
        bbox=line.bbox,
    )


def unique_lab_codes(lab_results: list[LabResult]) -> tuple[list[LabResult], list[str]]:
    """Lab results without the codes that two of them were given, and why: a report prints each test once, so two
    lines coded alike ("Total Cholesterol" and an LDL row whose "LDL" OCR lost) hold at least one wrong code, and
    which one is not known. Their code is left out (confidence 0.5) and the document goes to review."""
    counts = Counter(lab.test.loinc.code for lab in lab_results if lab.test.loinc)
    repeated = {code for code, n in counts.items() if n > 1}
    positions: dict[str, list[str]] = {code: [] for code in sorted(repeated)}
    for index, lab in enumerate(lab_results, start=1):
        if lab.test.loinc and lab.test.loinc.code in repeated:
            positions[lab.test.loinc.code].append(str(index))
    reasons = [f"lab results {', '.join(at)}: read as the same test ({code})" for code, at in positions.items()]
    kept = [
        lab.model_copy(
            update={"test": lab.test.model_copy(update={"loinc": None}), "confidence": min(lab.confidence, 0.5)}
        )
        if lab.test.loinc and lab.test.loinc.code in repeated
        else lab
        for lab in lab_results
    ]
    return kept, reasons


#: A coded result whose value, in its code's unit, is more than this many times under the code's flowsheet normal
#: range or over it sends its document to review: its value or unit was misread ("HB 1538 g/dl" for 15.38, "6.16
#: 103/uL" for 10*3/uL), or, more rarely, its code is wrong ("Pree T3 6.45 pg/mL" coded as total T3, 90–245 ng/dL).
#: Chosen on train and calib (2026-12-07, by hand, the served OCR and tagger): of 3,917 coded results with a value
#: and a unit, the 11 past 50 times all had a misread value or unit, and a right code, so the code is kept; past 35
#: times right values begin (TSH 0.01, HDL 1 mg/dL: the corpus prints extremes).
IMPLAUSIBLE = 50.0


def implausible_values(lab_results: list[LabResult], vocabulary: VocabularyIndex) -> list[str]:
    """Why lab results' values cannot be what their codes measure (:data:`IMPLAUSIBLE`), for review. A value of 0 or
    below, or one whose unit does not convert to the code's, is not judged."""
    reasons = []
    for index, lab in enumerate(lab_results, start=1):
        factor = _outside_normal(lab, vocabulary)
        if factor is not None and factor > IMPLAUSIBLE and lab.test.loinc is not None and lab.unit is not None:
            reasons.append(
                f"lab result {index}: {lab.value_text} {lab.unit.text} is {factor:.0f} times outside the normal range"
                f" of {lab.test.loinc.code} (value, unit or test misread)"
            )
    return reasons


def _outside_normal(lab: LabResult, vocabulary: VocabularyIndex) -> float | None:
    """How many times the value is under its code's normal range or over it (1.0 inside); None when not judged."""
    if lab.test.loinc is None or lab.value is None or lab.value <= 0 or lab.unit is None or lab.unit.ucum is None:
        return None
    low, high, ucum = vocabulary.normal_range(lab.test.loinc.code)
    if ucum is None or (low is None and high is None):
        return None
    try:
        value = labvalues.convert(
            value=lab.value, from_ucum=lab.unit.ucum, to_ucum=ucum, loinc_code=lab.test.loinc.code
        )
    except labvalues.UnitConversionError:
        return None
    if low is not None and low > 0 and value < low:
        return low / value
    if high is not None and high > 0 and value > high:
        return value / high
    return 1.0


def _confidence(calibration: Calibration, kind: str, match: DrugMatch | LabTestMatch | None) -> float:
    if match is None:
        return 0.0
    return calibration.confidence(kind=kind, method=match.method, similarity=match.score, margin=match.margin)


def review_reasons(
    medications: list[Medication],
    lab_results: list[LabResult],
    document_type: str,
    found: Sequence[str] = (),
    page_confidence: Mapping[int, float] | None = None,
) -> list[str]:
    """Why a person should look at this extraction (empty when nothing is uncertain); ``found``: reasons already
    known (:func:`unique_lab_codes`); ``page_confidence``: each page's mean OCR word confidence (0–1)."""
    reasons = list(found)
    if document_type == "unknown":
        reasons.append("document type not recognised")
    for page, confidence in sorted((page_confidence or {}).items()):
        if confidence < LEGIBLE_PAGE:
            reasons.append(f"page {page}: hard to read (mean OCR confidence {confidence:.2f})")
    for index, item in enumerate(medications, start=1):
        if item.drug.rxnorm is None:
            reasons.append(f"medication {index}: no confident RxNorm match")
    for index, lab in enumerate(lab_results, start=1):
        if lab.test.loinc is None:
            reasons.append(f"lab result {index}: no confident LOINC match")
        if lab.value is None and not labvalues.parse_value(text=lab.value_text).readable:
            reasons.append(f"lab result {index}: no value read")
    if document_type != "unknown" and not medications and not lab_results:
        reasons.append("no medication or lab result found")
    return reasons


def result(
    *,
    document_id: str,
    document_type: str,
    groups: Groups,
    medications: list[Medication],
    lab_results: list[LabResult],
    model_versions: ModelVersions,
    reasons_found: Sequence[str] = (),
    page_confidence: Mapping[int, float] | None = None,
) -> ExtractionResult:
    """The rxlab.extraction/v1 document."""
    reasons = review_reasons(medications, lab_results, document_type, reasons_found, page_confidence)
    return ExtractionResult(
        document_id=document_id,
        document_type=document_type,
        patient=patient(groups.header),
        prescriber=prescriber(groups.header),
        document_date=parse_date(_entity(groups.header, "DATE")),
        medications=medications,
        lab_results=lab_results,
        needs_review=bool(reasons),
        review_reasons=reasons,
        model_versions=model_versions,
    )
