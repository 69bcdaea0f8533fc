"""Canonical search keys for drug and lab-test names, the same on the index side and the query side.

A key is the set of a name's words after case folding, spelling and abbreviation canonicalisation and the removal of
words that do not name the concept (specimen and method tags of flowsheet names, "count", "level", ...), sorted and
joined by spaces. Word order then does not matter ("HDL Cholesterol" and "Cholesterol in HDL" share a key, as do
"Sitagliptin + Metformin" and "metformin / sitagliptin"). The tables below are spelling knowledge, not codes: every
code comes from the vocabulary files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
#: A strength or its unit left among the drug words when OCR misread the number ("| mg/ml").
_UNIT_WORD = re.compile(r"[\d|.,]*(?:mg|mcg|ug|g|ml|iu|%)(?:/\d*(?:ml|g|mg))?", re.IGNORECASE)

#: Drug-name words written in more than one way on prescriptions.
DRUG_WORDS: dict[str, str] = {"hcl": "hydrochloride", "hbr": "hydrobromide", "na": "sodium", "k": "potassium"}
_DRUG_DROP = frozenset({"and", "with"})

#: Whole printed names (after lower-casing and collapsing non-alphanumerics) that labs use for a LOINC component.
LAB_PHRASES: dict[str, str] = {
    "hb": "hemoglobin",
    "hgb": "hemoglobin",
    "hba1c": "hemoglobin a1c",
    "glycated hemoglobin": "hemoglobin a1c",
    "glycosylated hemoglobin": "hemoglobin a1c",
    "a1c": "hemoglobin a1c",
    "sgpt": "alanine aminotransferase",
    "alt": "alanine aminotransferase",
    "alt sgpt": "alanine aminotransferase",
    "sgot": "aspartate aminotransferase",
    "ast": "aspartate aminotransferase",
    "ast sgot": "aspartate aminotransferase",
    "alp": "alkaline phosphatase",
    "tsh": "thyrotropin",
    "t3": "triiodothyronine",
    "t4": "thyroxine",
    "ft4": "thyroxine free",
    "free t4": "thyroxine free",
    "ft3": "triiodothyronine free",
    "free t3": "triiodothyronine free",
    "bun": "urea nitrogen",
    "blood urea nitrogen": "urea nitrogen",
    "hdl": "cholesterol hdl",
    "ldl": "cholesterol ldl",
    "vldl": "cholesterol vldl",
    "wbc": "leukocytes",
    "tlc": "leukocytes",
    "total leucocyte count": "leukocytes",
    "total leukocyte count": "leukocytes",
    "white blood cells": "leukocytes",
    "rbc": "erythrocytes",
    "red blood cells": "erythrocytes",
    "plt": "platelets",
    "esr": "erythrocyte sedimentation rate",
    "mcv": "erythrocyte mean corpuscular volume",
    "mch": "erythrocyte mean corpuscular hemoglobin",
    "mchc": "erythrocyte mean corpuscular hemoglobin concentration",
    "hct": "hematocrit",
    "pcv": "hematocrit",
    "packed cell volume": "hematocrit",
}
#: Word spellings and abbreviations, after the phrase table.
LAB_WORDS: dict[str, str] = {
    "haemoglobin": "hemoglobin",
    "hgb": "hemoglobin",
    "hb": "hemoglobin",
    "haematocrit": "hematocrit",
    "leucocytes": "leukocytes",
    "leucocyte": "leukocytes",
    "leukocyte": "leukocytes",
    "erythrocyte": "erythrocytes",
    "platelet": "platelets",
    "cholest": "cholesterol",
    "chol": "cholesterol",
    "trigl": "triglyceride",
    "triglycerides": "triglyceride",
    "creat": "creatinine",
    "alb": "albumin",
    "prot": "protein",
    "proteins": "protein",
    "gluc": "glucose",
    "sugar": "glucose",
    "bili": "bilirubin",
    "phos": "phosphate",
    "phosphorus": "phosphate",
    "uric": "urate",
    "oestradiol": "estradiol",
    "haem": "hem",
    "b12": "b12 cobalamin",
    "calc": "calculated",
    "hdlc": "cholesterol hdl",
    "ldlc": "cholesterol ldl",
}
#: Words that tag specimen, method or presentation in flowsheet and printed names, not the analyte.
_LAB_DROP = frozenset(
    {
        "in", "of", "by", "the", "serum", "plasma", "blood", "ser", "serpl", "plas", "bld", "qn", "poc", "csh",
        "mcnc", "scnc", "ccnc", "acnc", "ncnc", "mfr", "count", "level", "levels", "total", "s", "test", "auto",
        "automated", "ratio", "pl", "or", "value", "conc", "mass", "molar",
    }
)  # fmt: skip


#: Words of instructions that a line's leftover drug words may still hold ("Terbinafine - to affected area").
INSTRUCTION_WORDS = frozenset(
    {"after", "before", "meals", "meal", "food", "apply", "affected", "area", "water", "with", "to", "at", "on",
     "bedtime", "night", "morning", "use", "locally", "in", "both", "eyes", "eye", "ears", "take", "and", "for"}
)  # fmt: skip


def trim_drug_words(text: str) -> str:
    """Drug words without the punctuation and instruction words around them: "Estradiol - with water" → "Estradiol"."""
    words = text.split()

    def junk(word: str) -> bool:
        core = word.strip("-|.,;:")
        return not core or core.lower() in INSTRUCTION_WORDS or _UNIT_WORD.fullmatch(core) is not None

    while words and junk(words[-1]):
        words.pop()
    while words and junk(words[0]):
        words.pop(0)
    return " ".join(words)


def _key(words: list[str], *, replace: Mapping[str, str], drop: frozenset[str]) -> str:
    kept = {part for word in words for part in replace.get(word, word).split()}
    return " ".join(sorted(word for word in kept if word and word not in drop))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("/", " per "))


def normalise_term(text: str) -> str:
    """Search key of a drug name: "Metformin HCl" → "hydrochloride metformin"."""
    return _key(_words(text), replace=DRUG_WORDS, drop=_DRUG_DROP | {"per"})


def lab_key(text: str) -> str:
    """Search key of a lab-test name: "HDL Cholesterol" and "Cholesterol in HDL" → "cholesterol hdl"."""
    plain = " ".join(_WORD.findall(text.lower().replace("/", " per ")))
    plain = LAB_PHRASES.get(plain, plain)
    return _key(plain.split(), replace=LAB_WORDS, drop=_LAB_DROP)


def printed_lab_names(row: Mapping[str, str]) -> dict[str, bool]:
    """The keys under which a LOINC flowsheet row is found, each with whether it is a name labs print (local,
    display or short name) rather than only LOINC's component."""
    component = row.get("LONG_COMMON_NAME", "").split(" [", 1)[0]
    # A differential count in percent ("Eosinophils/100 leukocytes") is printed under the cell's name alone.
    analyte = component.split("/100 leukocytes", 1)[0]
    printed = (row.get("INDENTEDNAME", ""), row.get("LOINC_DISPLAY", ""), row.get("LOINC_ShortName", ""))
    keys = {key: False for key in (_clean_key(name) for name in (component, analyte)) if key}
    keys.update({key: True for key in (_clean_key(name) for name in printed) if key})
    return keys


def _clean_key(name: str) -> str:
    return lab_key(name.replace(".", " ").replace("'", ""))
