"""The official release formats: an RxNorm RRF pair and a Loinc.csv, built in the test from real rows of
../shared/vocab (codes and names read from the files), give the same matches as the development subsets."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from services.normaliser.vocabulary import VocabularyIndex, build_index
from services.normaliser.vocabulary.releases import RXNCONSO_COLUMNS, RXNREL_COLUMNS, rrf_ingredients
from tests.unit.normaliser.test_vocabulary import VOCAB, loinc_row, rxnorm_entry


def _conso(rxcui: str, tty: str, name: str, *, suppress: str = "N") -> str:
    row = dict.fromkeys(RXNCONSO_COLUMNS, "")
    row.update(RXCUI=rxcui, LAT="ENG", SAB="RXNORM", TTY=tty, CODE=rxcui, STR=name, SUPPRESS=suppress)
    return "|".join(row[c] for c in RXNCONSO_COLUMNS) + "|\n"


def _rel(rxcui1: str, rela: str, rxcui2: str) -> str:
    """A row read "RXCUI2 RELA RXCUI1", as RXNREL.RRF states relationships."""
    row = dict.fromkeys(RXNREL_COLUMNS, "")
    row.update(RXCUI1=rxcui1, REL="RO", RXCUI2=rxcui2, RELA=rela, SAB="RXNORM", SUPPRESS="N")
    return "|".join(row[c] for c in RXNREL_COLUMNS) + "|\n"


def write_rrf(folder: Path, entries: list[dict[str, Any]]) -> None:
    """RXNCONSO.RRF and RXNREL.RRF holding exactly what ``entries`` (JSON-subset shape) say."""
    conso: dict[str, str] = {}
    rel: set[str] = set()
    for entry in entries:
        conso[entry["RXCUI"]] = _conso(entry["RXCUI"], entry["TTY"], entry["Name"])
        for scdc in entry["SCDCs"]:
            conso[scdc["RXCUI"]] = _conso(scdc["RXCUI"], "SCDC", scdc["Name"])
            rela = {"IN": "has_ingredient", "PIN": "has_precise_ingredient"}.get(entry["TTY"])
            if rela:
                rel.add(_rel(entry["RXCUI"], rela, scdc["RXCUI"]))
            for scd in scdc["SCDs"]:
                conso[scd["RXCUI"]] = _conso(scd["RXCUI"], "SCD", scd["Name"])
                rel.add(_rel(scdc["RXCUI"], "consists_of", scd["RXCUI"]))
                for sbd in scd.get("SBDs", []):
                    conso[sbd["RXCUI"]] = _conso(sbd["RXCUI"], "SBD", sbd["Name"])
                    rel.add(_rel(scd["RXCUI"], "tradename_of", sbd["RXCUI"]))
                    for brand in sbd.get("BNs", []):
                        conso[brand["RXCUI"]] = _conso(brand["RXCUI"], "BN", brand["Name"])
                        rel.add(_rel(brand["RXCUI"], "has_ingredient", sbd["RXCUI"]))
    conso["0"] = _conso("0", "IN", "suppressed ingredient", suppress="O")
    (folder / "RXNCONSO.RRF").write_text("".join(conso.values()))
    (folder / "RXNREL.RRF").write_text("".join(sorted(rel)))


def write_loinc_csv(path: Path, codes: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(
            ["LOINC_NUM", "LONG_COMMON_NAME", "SHORTNAME", "DisplayName", "EXAMPLE_UCUM_UNITS", "STATUS", "CLASSTYPE"]
        )
        for code in codes:
            row = loinc_row(code)
            writer.writerow(
                [
                    code,
                    row["LONG_COMMON_NAME"],
                    row["LOINC_ShortName"],
                    row["LOINC_DISPLAY"],
                    row["UCUM_EX"],
                    "ACTIVE",
                    "1",
                ]
            )


@pytest.fixture(scope="module")
def entries() -> list[dict[str, Any]]:
    return [rxnorm_entry("metformin"), rxnorm_entry("metformin hydrochloride"), rxnorm_entry("losartan")]


def test_rrf_nesting_equals_the_json_subset(tmp_path: Path, entries: list[dict[str, Any]]) -> None:
    write_rrf(tmp_path, entries)
    read = {e["RXCUI"]: e for e in rrf_ingredients(tmp_path)}
    assert "0" not in read  # suppressed atoms are left out
    for entry in entries:
        got = read[entry["RXCUI"]]
        assert (got["Name"], got["TTY"]) == (entry["Name"], entry["TTY"])
        assert {c["RXCUI"] for c in got["SCDCs"]} == {c["RXCUI"] for c in entry["SCDCs"]}
        scds = {s["RXCUI"]: s for c in entry["SCDCs"] for s in c["SCDs"]}
        got_scds = {s["RXCUI"]: s for c in got["SCDCs"] for s in c["SCDs"]}
        assert set(got_scds) == set(scds)
        for rxcui, scd in scds.items():
            brands = {b["Name"] for s in scd.get("SBDs", []) for b in s.get("BNs", [])}
            assert {b["Name"] for s in got_scds[rxcui]["SBDs"] for b in s["BNs"]} == brands


def test_index_from_releases_matches_like_the_subsets(tmp_path: Path, entries: list[dict[str, Any]]) -> None:
    rrf, subset = tmp_path / "rrf", tmp_path / "subset"
    rrf.mkdir()
    subset.mkdir()
    write_rrf(rrf, entries)
    (subset / "M.json").write_text(json.dumps(entries))
    codes = ["718-7", "2160-0", "2085-9", "2093-3"]
    write_loinc_csv(tmp_path / "Loinc.csv", codes)
    build_index(rxnorm=rrf, loinc=tmp_path / "Loinc.csv", out=tmp_path / "a.sqlite3")
    from_releases = VocabularyIndex.open(tmp_path / "a.sqlite3")
    build_index(rxnorm=subset, loinc=VOCAB / "loinc", out=tmp_path / "b.sqlite3")
    from_subsets = VocabularyIndex.open(tmp_path / "b.sqlite3")
    for text, strength, form in [
        ("Glucophage (Metformin)", (500.0, "mg"), "tablet"),
        ("Metformin HCl", None, None),
        ("Losartan Potassium", (50.0, "mg"), "tablet"),
    ]:
        assert from_releases.match_drug(text=text, strength=strength, form=form) == from_subsets.match_drug(
            text=text, strength=strength, form=form
        )
    for printed, unit, code in [("Haemoglobin", "g/dL", "718-7"), ("HDL Cholesterol", "mg/dL", "2085-9")]:
        match = from_releases.match_lab_test(text=printed, unit=unit)
        assert match is not None and match.code == code
