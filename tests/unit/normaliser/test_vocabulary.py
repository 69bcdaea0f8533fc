"""The vocabulary index over the team's real RxNorm and LOINC files (../shared/vocab).

Expected codes are read from the source files in the test, never written from memory.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from services.normaliser.vocabulary import VocabularyIndex, build_index
from services.normaliser.vocabulary.build import index_version, parse_clinical_drug, source_version
from services.normaliser.vocabulary.index import CORRECTED_SCORE, NAME_INSIDE_SCORE
from services.normaliser.vocabulary.terms import lab_key, normalise_term, trim_drug_words
from shared.settings import Settings

VOCAB = Settings().vocab_dir


def rxnorm_entry(name: str) -> dict[str, Any]:
    """The ingredient record called ``name`` in the RxNorm JSON files."""
    for entry in json.loads((VOCAB / "rxnorm" / f"{name[0].upper()}.json").read_text()):
        if entry["Name"] == name:
            return dict(entry)
    raise LookupError(name)


def scd(entry: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for c in entry["SCDCs"] for s in c["SCDs"] if s["Name"] == name)


def loinc_row(code: str) -> dict[str, str]:
    with (VOCAB / "loinc" / "h17.csv").open(newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["LOINC"] == code)


def test_generic_name_codes_as_ingredient_with_its_clinical_drug(index: VocabularyIndex) -> None:
    metformin = rxnorm_entry("metformin")
    tablet = scd(metformin, "metformin hydrochloride 500 MG Oral Tablet")
    match = index.match_drug(text="Metformin", strength=(500, "mg"), form="tablet")
    assert match is not None
    assert (match.rxcui, match.name, match.tty) == (metformin["RXCUI"], "metformin", "IN")
    assert (match.scd_rxcui, match.scd_name) == (tablet["RXCUI"], tablet["Name"])
    assert match.brand is None
    assert match.score == 1.0


def test_salt_name_codes_as_its_ingredient(index: VocabularyIndex) -> None:
    losartan = rxnorm_entry("losartan")
    match = index.match_drug(text="Losartan Potassium", strength=(50, "mg"), form="tablet")
    assert match is not None
    assert (match.rxcui, match.tty) == (losartan["RXCUI"], "IN")
    assert match.scd_name == "losartan potassium 50 MG Oral Tablet"
    assert index.match_drug(text="Metformin HCl", strength=None, form=None).rxcui == rxnorm_entry("metformin")["RXCUI"]  # type: ignore[union-attr]


def test_brand_beside_generic_gives_brand_and_ingredient(index: VocabularyIndex) -> None:
    match = index.match_drug(text="Glucophage (Metformin)", strength=(500, "mg"), form="tablet")
    assert match is not None
    assert match.rxcui == rxnorm_entry("metformin")["RXCUI"]
    assert match.brand == "Glucophage"
    assert match.scd_name == "metformin hydrochloride 500 MG Oral Tablet"


def test_combination_codes_as_multiple_ingredient_concept(index: VocabularyIndex) -> None:
    combination = rxnorm_entry("metformin / sitagliptin")
    match = index.match_drug(text="Sitagliptin + Metformin", strength=None, form=None)
    assert match is not None
    assert (match.rxcui, match.tty) == (combination["RXCUI"], "MIN")
    assert match.scd_rxcui is None


def test_clinical_drug_needs_a_unique_strength_and_form(index: VocabularyIndex) -> None:
    assert index.match_drug(text="Metformin", strength=None, form="tablet").scd_rxcui is None  # type: ignore[union-attr]
    assert index.match_drug(text="Metformin", strength=(123, "mg"), form="tablet").scd_rxcui is None  # type: ignore[union-attr]
    released = index.match_drug(text="Omeprazole", strength=(20, "mg"), form="capsule")
    assert released is not None
    assert released.scd_name == "omeprazole 20 MG Delayed Release Oral Capsule"


def test_ocr_damaged_name_is_found_with_its_method_and_unknown_name_is_none(index: VocabularyIndex) -> None:
    damaged = index.match_drug(text="Metfornin", strength=(500, "mg"), form="tablet")  # one character off
    assert damaged is not None
    assert damaged.rxcui == rxnorm_entry("metformin")["RXCUI"]
    assert (damaged.method, damaged.score) == ("corrected", CORRECTED_SCORE)
    worse = index.match_drug(text="Metfxrmim", strength=None, form=None)  # two off: the closest key
    assert worse is not None and worse.method == "fuzzy" and 0.75 <= worse.score < 0.9
    assert worse.rxcui == rxnorm_entry("metformin")["RXCUI"] and 0 < worse.margin <= worse.score
    assert index.match_drug(text="Zzqxv Kplrt", strength=None, form=None) is None


def test_a_damaged_drug_word_is_corrected_only_when_no_other_drug_is_near(index: VocabularyIndex) -> None:
    # one edit from miconazole, two from fluconazole (and econazole): which OCR damaged is not known
    near_two = index.match_drug(text="Muconazole", strength=(100, "mg"), form=None)
    assert near_two is not None and near_two.method != "corrected"
    # one edit from simvastatin; the words two edits away are its other spellings (simvastatina, simvastatine)
    spellings = index.match_drug(text="Simvaatatin", strength=(80, "mg"), form=None)
    assert spellings is not None and spellings.method == "corrected"
    assert spellings.rxcui == rxnorm_entry("simvastatin")["RXCUI"]


@pytest.mark.parametrize(
    ("printed", "unit", "code"),
    [
        ("Haemoglobin", "g/dL", "718-7"),
        ("Serum Creatinine", "mg/dL", "2160-0"),
        ("HDL Cholesterol", "mg/dL", "2085-9"),
        ("Total Cholesterol", "mg/dL", "2093-3"),
        ("Total Leucocyte Count", "10*3/uL", "26464-8"),
    ],
)
def test_printed_lab_names_code_to_loinc(index: VocabularyIndex, printed: str, unit: str, code: str) -> None:
    row = loinc_row(code)  # the code and its name are read from the flowsheet file
    match = index.match_lab_test(text=printed, unit=unit)
    assert match is not None
    assert (match.code, match.name) == (row["LOINC"], row["LONG_COMMON_NAME"])
    assert match.score == 1.0


def loinc_code(long_name: str) -> str:
    """The code of the flowsheet row with this LONG_COMMON_NAME."""
    for name in ("h17.csv", "c17.csv"):
        with (VOCAB / "loinc" / name).open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["LONG_COMMON_NAME"] == long_name and row["LOINC"]:
                    return row["LOINC"]
    raise LookupError(long_name)


@pytest.mark.parametrize(
    ("printed", "unit", "long_name", "method"),
    [
        ("PPBS", "mg/dL", "Glucose [Mass/volume] in Serum or Plasma --2 hours post meal", "exact"),
        ("Post Prandial Blood Sugar", "mg/dL", "Glucose [Mass/volume] in Serum or Plasma --2 hours post meal", "exact"),
        ("Polymorphs", "%", "Neutrophils/100 leukocytes in Blood by Automated count", "exact"),
        ("A/G Ratio", None, "Albumin/Globulin [Mass Ratio] in Serum or Plasma", "exact"),
        ("Inorganic Phosphorus", "mg/dL", "Phosphate [Mass/volume] in Serum or Plasma", "exact"),
        ("25-OH Vitamin D", "ng/mL", "Calcidiol [Mass/volume] in Serum or Plasma", "exact"),
        ("SGPT (ALT)", "U/L", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "part"),
        ("Sodium (Na+)", "mmol/L", "Sodium [Moles/volume] in Serum or Plasma", "part"),
        ("Glycated Haemoglobin (HbA1c)", "%", "Hemoglobin A1c/Hemoglobin.total in Blood", "part"),
        ("Potassiun", "mmol/L", "Potassium [Moles/volume] in Serum or Plasma", "corrected"),
        ("Uric Acid SerP] Qn", "mg/dL", "Urate [Mass/volume] in Serum or Plasma", "corrected"),
        ("Albumin SerP!I Qn", "g/dL", "Albumin [Mass/volume] in Serum or Plasma", "corrected"),
        ("Alk Phos SerPIQn", "U/L", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "corrected"),
        ("Uric Acid SexP1 On", "mg/dL", "Urate [Mass/volume] in Serum or Plasma", "corrected"),
    ],
)
def test_report_names_parts_and_ocr_slips_code_to_loinc(
    index: VocabularyIndex, printed: str, unit: str | None, long_name: str, method: str
) -> None:
    match = index.match_lab_test(text=printed, unit=unit)
    assert match is not None
    assert (match.code, match.method) == (loinc_code(long_name), method)


def test_a_name_two_codes_fit_equally_is_ambiguous(index: VocabularyIndex) -> None:
    unread = index.match_lab_test(text="Eosinophils", unit=None)  # the share (%) or the count: the unit decides
    assert unread is not None and unread.method == "ambiguous"
    share = index.match_lab_test(text="Eosinophils", unit="%")
    assert share is not None and share.method == "exact"
    assert share.code == loinc_code("Eosinophils/100 leukocytes in Blood")  # no method printed: the code without
    parts_disagree = index.match_lab_test(text="Sodium (Potassium)", unit="mmol/L")
    assert parts_disagree is not None and parts_disagree.method == "ambiguous"


def test_the_printed_reference_range_decides_what_name_and_unit_leave_open(index: VocabularyIndex) -> None:
    # ranges as a report prints them; each decides for the code whose flowsheet normal range it is
    albumin = index.match_lab_test(text="Albumin", unit=None, reference=(3.5, 5.5))  # g/dL, not umol/L
    assert albumin is not None and albumin.method == "range"
    assert albumin.code == loinc_code("Albumin [Mass/volume] in Serum or Plasma")
    share = index.match_lab_test(text="Eosinophils", unit=None, reference=(0.0, 6.0))
    assert share is not None and share.method == "range"
    assert share.code == loinc_code("Eosinophils/100 leukocytes in Blood")
    tsh = index.match_lab_test(text="TSH", unit=None, reference=(0.35, 5.5))
    assert tsh is not None and tsh.method == "range"
    assert tsh.code == loinc_code("Thyrotropin [Units/volume] in Serum or Plasma by Detection limit <= 0.005 mIU/L")
    # a range near no code's normal range, or as near to two, decides nothing
    for printed, reference in (("Albumin", (20.0, 30.0)), ("TSH", (0.27, 4.2)), ("Eosinophils", (None, None))):
        undecided = index.match_lab_test(text=printed, unit=None, reference=reference)
        assert undecided is not None and undecided.method == "ambiguous", printed


def test_a_range_that_contradicts_the_code_of_the_unit_chooses_again(index: VocabularyIndex) -> None:
    # "mg/d" is what OCR leaves of "mg/dL"; read as printed it is a daily excretion, the 24-hour urine test
    urine = index.match_lab_test(text="Calcium", unit="mg/d")
    serum = index.match_lab_test(text="Calcium", unit="mg/d", reference=(8.6, 10.2))
    assert urine is not None and urine.code == loinc_code("Calcium [Mass/time] in 24 hour Urine")
    assert serum is not None and serum.method == "range"
    assert serum.code == loinc_code("Calcium [Mass/volume] in Serum or Plasma")


def test_a_range_misread_below_zero_does_not_overrule_the_unit(index: VocabularyIndex) -> None:
    # "3.80-4.80" after a run of dashes read as "-3.80 - 4.80": 10*6/uL is the blood count, not the urine sediment's
    # count per high-power field (whose normal range, "<4", the misread range's upper bound is near)
    blood = loinc_code("Erythrocytes [#/volume] in Blood by Automated count")
    for reference in ((-3.8, 4.8), (0.0, 4.8), (3.8, 4.8)):
        match = index.match_lab_test(text="RBC #", unit="10*6/uL", reference=reference)
        assert match is not None and match.code == blood, reference


def test_a_flowsheet_rate_per_24_is_not_a_bare_mass(index: VocabularyIndex) -> None:
    # some flowsheet rows write the 24-hour rate as "mg/24"; a unit OCR cut to "mg" ("mg /aL") must not choose it
    daily = index.match_lab_test(text="Creatinine", unit="mg/(24.h)")
    assert daily is not None and daily.code == loinc_code("Creatinine [Mass/time] in 24 hour Urine")
    cut = index.match_lab_test(text="Creatinine", unit="mg", reference=(0.70, 4.30))
    assert cut is not None and cut.code != daily.code
    assert cut.method == "ambiguous"  # neither the unit nor the (misread) range tells serum from blood: review


def test_a_name_without_a_method_means_the_routine_one(index: VocabularyIndex) -> None:
    match = index.match_lab_test(text="RBC Count", unit="10*6/uL")
    assert match is not None and match.method == "exact"
    assert match.code == loinc_code("Erythrocytes [#/volume] in Blood by Automated count")
    tsh = index.match_lab_test(text="TSH", unit="u[IU]/mL")  # µIU/mL is mIU/L: the same kind of unit
    assert tsh is not None and tsh.method == "exact"
    assert "--" not in tsh.name  # not a stimulation-test code
    ldl = index.match_lab_test(text="LDL Cholesterol", unit="mg/dL")  # a lipid profile's LDL is calculated
    direct = index.match_lab_test(text="LDL Cholesterol (Direct)", unit="mg/dL")  # unless a direct assay is printed
    assert ldl is not None and direct is not None
    assert ldl.code == loinc_code("Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation")
    assert direct.code == loinc_code("Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay")


def test_unit_chooses_between_mass_and_molar_codes(index: VocabularyIndex) -> None:
    mass = index.match_lab_test(text="Phosphorus", unit="mg/dL")
    molar = index.match_lab_test(text="Phosphorus", unit="mmol/L")
    assert mass is not None and molar is not None
    assert (mass.code, molar.code) == (loinc_row("2777-1")["LOINC"], loinc_row("14879-1")["LOINC"])


def test_keys_ignore_order_case_and_specimen_words() -> None:
    assert lab_key("Cholesterol in HDL") == lab_key("HDL cholesterol") == lab_key("HDLc SerPl-mCnc")
    assert normalise_term("Sitagliptin + Metformin") == normalise_term("metformin / sitagliptin")
    assert normalise_term("Metformin HCl") == normalise_term("metformin hydrochloride")


def test_clinical_drug_names_parse_to_strength_and_form() -> None:
    row = parse_clinical_drug(name="metformin hydrochloride 500 MG Oral Tablet", rxcui="1", ingredient_rxcui="2")
    assert row is not None
    assert (row.strength_value, row.strength_unit, row.form) == (500.0, "mg", "tablet")
    assert (
        parse_clinical_drug(name="macitentan 10 MG / tadalafil 20 MG Oral Tablet", rxcui="1", ingredient_rxcui="2")
        is None
    )


def test_build_is_atomic_and_versioned_by_content(tmp_path: Path) -> None:
    rxnorm, loinc = tmp_path / "rxnorm", tmp_path / "loinc"
    rxnorm.mkdir()
    loinc.mkdir()
    (rxnorm / "M.json").write_text(json.dumps([rxnorm_entry("metformin")]))
    (loinc / "h17.csv").write_text((VOCAB / "loinc" / "h17.csv").read_text())
    out = tmp_path / "index.sqlite3"
    first = build_index(rxnorm=rxnorm, loinc=loinc, out=out)
    assert build_index(rxnorm=rxnorm, loinc=loinc, out=out) == first
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    with sqlite3.connect(out) as db:
        assert db.execute("SELECT value FROM meta").fetchone() == (first,)
    assert index_version(out) == source_version(rxnorm=rxnorm, loinc=loinc) == first
    assert index_version(tmp_path / "absent.sqlite3") is None
    with pytest.raises(FileNotFoundError):
        build_index(rxnorm=tmp_path / "missing", loinc=loinc, out=out)
    (rxnorm / "O.json").write_text(json.dumps([rxnorm_entry("omeprazole")]))
    assert source_version(rxnorm=rxnorm, loinc=loinc) != index_version(out)  # the index is now stale
    assert build_index(rxnorm=rxnorm, loinc=loinc, out=out) != first


def test_names_inside_longer_drug_words_are_found(index: VocabularyIndex) -> None:
    both = index.match_drug(text="Klonopin Clonazepam", strength=None, form=None)
    assert both is not None
    assert (both.rxcui, both.brand) == (rxnorm_entry("clonazepam")["RXCUI"], "Klonopin")
    assert (both.score, both.method) == (NAME_INSIDE_SCORE, "inside")
    left = index.match_drug(text="TORSEMIDE AFTER MEALS", strength=None, form=None)
    assert left is not None and left.rxcui == rxnorm_entry("torsemide")["RXCUI"] and left.text == "TORSEMIDE"


@pytest.mark.parametrize(
    ("words", "trimmed"),
    [
        ("Terbinafine - to affected area", "Terbinafine"),
        ("Estradiol - with water", "Estradiol"),
        ("Escitalopram | mg/ml", "Escitalopram"),
        ("Benicar Smg", "Benicar"),  # "5mg" read as "Smg"
        ("Nuzon Hydrocortisone", "Nuzon Hydrocortisone"),
    ],
)
def test_drug_words_lose_instructions_and_stray_units(words: str, trimmed: str) -> None:
    assert trim_drug_words(words) == trimmed


@pytest.mark.parametrize(("printed", "ingredient"), [("Frusemide", "furosemide"), ("Glibenclamide", "glyburide")])
def test_inn_names_code_as_the_rxnorm_ingredient(index: VocabularyIndex, printed: str, ingredient: str) -> None:
    match = index.match_drug(text=printed, strength=None, form=None)  # DrugBank's synonym, RxNorm's ingredient
    assert match is not None
    assert (match.rxcui, match.name, match.method) == (rxnorm_entry(ingredient)["RXCUI"], ingredient, "exact")


def test_synonyms_never_replace_rxnorm_names_and_shared_spellings_code_as_neither(tmp_path: Path) -> None:
    from services.normaliser.vocabulary.build import SCHEMA, _load_rxnorm, _load_synonyms

    db = sqlite3.connect(tmp_path / "index.sqlite3")
    db.executescript(SCHEMA)
    _load_rxnorm(db, [rxnorm_entry("metformin"), rxnorm_entry("omeprazole")])
    _load_synonyms(
        db,
        [
            ("Metforminum", "metformin"),
            ("Omeprazole", "metformin"),  # an RxNorm name already: RxNorm's meaning stays
            ("Gastromet", "metformin"),
            ("Gastromet", "omeprazole"),  # the same spelling for two drugs: neither
            ("Zzunknown", "not-in-the-index"),
        ],
    )
    rows = {
        term: target
        for term, kind, target in db.execute("SELECT term, kind, target_rxcui FROM drug_term")
        if kind == "SY"
    }
    assert rows == {normalise_term("Metforminum"): rxnorm_entry("metformin")["RXCUI"]}
    db.close()


def test_every_report_phrase_leads_to_a_name_of_the_index(index: VocabularyIndex) -> None:
    from services.normaliser.vocabulary.terms import LAB_PHRASES

    unresolved = {phrase for phrase in LAB_PHRASES if index.match_lab_test(text=phrase, unit=None) is None
                  or index.match_lab_test(text=phrase, unit=None).method not in {"exact", "ambiguous"}}  # type: ignore[union-attr]  # fmt: skip
    assert unresolved <= {"vldl"}  # VLDL cholesterol is not in the development subset's flowsheets
