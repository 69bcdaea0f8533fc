"""The vocabulary index as the normaliser uses it: drug names → RxNorm, lab-test names → LOINC.

The SQLite file written by :func:`services.normaliser.vocabulary.build.build_index` is read once per worker process
into dictionaries; matching is then in-memory. A name is looked up by its canonical key
(:mod:`services.normaliser.vocabulary.terms`); when no key is equal, the closest key by edit distance
(rapidfuzz ``ratio``) is taken and its similarity is the match score. Callers treat a score below their review
threshold as "no confident match" — an OCR-damaged name is sent to review, not coded by a guess.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from services.normaliser.vocabulary.build import ClinicalDrugRow
from services.normaliser.vocabulary.terms import INSTRUCTION_WORDS, lab_key, normalise_term

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
_KIND_RANK = {"IN": 0, "PIN": 1, "MIN": 2, "BN": 3}
#: Specimens a printed name without one most likely means, best first (a lab's "Creatinine" is a serum test).
_PREFERRED_SYSTEMS = (" in Serum or Plasma", " in Blood", " of Blood")
#: Score of a name whose best codes tie (same unit and specimen): below review, a person picks the code.
AMBIGUOUS_SCORE = 0.85
_PARENTHESISED = re.compile(r"\(([^)]*)\)")
_SIMILAR_FORMS = {"syrup": {"syrup", "solution", "suspension"}, "solution": {"solution", "syrup"}}


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
    """

    rxcui: str
    name: str
    tty: str
    scd_rxcui: str | None
    scd_name: str | None
    brand: str | None
    score: float
    text: str


@dataclass(frozen=True, slots=True)
class LabTestMatch:
    """A lab-test name coded to LOINC (``name`` is LOINC's LONG_COMMON_NAME)."""

    code: str
    name: str
    ucum: str | None
    score: float


@dataclass(frozen=True, slots=True)
class _Loinc:
    code: str
    name: str
    ucum: str | None
    rows: int


@dataclass(frozen=True, slots=True)
class _Hit:
    term: DrugTerm
    score: float
    text: str  # the printed words that matched


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
        )

    def _lookup_drug(self, text: str) -> list[_Hit]:
        """The whole text's key, else names found exactly among its words, else the closest key."""
        words = [w for w in text.split() if w.lower().strip(".") not in RELEASE_WORDS]
        key = normalise_term(" ".join(words))
        if not key:
            return []
        if key in self._drug_terms:
            return [_Hit(self._drug_terms[key][0], 1.0, text)]
        inside = self._names_inside(words)
        if inside:
            return inside
        found = process.extractOne(key, self._drug_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if found is None:
            return []
        return [_Hit(self._drug_terms[found[0]][0], round(found[1] / 100, 4), text)]

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
                    hits.append(_Hit(self._drug_terms[key][0], NAME_INSIDE_SCORE, printed))
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
    def match_lab_test(self, *, text: str, unit: str | None) -> LabTestMatch | None:
        """Code a printed lab-test name ("Haemoglobin", "S. Creatinine", "HDL Cholesterol").

        Args:
            text: The test name as printed.
            unit: The result's UCUM unit, used to choose between codes of one name (mass vs molar concentration).

        Returns:
            The best match, or None when no name is similar enough to be a candidate.
        """
        key = lab_key(text)
        if not key:
            return None
        if key in self._lab_terms:
            codes, score = self._lab_terms[key], 1.0
        else:
            found = process.extractOne(key, self._lab_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            if found is None:
                return None
            codes, score = self._lab_terms[found[0]], round(found[1] / 100, 4)
        ranked = sorted(
            ((_lab_preference(self._loinc[c], unit, printed), self._loinc[c]) for c, printed in codes), reverse=True
        )
        best = ranked[0][1]
        if len(ranked) > 1 and ranked[1][0][:3] == ranked[0][0][:3]:
            score = min(score, AMBIGUOUS_SCORE)  # e.g. "LDL Cholesterol": calculated or direct assay
        return LabTestMatch(code=best.code, name=best.name, ucum=best.ucum, score=score)


def _name_parts(text: str) -> list[str]:
    """The names in a printed drug text: "Glucophage (Metformin)" → ["Glucophage", "Metformin"]."""
    inside = [m.strip() for m in _PARENTHESISED.findall(text) if m.strip()]
    outside = _PARENTHESISED.sub(" ", text).strip()
    return [p for p in (outside, *inside) if p]


def _unit_key(unit: str) -> str:
    """Units compared as written in practice: case-folded, "mcg" as "ug", "^" as "*"."""
    return unit.lower().replace("mcg", "ug").replace("^", "*").replace("µ", "u")


def _lab_preference(row: _Loinc, unit: str | None, printed: bool) -> tuple[bool, bool, int, int, str]:
    """Order of the codes sharing a name: same unit, then found by a name labs print (not only LOINC's component),
    then serum/plasma, blood; then the most used, then the code. A tie on the first three is ambiguous."""
    same_unit = unit is not None and row.ucum is not None and _unit_key(row.ucum) == _unit_key(unit)
    system = next((len(_PREFERRED_SYSTEMS) - i for i, s in enumerate(_PREFERRED_SYSTEMS) if row.name.endswith(s)), 0)
    return same_unit, printed, system, row.rows, row.code
