"""Prescribable drug products for the corpus, read from the RxNorm JSON files (``<vocab_dir>/rxnorm/*.json``).

A product is a single-ingredient SCD ("metformin hydrochloride 500 MG Oral Tablet") of a commonly prescribed
generic whose dose form maps to one of our form words. Its expected ingredient concept is the IN: a generic listed
by its salt name (a PIN such as "divalproex sodium") is mapped to the IN whose SCDCs share the SCDC rxcui. Brands
are the BN names of the SCD's SBDs. Every rxcui and name comes from the files; none is written here.

``A.json`` is absent from the vocabulary (see its SOURCE.txt), so acetaminophen, amoxicillin, amlodipine... are
simply not in :data:`COMMON_GENERICS`; names missing from the files are skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

#: ~170 commonly prescribed generics (IN or PIN names as RxNorm spells them); absent ones are skipped.
COMMON_GENERICS: tuple[str, ...] = (
    # diabetes
    "metformin", "glimepiride", "glipizide", "glyburide", "sitagliptin", "linagliptin", "empagliflozin",
    "dapagliflozin", "canagliflozin", "pioglitazone", "insulin glargine", "insulin lispro", "insulin detemir",
    # stomach and gut
    "omeprazole", "pantoprazole", "esomeprazole", "rabeprazole", "lansoprazole", "famotidine", "ondansetron",
    "metoclopramide", "loperamide", "bisacodyl", "lactulose", "sucralfate", "dicyclomine", "misoprostol",
    "ursodiol", "mesalamine", "rifaximin",
    # heart and blood pressure
    "lisinopril", "losartan", "telmisartan", "olmesartan", "valsartan", "irbesartan", "candesartan", "enalapril",
    "ramipril", "captopril", "metoprolol", "bisoprolol", "carvedilol", "propranolol", "nebivolol", "labetalol",
    "nifedipine", "diltiazem", "verapamil", "hydrochlorothiazide", "chlorthalidone", "furosemide", "torsemide",
    "spironolactone", "indapamide", "clonidine", "prazosin", "doxazosin", "terazosin", "hydralazine",
    "isosorbide mononitrate", "nitroglycerin", "ivabradine", "digoxin",
    # lipids and blood
    "rosuvastatin", "simvastatin", "pravastatin", "lovastatin", "ezetimibe", "fenofibrate", "gemfibrozil",
    "clopidogrel", "prasugrel", "ticagrelor", "warfarin", "rivaroxaban", "enoxaparin", "heparin",
    # allergy and respiratory
    "cetirizine", "levocetirizine", "loratadine", "desloratadine", "fexofenadine", "montelukast", "hydroxyzine",
    "chlorpheniramine", "diphenhydramine", "promethazine", "theophylline", "benzonatate", "dextromethorphan",
    "guaifenesin", "fluticasone", "mometasone", "budesonide", "oxymetazoline", "olopatadine", "ketotifen",
    # pain and inflammation
    "ibuprofen", "diclofenac", "naproxen", "ketorolac", "celecoxib", "meloxicam", "tramadol", "morphine",
    "oxycodone", "codeine", "colchicine", "febuxostat", "methotrexate", "hydroxychloroquine", "baclofen",
    "cyclobenzaprine", "tizanidine", "methocarbamol", "sumatriptan", "rizatriptan",
    # infections
    "cefixime", "cephalexin", "cefpodoxime", "cefdinir", "ceftriaxone", "cefadroxil", "cefuroxime",
    "ciprofloxacin", "levofloxacin", "ofloxacin", "moxifloxacin", "doxycycline", "minocycline", "clarithromycin",
    "erythromycin", "metronidazole", "tinidazole", "nitrofurantoin", "linezolid", "clindamycin", "vancomycin",
    "fluconazole", "itraconazole", "terbinafine", "clotrimazole", "ketoconazole", "miconazole", "mupirocin",
    "nystatin", "valacyclovir", "oseltamivir", "ivermectin", "permethrin", "tobramycin", "silver sulfadiazine",
    # steroids and hormones
    "prednisolone", "prednisone", "methylprednisolone", "dexamethasone", "hydrocortisone", "betamethasone",
    "clobetasol", "triamcinolone", "levothyroxine", "methimazole", "propylthiouracil", "medroxyprogesterone",
    "progesterone", "estradiol", "norethindrone",
    # nervous system
    "sertraline", "escitalopram", "citalopram", "fluoxetine", "paroxetine", "venlafaxine", "duloxetine",
    "mirtazapine", "trazodone", "bupropion", "nortriptyline", "clonazepam", "lorazepam", "diazepam", "zolpidem",
    "quetiapine", "olanzapine", "risperidone", "haloperidol", "lithium", "gabapentin", "pregabalin",
    "levetiracetam", "phenytoin", "carbamazepine", "oxcarbazepine", "lamotrigine", "topiramate",
    "divalproex sodium", "donepezil", "memantine", "ropinirole", "pramipexole",
    # urology
    "tamsulosin", "finasteride", "dutasteride", "sildenafil", "tadalafil", "oxybutynin", "tolterodine",
    "solifenacin",
    # vitamins, minerals, eye, skin
    "folic acid", "cholecalciferol", "ergocalciferol", "calcium carbonate", "ferrous sulfate",
    "potassium chloride", "magnesium oxide", "risedronate", "ibandronate", "timolol", "latanoprost",
    "brimonidine", "dorzolamide", "tretinoin", "lidocaine",
)  # fmt: skip

#: RxNorm dose form (the end of an SCD name) → our form word. Oral solutions print as syrup or solution.
DOSE_FORMS: dict[str, str] = {
    "Oral Tablet": "tablet",
    "Delayed Release Oral Tablet": "tablet",
    "Chewable Tablet": "tablet",
    "Oral Capsule": "capsule",
    "Delayed Release Oral Capsule": "capsule",
    "Oral Solution": "syrup",
    "Oral Suspension": "suspension",
    "Injectable Solution": "injection",
    "Injection": "injection",
    "Topical Cream": "cream",
    "Topical Ointment": "ointment",
    "Topical Gel": "gel",
    "Topical Lotion": "lotion",
    "Ophthalmic Solution": "drops",
    "Otic Solution": "drops",
    "Nasal Spray": "spray",
    "Metered Dose Nasal Spray": "spray",
}

#: RxNorm strength units the generator can print.
STRENGTH_UNITS = ("MG", "MG/ML", "MG/MG", "UNT/ML", "UNT", "MG/ACTUAT")
_SCDC = re.compile(r"^(?P<name>.+) (?P<value>\d+(?:\.\d+)?) (?P<unit>[A-Z/]+)$")


@dataclass(frozen=True, slots=True)
class DrugProduct:
    """One printable clinical drug.

    Attributes:
        generic: The generic name as a prescriber writes it (from :data:`COMMON_GENERICS`).
        ingredient_rxcui: RXCUI of the IN concept.
        ingredient_name: Name of the IN concept.
        scd_rxcui: RXCUI of the SCD.
        scd_name: Name of the SCD.
        strength_value: The SCDC strength number (in ``strength_unit``).
        strength_unit: RxNorm unit: MG, MG/ML, MG/MG, UNT/ML, UNT or MG/ACTUAT.
        dose_form: RxNorm dose form (``Oral Tablet``).
        form: Our form word (``tablet``); oral solutions are ``syrup`` here and may print as ``solution``.
        brands: BN names of the SBDs of this SCD.
    """

    generic: str
    ingredient_rxcui: str
    ingredient_name: str
    scd_rxcui: str
    scd_name: str
    strength_value: float
    strength_unit: str
    dose_form: str
    form: str
    brands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DrugCatalogue:
    products: tuple[DrugProduct, ...]
    missing: tuple[str, ...]

    def of_generic(self, generic: str) -> list[DrugProduct]:
        """The products of one generic."""
        return [product for product in self.products if product.generic == generic]

    def generics(self) -> list[str]:
        """The generics that have at least one product, sorted."""
        return sorted({product.generic for product in self.products})


def _read_entries(rxnorm_dir: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path in sorted(rxnorm_dir.glob("*.json")):
        entries.extend(json.loads(path.read_text(encoding="utf-8")))
    if not entries:
        raise FileNotFoundError(f"no RxNorm JSON files under {rxnorm_dir}")
    return entries


def _ingredient_for(entry: dict[str, Any], in_by_scdc: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The IN of an IN or PIN entry: itself, or the IN whose SCDCs share one of the PIN's SCDC rxcuis."""
    if entry["TTY"] == "IN":
        return entry
    for scdc in entry.get("SCDCs", []):
        found = in_by_scdc.get(scdc["RXCUI"])
        if found is not None:
            return found
    return None


