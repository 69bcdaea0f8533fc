"""The vocabulary index as the normaliser uses it: drug names → RxNorm, lab-test names → LOINC.

The SQLite file written by :func:`services.normaliser.vocabulary.build.build_index` is read once per worker process
into dictionaries; matching is then in-memory. A name is looked up by its canonical key
(:mod:`services.normaliser.vocabulary.terms`); when no key is equal, by a part of it, by names inside it, with
OCR-damaged words corrected, or by the closest key by edit distance (rapidfuzz ``ratio``). Each match says how it
was found (:data:`Method`) and its similarity; :mod:`services.normaliser.calibration` turns that into the measured
probability that the code is right, and callers give no code below their review threshold — an OCR-damaged name
is sent to review, not coded by a guess.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rapidfuzz import fuzz, process

from services.normaliser.labvalues import same_kind_of_unit
from services.normaliser.vocabulary.build import ClinicalDrugRow
from services.normaliser.vocabulary.terms import (
    INSTRUCTION_WORDS,
    LAB_WORDS,
    WordCorrector,
    lab_key,
    lab_words,
    normalise_term,
)

#: Below this similarity (0–100) a fuzzy candidate is not returned at all.
FUZZY_CUTOFF = 75.0
#: Printed words that name a release mechanism: they select the clinical drug's dose form, not the ingredient.
RELEASE_WORDS: dict[str, str] = {
    "sr": "Extended Release",
    "er": "Extended Release",
    "xr": "Extended Release",
    "xl": "Extended Release",
    "cr": "Extended Release",
    "la": "Extended Release",
    "mr": "Extended Release",
    "dr": "Delayed Release",
    "ec": "Delayed Release",
}
#: Score of a name found exactly inside longer drug words (above the review threshold: the name itself is exact).
NAME_INSIDE_SCORE = 0.95
#: Shortest key, and words never taken for a name, when looking for names inside longer drug words.
MIN_NAME_INSIDE = 5
NOT_NAMES = INSTRUCTION_WORDS | {"daily", "tablet", "tablets", "capsule", "capsules", "drops", "twice", "times"}
_KIND_RANK = {"IN": 0, "PIN": 1, "MIN": 2, "BN": 3, "SY": 4}
#: Specimens a printed name without one most likely means, best first (a lab's "Creatinine" is a serum test).
_PREFERRED_SYSTEMS = (" in Serum or Plasma", " in Blood", " of Blood")
#: Score of a name coded by one of its parts ("SGPT (ALT)"), the parts agreeing on the code.
PART_SCORE = 0.98
#: Score of a name coded after reading OCR-damaged words as vocabulary words one character away ("Potassiun").
CORRECTED_SCORE = 0.95
_PARENTHESISED = re.compile(r"\(([^)]*)\)")
_SIMILAR_FORMS = {"syrup": {"syrup", "solution", "suspension"}, "solution": {"solution", "syrup"}}


#: How a name was coded (the calibration's categories, :mod:`services.normaliser.calibration`).
Method = Literal["exact", "part", "inside", "corrected", "fuzzy", "short", "ambiguous", "range", "interrupted"]
#: Shortest name whose closest key is a "fuzzy" match; a shorter one ("Dolo" ~ "Qdolo") is "short": one edit in
#: four letters is too much of the name to trust the similarity alone.
MIN_FUZZY_LENGTH = 6


@dataclass(frozen=True, slots=True)
class DrugTerm:
    kind: str
    rxcui: str
    name: str
    target: str


@dataclass(frozen=True, slots=True)
class DrugMatch:
    """A drug name coded to RxNorm.

    Attributes:
        rxcui, name, tty: The ingredient concept (IN, or MIN for a combination).
        scd_rxcui, scd_name: The clinical drug matching ingredient, strength and form, when exactly one does.
        brand: The RxNorm brand name, when the printed name was a brand.
        score: Similarity of the printed name to the matched name, 0–1 (1 for an equal key).
        text: The printed words that matched (the drug words without instructions left in them).
        method: How the name was found; ``ambiguous`` when another concept matched as well.
        margin: For a closest-key match, its similarity minus that of the closest key of another concept.
    """

    rxcui: str
    name: str
    tty: str
    scd_rxcui: str | None
    scd_name: str | None
    brand: str | None
    score: float
    text: str
    method: Method = "exact"
    margin: float = 0.0


@dataclass(frozen=True, slots=True)
class LabTestMatch:
    """A lab-test name coded to LOINC (``name`` is LOINC's LONG_COMMON_NAME; method and margin as for drugs)."""

    code: str
    name: str
    ucum: str | None
    score: float
    method: Method = "exact"
    margin: float = 0.0


#: Rank of a LOINC code for a printed name (:func:`_lab_preference`); the first ``_DECIDING`` places decide.
_Rank = tuple[bool, bool, bool, int, bool, float, int, str]
_DECIDING = 6
#: The method a printed name that names none means: an analyser's automated count for blood cells (as CBCs are
#: reported); else the code without a method; a calculated value before another named method (the routine lipid
#: profile's LDL is calculated; a direct LDL assay is printed as such); any other method last.
_METHOD_RANK = {"Automated count": 3, "calculation": 1.5}
#: Printed words that name the specimen serum or plasma ("S." only at the start: "S. Creatinine").
_SERUM_WORDS = re.compile(r"\b(?:serum|ser|serpl|plasma|plas)\b|^\s*s\.", re.IGNORECASE)
#: The specimen and scale tags of a flowsheet name ("SerPl Qn": serum or plasma, quantitative) as OCR damages them:
#: "SerP!I Qn", "SerPi", "SexP1 On", "SerPIQn", "SerPl gn", "Ser On".
_FLOWSHEET_TAGS = re.compile(
    r"(?<![A-Za-z])S[ec][rx](?:(?P<plasma>P[^\sA-Za-z]?[lI1i|!t]{0,2})(?P<scale>\s*[QO0og][nr])?|\s+(?P<alone>[QO0og][nr]))"
    r"(?![A-Za-z])",
    re.IGNORECASE,
)
#: Codes of a lab-test name (each with whether labs print that name), score, method, closest-key margin.
_LabFound = tuple[list[tuple[str, bool]], float, Method, float]


@dataclass(frozen=True, slots=True)
class _Loinc:
    code: str
    name: str
    ucum: str | None
    rows: int
    norm_low: float | None = None
    norm_high: float | None = None


@dataclass(frozen=True, slots=True)
class _Hit:
    term: DrugTerm
    score: float
    text: str  # the printed words that matched
    method: Method = "exact"
    margin: float = 0.0


class VocabularyIndex:
    """RxNorm and LOINC lookups over one index file (read-only, shared by the threads of a process)."""

    def __init__(self, *, version: str, db: sqlite3.Connection) -> None:
        self.version = version
        self._concepts = {rxcui: (name, tty) for rxcui, name, tty in db.execute("SELECT * FROM concept")}
        self._drug_terms: dict[str, list[DrugTerm]] = defaultdict(list)
        for term, kind, rxcui, name, target in db.execute("SELECT * FROM drug_term"):
            self._drug_terms[term].append(DrugTerm(kind=kind, rxcui=rxcui, name=name, target=target))
        for terms in self._drug_terms.values():
            terms.sort(key=lambda t: (_KIND_RANK.get(t.kind, 9), t.rxcui))
        self._clinical: dict[str, list[ClinicalDrugRow]] = defaultdict(list)
        for row in db.execute("SELECT * FROM clinical_drug ORDER BY rxcui"):
            drug = ClinicalDrugRow(*row)
            self._clinical[drug.ingredient_rxcui].append(drug)
        self._brand_drugs: dict[str, set[str]] = defaultdict(set)
        for brand, scd in db.execute("SELECT * FROM brand_drug"):
            self._brand_drugs[brand].add(scd)
        self._loinc = {row[0]: _Loinc(*row) for row in db.execute("SELECT * FROM loinc")}
        self._lab_terms: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for term, code, printed in db.execute("SELECT term, code, printed FROM loinc_term ORDER BY code"):
            self._lab_terms[term].append((code, bool(printed)))
        self._drug_keys = list(self._drug_terms)
        self._lab_keys = list(self._lab_terms)
        self._lab_words = WordCorrector(
            {w for key in self._lab_keys for w in key.split()} | lab_words(), spellings=LAB_WORDS
        )
        drug_words = {w for key in self._drug_keys for w in key.split()}
        one_word_names = {key: terms[0].target for key, terms in self._drug_terms.items() if " " not in key}
        self._drug_words = WordCorrector(
            drug_words, spellings={}, min_length=6, alone_within=2, concepts=one_word_names
        )

    @classmethod
    def open(cls, path: Path) -> VocabularyIndex:
        """Load the index file at ``path``.

        Raises:
            FileNotFoundError: there is no index at ``path`` (build it with ``rxlab vocab build``).
        """
        if not path.is_file():
            raise FileNotFoundError(f"no vocabulary index at {path}; run `rxlab vocab build`")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
            index = cls(version=version, db=db)
        db.close()
        return index

    # ------------------------------------------------------------------------------------------------ drugs
    def is_drug_name(self, text: str) -> bool:
        """Whether ``text`` is, as a whole, a name of the index ("Claritin Eye", though "eye" is an instruction)."""
        return normalise_term(text) in self._drug_terms

    def match_drug(self, *, text: str, strength: tuple[float, str] | None, form: str | None) -> DrugMatch | None:
        """Code a printed drug name ("Glucophage (Metformin)", "Metformin HCl SR").

        Args:
            text: The drug words as printed.
            strength: The printed strength as (value, UCUM unit), used to pick the clinical drug.
            form: The printed dose form word (docs/conventions.md), used to pick the clinical drug.

        Returns:
            The best match, or None when no name is similar enough to be a candidate.
        """
        words = text.lower().split()
        release = next((RELEASE_WORDS[w.strip(".")] for w in words if w.strip(".") in RELEASE_WORDS), None)
        hits = [hit for part in _name_parts(text) for hit in self._lookup_drug(part)]
        if not hits:
            return None
        generic = [h for h in hits if h.term.kind != "BN"]
        best = max(generic or hits, key=lambda h: h.score)
        target = best.term.target
        brand_hit = next((h for h in hits if h.term.kind == "BN" and h.term.target == target), None)
        brand = brand_hit.term if brand_hit else None
        matched = [h.text for h in hits if h is best or h is brand_hit]
        rivals = [h for h in hits if h.term.target != target and h.score >= best.score]
        method: Method = "ambiguous" if rivals else best.method
        name, tty = self._concepts[target]
        scd = self._clinical_drug(target, strength=strength, form=form, release=release, brand=brand)
        return DrugMatch(
            rxcui=target,
            name=name,
            tty=tty,
            scd_rxcui=scd.rxcui if scd else None,
            scd_name=scd.name if scd else None,
            brand=brand.name if brand else None,
            score=best.score,
            text=" ".join(matched),
            method=method,
            margin=best.margin,
        )

    def _lookup_drug(self, text: str) -> list[_Hit]:
        """The whole text's key, else names found exactly among its words, else the words with OCR-damaged ones read
        as the vocabulary word one edit away ("Metfornin"), else the closest key (``short`` under 6 letters)."""
        words = [w for w in text.split() if w.lower().strip(".") not in RELEASE_WORDS]
        key = normalise_term(" ".join(words))
        if not key:
            return []
        if key in self._drug_terms:
            return [_Hit(self._drug_terms[key][0], 1.0, text)]
        inside = self._names_inside(words)
        if inside:
            return inside
        corrected = normalise_term(self._drug_words.correct(" ".join(words)))
        if corrected in self._drug_terms:
            return [_Hit(self._drug_terms[corrected][0], CORRECTED_SCORE, text, "corrected")]
        found = process.extract(key, self._drug_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=10)
        if not found:
            return []
        best = self._drug_terms[found[0][0]][0]
        rival = next((score for k, score, _ in found if self._drug_terms[k][0].target != best.target), FUZZY_CUTOFF)
        score = round(found[0][1] / 100, 4)
        method: Method = "fuzzy" if len(key) >= MIN_FUZZY_LENGTH else "short"
        return [_Hit(best, score, text, method, round(score - rival / 100, 4))]

    def _names_inside(self, words: list[str]) -> list[_Hit]:
        """Names equal to a run of the words ("Klonopin Clonazepam", "Torsemide after meals"), longest first.

        Such a hit scores :data:`NAME_INSIDE_SCORE`: the name is exact, but words around it were not explained.
        """
        hits: list[_Hit] = []
        taken: set[int] = set()
        for length in range(len(words) - 1, 0, -1):
            for start in range(len(words) - length + 1):
                span = range(start, start + length)
                printed = " ".join(words[i] for i in span)
                key = normalise_term(printed)
                if taken.intersection(span) or len(key) < MIN_NAME_INSIDE or key in NOT_NAMES:
                    continue
                if key in self._drug_terms:
                    hits.append(_Hit(self._drug_terms[key][0], NAME_INSIDE_SCORE, printed, "inside"))
                    taken.update(span)
        return sorted(hits, key=lambda h: words.index(h.text.split()[0]))

    def _clinical_drug(
        self,
        ingredient: str,
        *,
        strength: tuple[float, str] | None,
        form: str | None,
        release: str | None,
        brand: DrugTerm | None,
    ) -> ClinicalDrugRow | None:
        """The one SCD of ``ingredient`` with this strength (and form, release, brand when printed), else None."""
        if strength is None:
            return None
        value, unit = strength
        rows = [
            r
            for r in self._clinical.get(ingredient, [])
            if abs(r.strength_value - value) < 1e-9 and r.strength_unit.lower() == unit.lower()
        ]
        if form is not None:
            rows = [r for r in rows if r.form in _SIMILAR_FORMS.get(form, {form})]
        if brand is not None:
            rows = [r for r in rows if r.rxcui in self._brand_drugs.get(brand.rxcui, set())] or rows
        released = [r for r in rows if release is not None and release in r.name]
        plain = [r for r in rows if not any(w in r.name for w in ("Release", "Chewable", "Disintegrating"))]
        for candidates in (released, plain if release is None else [], rows):
            if len(candidates) == 1:
                return candidates[0]
        return None

    # ------------------------------------------------------------------------------------------------ labs
    def normal_range(self, code: str) -> tuple[float | None, float | None, str | None]:
        """The flowsheet normal range of a LOINC code (low, high; None where it gives none) and its UCUM unit."""
        row = self._loinc[code]
        return row.norm_low, row.norm_high, row.ucum

    def match_lab_test(
        self, *, text: str, unit: str | None, reference: tuple[float | None, float | None] | None = None
    ) -> LabTestMatch | None:
        """Code a printed lab-test name ("Haemoglobin", "S. Creatinine", "HDL Cholesterol").

        Args:
            text: The test name as printed.
            unit: The result's UCUM unit, used to choose between codes of one name (mass vs molar concentration).
            reference: The printed reference range (low, high), used when the name and unit leave two codes: the
                code whose flowsheet normal range it matches, when only one does (method ``range``).

        Returns:
            The best match, or None when no name is similar enough to be a candidate.
        """
        found = self._lab_codes(text)
        if found is None:
            return None
        codes, score, method, margin = found
        serum = _SERUM_WORDS.search(_read_flowsheet_tags(text)) is not None
        ranked = sorted(
            ((_lab_preference(self._loinc[c], unit, printed, serum=serum), self._loinc[c]) for c, printed in codes),
            reverse=True,
        )
        best = ranked[0][1]
        contenders: list[_Loinc] = []
        if len(ranked) > 1 and ranked[1][0][:_DECIDING] == ranked[0][0][:_DECIDING]:
            method = "ambiguous"  # e.g. "LDL Cholesterol": calculated or direct assay
            contenders = [row for rank, row in ranked if rank[:_DECIDING] == ranked[0][0][:_DECIDING]]
        elif unit is None and _unit_would_decide(ranked):
            method = "ambiguous"  # "Eosinophils" with its unit unread: the share (%) or the count (10*3/uL)
            contenders = _unit_contenders(ranked)
        decided = self._by_printed_range(ranked, contenders, reference) if reference is not None else None
        if decided is not None:
            best, method = decided, "range"
        return LabTestMatch(code=best.code, name=best.name, ucum=best.ucum, score=score, method=method, margin=margin)

    @staticmethod
    def _by_printed_range(
        ranked: list[tuple[_Rank, _Loinc]], contenders: list[_Loinc], reference: tuple[float | None, float | None]
    ) -> _Loinc | None:
        """The code the printed reference range decides for (:func:`_by_range`): among the ``contenders`` the name
        and unit left; else, when none of them has that range or the range contradicts the chosen code ("Calcium
        9.9 mg/d 8.6 - 10.2" is not the 24-hour urine test), among all codes of the name with a normal range but
        challenge tests ("TSH 0.35 - 5.50": the third-generation assay's 0.35–5.5)."""
        decided = _by_range(contenders, reference) if contenders else None
        # A bound that cannot be compared (a printed low of 0 or below where the code's is above: "——-3.80-4.80",
        # OCR's dashes read as a minus) is no evidence against the code the name and unit chose.
        distance = _range_distance(reference, _normal(ranked[0][1])) or 0.0
        contradicted = RANGE_CONTRADICTS < distance < math.inf
        if decided is None and (contenders or contradicted):
            routine = [row for rank, row in ranked if rank[4]]
            decided = _by_range(routine, reference, known_only=True)
        return decided

    def _by_method(self, codes: list[tuple[str, bool]], hints: set[str]) -> list[tuple[str, bool]]:
        """The codes whose method the printed ``hints`` name: among ``codes`` ("LDL-C (calc)": "... by calculation"),
        else the codes "<name of a code> by <method>" ("HbA1c (HPLC)": "... by HPLC")."""
        named = [(code, printed) for code, printed in codes if _names_method(self._loinc[code].name, hints)]
        if named:
            return named
        found = []
        for code, printed in codes:
            prefix = f"{self._loinc[code].name} by ".lower()
            for other in self._loinc.values():
                name = other.name.lower()
                if name.startswith(prefix) and hints & set(name[len(prefix) :].replace("/", " ").split()):
                    found.append((other.code, printed))
        return found

    def _lab_codes(self, text: str) -> _LabFound | None:
        """The codes of the name's key, the match score, how it was found and the closest-key margin: the whole
        name, else a part of it ("Sodium (Na+)", "SGPT (ALT)"), else the name with OCR-damaged words read as the
        vocabulary word they differ from by one character ("Potassiun", "SerP!"), else the closest key."""
        key = lab_key(text)
        if not key:
            return None
        if key in self._lab_terms:
            return self._lab_terms[key], 1.0, "exact", 0.0
        tagged = _read_flowsheet_tags(text)
        if tagged != text:
            text, key = tagged, lab_key(tagged)
            if key in self._lab_terms:
                return self._lab_terms[key], CORRECTED_SCORE, "corrected", 0.0
        by_part = self._lab_parts(text)
        if by_part is not None:
            return by_part
        corrected = lab_key(self._lab_words.correct(text))
        if corrected != key and corrected in self._lab_terms:
            return self._lab_terms[corrected], CORRECTED_SCORE, "corrected", 0.0
        return self._closest_lab(key)

    def _lab_parts(self, text: str) -> _LabFound | None:
        """Codes of the name's parts: those they share ("SGPT (ALT)"); a part that names no test may name the method
        ("HbA1c (HPLC)" is the code "... by HPLC"); parts naming different tests are ambiguous."""
        parts = _name_parts(text)
        coded = [self._lab_terms[k] for k in (lab_key(part) for part in parts) if k in self._lab_terms]
        if len(parts) < 2 or not coded:
            return None
        shared = [c for c in coded[0] if all(c[0] in {code for code, _ in other} for other in coded[1:])]
        if not shared:
            return coded[0], PART_SCORE, "ambiguous", 0.0
        hints = {w for part in parts if lab_key(part) not in self._lab_terms for w in part.lower().split()}
        return self._by_method(shared, hints) or shared, PART_SCORE, "part", 0.0

    def _closest_lab(self, key: str) -> _LabFound | None:
        """The closest key by edit distance, with its margin over the closest key of other codes."""
        found = process.extract(key, self._lab_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=10)
        if not found:
            return None
        codes = self._lab_terms[found[0][0]]
        best_codes = {c for c, _ in codes}
        rival = next(
            (score for k, score, _ in found if not best_codes & {c for c, _ in self._lab_terms[k]}), FUZZY_CUTOFF
        )
        score = round(found[0][1] / 100, 4)
        method: Method = "fuzzy" if len(key) >= MIN_FUZZY_LENGTH else "short"
        return codes, score, method, round(score - rival / 100, 4)


def _read_flowsheet_tags(text: str) -> str:
    """``text`` with OCR-damaged flowsheet tags read as printed: "Albumin SerP!I On" → "Albumin SerPl Qn", "Folate
    Ser On" → "Folate Ser Qn"."""

    def read(tags: re.Match[str]) -> str:
        specimen = "SerPl" if tags.group("plasma") else "Ser"
        return f"{specimen} Qn" if tags.group("scale") or tags.group("alone") else specimen

    return _FLOWSHEET_TAGS.sub(read, text)


def _name_parts(text: str) -> list[str]:
    """The names in a printed drug text: "Glucophage (Metformin)" → ["Glucophage", "Metformin"]."""
    inside = [m.strip() for m in _PARENTHESISED.findall(text) if m.strip()]
    outside = _PARENTHESISED.sub(" ", text).strip()
    return [p for p in (outside, *inside) if p]


def _unit_would_decide(ranked: list[tuple[_Rank, _Loinc]]) -> bool:
    """Whether a code of the same specimen as the best one has another kind of unit (the unread unit would decide)."""
    (best_rank, best), *others = ranked
    return any(
        rank[3] == best_rank[3] and row.ucum and best.ucum and not _same_unit_kind(row.ucum, best.ucum)
        for rank, row in others
    )


def _unit_contenders(ranked: list[tuple[_Rank, _Loinc]]) -> list[_Loinc]:
    """The best code of each kind of unit among the codes of the best one's specimen (the unread unit's choices)."""
    (best_rank, best), *others = ranked
    chosen = [best]
    for rank, row in others:
        if (
            rank[3] == best_rank[3]
            and row.ucum
            and not any(c.ucum and _same_unit_kind(row.ucum, c.ucum) for c in chosen)
        ):
            chosen.append(row)
    return chosen


#: Largest distance (:func:`_range_distance`) of a printed reference range to the normal range of the code it
#: decides for, and the least by which every other code's normal range must be further away.
RANGE_MATCH = 0.3
RANGE_MARGIN = 0.3
#: Distance from which a printed reference range contradicts the normal range of the code the name and unit chose
#: (the code is then chosen again among all codes of the name, by the range).
RANGE_CONTRADICTS = 1.5


def _normal(row: _Loinc) -> tuple[float | None, float | None]:
    return row.norm_low, row.norm_high


def _by_range(
    contenders: list[_Loinc], reference: tuple[float | None, float | None], *, known_only: bool = False
) -> _Loinc | None:
    """The one code among ``contenders`` whose flowsheet normal range the printed reference range matches: within
    :data:`RANGE_MATCH` of it and every other contender at least :data:`RANGE_MARGIN` further. A contender without
    a normal range makes the choice impossible, unless ``known_only`` (the codes with a range are then compared).
    "Albumin 3.5-5.5" is the mass concentration (3.5–5.5 g/dL), not the substance concentration (526.6–827.6
    umol/L); "TSH 0.35 - 5.50" is the third-generation assay's range (0.35–5.5), not that of the generic code
    (0.4–4.2)."""
    distances = [_range_distance(reference, _normal(row)) for row in contenders]
    if len(contenders) < 2 or (not known_only and any(d is None for d in distances)):
        return None
    known = sorted((d, at) for at, d in enumerate(distances) if d is not None)
    if not known:
        return None
    best, at = known[0]
    second = known[1][0] if len(known) > 1 else math.inf
    return contenders[at] if best <= RANGE_MATCH and second - best >= RANGE_MARGIN else None


def _range_distance(
    printed: tuple[float | None, float | None], normal: tuple[float | None, float | None]
) -> float | None:
    """Sum over the bounds both ranges give, of |ln(printed / normal)| (a bound of 0 agrees only with 0); None when
    they share no bound."""
    total, shared = 0.0, 0
    for a, b in zip(printed, normal, strict=True):
        if a is None or b is None:
            continue
        shared += 1
        if a <= 0 or b <= 0:
            total += 0.0 if a == b == 0 else math.inf
        else:
            total += abs(math.log(a / b))
    return total if shared else None


def _names_method(name: str, hints: set[str]) -> bool:
    """Whether a printed hint ("calc", "hplc") begins a word of the method of a LOINC name ("by calculation")."""
    _, by, method = name.partition(" by ")
    words = method.lower().replace("/", " ").split() if by else []
    return any(word.startswith(hint) for hint in hints if len(hint) >= 3 for word in words)


def _has_system(name: str, system: str) -> bool:
    """Whether a LOINC name's system is ``system``, a method after it or not ("... in Blood by Automated count")."""
    return name.endswith(system) or f"{system} by " in name


#: A flowsheet's rate per 24 hours as some of its rows write it ("mg/24", "mcg/24"), without the hours.
_PER_24 = re.compile(r"/24$")


def _same_unit_kind(a: str, b: str) -> bool:
    """Units as flowsheets and reports write them ("mcg", "µ", "^", "mg/24" for mg per 24 hours) compared by kind of
    quantity: "mg/24" is a mass rate, not a mass (a unit read as "mg" alone does not choose the 24-hour urine test)."""

    def form(unit: str) -> str:
        return _PER_24.sub("/(24.h)", unit.replace("mcg", "ug").replace("^", "*").replace("µ", "u"))

    return same_kind_of_unit(form(a), form(b))


def _lab_preference(row: _Loinc, unit: str | None, printed: bool, *, serum: bool = False) -> _Rank:
    """Order of the codes sharing a name.

    First the printed specimen (``serum``: the name says serum or plasma, as in "Serum Albumin", "S. Creatinine",
    "SerPl": a misread unit must not make it a urine test); then the same kind of unit; found by a name labs print
    (not only LOINC's component); serum/plasma, then blood; not a challenge-test code ("--30 minutes post dose
    TRH"); the method a printed name without one means (:data:`_METHOD_RANK`); then the most used, then the code.
    A tie on all but the last two is ambiguous.
    """
    same_unit = unit is not None and row.ucum is not None and _same_unit_kind(row.ucum, unit)
    systems = enumerate(_PREFERRED_SYSTEMS)
    system = next((len(_PREFERRED_SYSTEMS) - i for i, s in systems if _has_system(row.name, s)), 0)
    method = _METHOD_RANK.get(row.name.partition(" by ")[2], 2 if " by " not in row.name else 0)
    specimen = not serum or _has_system(row.name, " in Serum or Plasma")
    return specimen, same_unit, printed, system, " --" not in row.name, method, row.rows, row.code
