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

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
#: A strength or its unit left among the drug words when OCR misread the number ("| mg/ml", "Smg" for "5mg").
_UNIT_WORD = re.compile(r"[\d|.,SOIlB]*(?:mg|mcg|ug|g|ml|iu|%)(?:/\d*(?:ml|g|mg))?", re.IGNORECASE)

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
    "ldl c": "cholesterol ldl",
    "hdl c": "cholesterol hdl",
    "ft4": "free t4",
    "ft3": "free t3",
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
    # Indian and British report names; the right-hand sides are keys of LOINC's own names and flowsheet names.
    "ppbs": "2h glucose pp",
    "ppbg": "2h glucose pp",
    "pp blood sugar": "2h glucose pp",
    "post prandial blood sugar": "2h glucose pp",
    "post prandial blood glucose": "2h glucose pp",
    "post prandial glucose": "2h glucose pp",
    "postprandial blood sugar": "2h glucose pp",
    "postprandial glucose": "2h glucose pp",
    "glucose pp": "2h glucose pp",
    "glucose pp 2 hr": "2h glucose pp",
    "glucose post prandial": "2h glucose pp",
    "plasma glucose pp": "2h glucose pp",
    "blood sugar pp": "2h glucose pp",
    "fbs": "fasting glucose",
    "fpg": "fasting glucose",
    "fasting blood sugar": "fasting glucose",
    "fasting blood glucose": "fasting glucose",
    "fasting plasma glucose": "fasting glucose",
    "glucose fasting": "fasting glucose",
    "blood sugar fasting": "fasting glucose",
    "polymorphs": "neutrophils",
    "polymorphonuclear neutrophils": "neutrophils",
    "inorganic phosphorus": "phosphate",
    "inorganic phosphate": "phosphate",
    "folic acid": "folate",
    "serum folic acid": "folate",
    "conjugated bilirubin": "bilirubin direct",
    "bilirubin conjugated": "bilirubin direct",
    "direct bilirubin": "bilirubin direct",
    "unconjugated bilirubin": "bilirubin indirect",
    "bilirubin unconjugated": "bilirubin indirect",
    "indirect bilirubin": "bilirubin indirect",
    "gamma gt": "ggt",
    "gamma glutamyl transpeptidase": "ggt",
    "mean corpuscular volume": "erythrocyte mean corpuscular volume",
    "mean corpuscular hb": "erythrocyte mean corpuscular hemoglobin",
    "mean corpuscular hemoglobin": "erythrocyte mean corpuscular hemoglobin",
    "mean corpuscular haemoglobin": "erythrocyte mean corpuscular hemoglobin",
    "mean corpuscular hb concentration": "erythrocyte mean corpuscular hemoglobin concentration",
    "mean corpuscular hemoglobin concentration": "erythrocyte mean corpuscular hemoglobin concentration",
    "mean corpuscular haemoglobin concentration": "erythrocyte mean corpuscular hemoglobin concentration",
    "rdw cv": "rdw",
    "red cell distribution width": "rdw",
    "a per g ratio": "albumin globulin per",
    "a per g": "albumin globulin per",
    "ag ratio": "albumin globulin per",
    "albumin per globulin ratio": "albumin globulin per",
    "albumin globulin ratio": "albumin globulin per",
    # "Vitamin D" on a report is the status test, 25-hydroxy vitamin D (total: D2 + D3); 1,25-dihydroxy is named.
    "vitamin d": "calcidiol",
    "vitamin d total": "calcidiol",
    "vit d": "calcidiol",
    "25 oh vitamin d": "calcidiol",
    "25 oh vitamin d total": "calcidiol",
    "vitamin d 25 oh": "calcidiol",
    "25 hydroxy vitamin d": "calcidiol",
    "vitamin d 25 hydroxy": "calcidiol",
    "25 oh vit d": "calcidiol",
    "vit d 25 oh": "calcidiol",
    "thyroid stimulating hormone": "thyrotropin",
    "tsh ultrasensitive": "3rd gen tsh",
    "ultrasensitive tsh": "3rd gen tsh",
    "us tsh": "3rd gen tsh",
    "tsh 3rd generation": "3rd gen tsh",
    "tsh 3rd gen": "3rd gen tsh",
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
    "neutrophil": "neutrophils",
    "lymphocyte": "lymphocytes",
    "monocyte": "monocytes",
    "eosinophil": "eosinophils",
    "basophil": "basophils",
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


def lab_words() -> set[str]:
    """The words of printed lab-test names this module knows (spellings, abbreviations, specimen tags)."""
    phrases = {word for phrase in LAB_PHRASES for word in phrase.split()}
    return phrases | set(LAB_WORDS) | set(_LAB_DROP)


#: Character confusions of OCR, undone before a word is compared with the vocabulary's words.
_OCR_CONFUSIONS = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"), ("5", "s"))


class WordCorrector:
    """Reads an OCR-damaged word as the vocabulary word it is one edit away from ("potassiun" → "potassium").

    A word is replaced only when exactly one vocabulary word is that close (spellings of one word counting once),
    or when every such word is a tag that keys drop anyway ("serp" → "serpl" or "ser"); short words and words
    already known stay as they are. With ``alone_within`` above 1, the words within that many edits must also all
    name one thing (``concepts``: a word → what it names; "simvastatin" and "simvastatina" are one drug):
    "muconazole" is one edit from "miconazole" but two from "fluconazole", and which one OCR damaged is not known.
    """

    def __init__(
        self,
        words: set[str],
        *,
        spellings: Mapping[str, str],
        min_length: int = 4,
        alone_within: int = 1,
        concepts: Mapping[str, str] | None = None,
    ) -> None:
        self._words = sorted(words)
        self._known = frozenset(words)
        self._spellings = spellings
        self._min_length = min_length
        self._alone_within = alone_within
        self._concepts = concepts or {}

    def correct(self, text: str) -> str:
        """``text`` as lower-case words, each damaged word replaced by the vocabulary word it must be."""
        return " ".join(self._word(word) for word in _words(text))

    def _word(self, word: str) -> str:
        if word in self._known or len(word) < self._min_length:
            return word
        undone = word
        for wrong, right in _OCR_CONFUSIONS:
            undone = undone.replace(wrong, right)
        if undone in self._known:
            return undone
        close = process.extract(undone, self._words, scorer=Levenshtein.distance, score_cutoff=1)
        near = {self._spellings.get(w, w) for w, _, _ in close}  # "eosinophil" and "eosinophils" are one word
        if len(near) == 1 and self._alone(word, undone, chosen := next(iter(near))):
            return chosen
        if near and near <= _LAB_DROP:
            return next(iter(sorted(near)))
        return word

    def _alone(self, word: str, undone: str, chosen: str) -> bool:
        """Whether no other name is within ``alone_within`` edits of the word, as printed and with OCR's usual
        confusions undone ("metfornin", "metfomin"): of the near words that are names by themselves (keys of
        ``concepts``), none names another thing than ``chosen`` does. A word only found inside longer names
        ("etzadroxil" of "sulopenem etzadroxil") is no rival of a whole name."""
        if self._alone_within <= 1:
            return True

        def near(text: str) -> set[str]:
            found = process.extract(
                text, self._words, scorer=Levenshtein.distance, score_cutoff=self._alone_within, limit=None
            )
            return {w for w, _, _ in found}

        close = near(word) & near(undone) if undone != word else near(word)
        named = {self._concepts[w] for w in close if w in self._concepts}
        return named <= {self._concepts.get(chosen)}