def _products_of(generic: str, entry: dict[str, Any], ingredient: dict[str, Any]) -> list[DrugProduct]:
    products = []
    for scdc in entry.get("SCDCs", []):
        parsed = _SCDC.match(scdc["Name"])
        if parsed is None or parsed.group("unit") not in STRENGTH_UNITS or " / " in scdc["Name"]:
            continue
        for scd in scdc.get("SCDs", []):
            dose_form = scd["Name"][len(scdc["Name"]) + 1 :]
            if not scd["Name"].startswith(scdc["Name"] + " ") or dose_form not in DOSE_FORMS:
                continue
            brands = sorted({bn["Name"] for sbd in scd.get("SBDs", []) for bn in sbd.get("BNs", [])})
            products.append(
                DrugProduct(
                    generic=generic,
                    ingredient_rxcui=ingredient["RXCUI"],
                    ingredient_name=ingredient["Name"],
                    scd_rxcui=scd["RXCUI"],
                    scd_name=scd["Name"],
                    strength_value=float(parsed.group("value")),
                    strength_unit=parsed.group("unit"),
                    dose_form=dose_form,
                    form=DOSE_FORMS[dose_form],
                    brands=tuple(brands),
                )
            )
    return products


@cache
def load_drug_catalogue(vocab_dir: Path) -> DrugCatalogue:
    """Build the product list from ``<vocab_dir>/rxnorm/*.json`` (cached per folder; ~1 s).

    Raises:
        FileNotFoundError: no RxNorm files.
    """
    entries = _read_entries(vocab_dir / "rxnorm")
    by_name: dict[str, dict[str, Any]] = {}
    in_by_scdc: dict[str, dict[str, Any]] = {}
    for entry in entries:
        # An IN wins over a PIN of the same name (never happens in RxNorm, but be explicit).
        if entry["TTY"] == "IN" or (entry["TTY"] == "PIN" and entry["Name"] not in by_name):
            by_name[entry["Name"]] = entry
        if entry["TTY"] == "IN":
            for scdc in entry.get("SCDCs", []):
                in_by_scdc.setdefault(scdc["RXCUI"], entry)
    products: list[DrugProduct] = []
    missing: list[str] = []
    for generic in COMMON_GENERICS:
        named = by_name.get(generic)
        ingredient = _ingredient_for(named, in_by_scdc) if named else None
        found = _products_of(generic, named, ingredient) if named and ingredient else []
        if not found:
            missing.append(generic)
        products.extend(found)
    return DrugCatalogue(products=_unambiguous(products), missing=tuple(missing))


def _unambiguous(products: list[DrugProduct]) -> tuple[DrugProduct, ...]:
    """Drop products a printed line could not tell apart.

    "Tab. Diclofenac 50 mg" fits both the sodium delayed-release and the potassium SCD; with two SCDs behind one
    printed (generic, form, strength) the expected clinical drug would be a guess, so neither is used.
    """
    groups: dict[tuple[str, str, float, str], set[str]] = {}
    for product in products:
        key = (product.generic, product.form, product.strength_value, product.strength_unit)
        groups.setdefault(key, set()).add(product.scd_rxcui)
    kept: dict[str, DrugProduct] = {}
    for product in products:
        key = (product.generic, product.form, product.strength_value, product.strength_unit)
        if len(groups[key]) == 1:
            kept.setdefault(product.scd_rxcui, product)
    return tuple(kept.values())
