"""Readers for the official release formats: RxNorm RRF (RXNCONSO.RRF, RXNREL.RRF) and LOINC's Loinc.csv.

Both produce what the development subsets in ``../shared/vocab`` provide, so :mod:`.build` indexes either:

- RxNorm: ingredient entries ``{"Name", "RXCUI", "TTY", "SCDCs": [{…, "SCDs": [{…, "SBDs": [{…, "BNs": […]}]}]}]}``
  for every IN, PIN and MIN, from the RXNORM-source, non-suppressed atoms and their relationships. An RXNREL row
  ``RXCUI1 | … | RELA | … | RXCUI2`` reads "RXCUI2 RELA RXCUI1" (the second concept's relationship to the first):
  ``SCDC has_ingredient IN``, ``SCDC has_precise_ingredient PIN``, ``SCD consists_of SCDC``,
  ``SBD tradename_of SCD``, ``SBD has_ingredient BN``.
- LOINC: flowsheet-shaped rows (``LOINC``, ``LONG_COMMON_NAME``, ``LOINC_ShortName``, ``LOINC_DISPLAY``,
  ``UCUM_EX``) from Loinc.csv's ``LOINC_NUM``, ``LONG_COMMON_NAME``, ``SHORTNAME``, ``DisplayName`` and
  ``EXAMPLE_UCUM_UNITS`` for active laboratory-class tests.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RXNCONSO_COLUMNS = (
    "RXCUI", "LAT", "TS", "LUI", "STT", "SUI", "ISPREF", "RXAUI", "SAUI", "SCUI", "SDUI", "SAB", "TTY", "CODE", "STR",
    "SRL", "SUPPRESS", "CVF",
)  # fmt: skip
RXNREL_COLUMNS = (
    "RXCUI1", "RXAUI1", "STYPE1", "REL", "RXCUI2", "RXAUI2", "STYPE2", "RELA", "RUI", "SRUI", "SAB", "SL", "DIR",
    "RG", "SUPPRESS", "CVF",
)  # fmt: skip
_TTYS = frozenset({"IN", "PIN", "MIN", "SCDC", "SCD", "SBD", "BN"})
#: RELA → (type of RXCUI2, type of RXCUI1, whether RXCUI1 is the parent in the nesting IN/PIN → SCDC → SCD → SBD → BN).
_RELATIONS = {
    "has_ingredient": (("SCDC", "IN", True), ("SBD", "BN", False)),
    "has_precise_ingredient": (("SCDC", "PIN", True),),
    "consists_of": (("SCD", "SCDC", True),),
    "tradename_of": (("SBD", "SCD", True),),
}


def is_rrf(folder: Path) -> bool:
    """Whether ``folder`` holds an RxNorm RRF release (``RXNCONSO.RRF``, directly or under ``rrf/``)."""
    return _rrf_file(folder, "RXNCONSO.RRF") is not None


def _rrf_file(folder: Path, name: str) -> Path | None:
    return next((p for p in (folder / name, folder / "rrf" / name) if p.is_file()), None)


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield dict(zip(columns, line.rstrip("\n").split("|"), strict=False))


def rrf_ingredients(folder: Path) -> list[dict[str, Any]]:
    """Ingredient entries (JSON-subset shape) from an RxNorm RRF release folder."""
    conso, rel = _rrf_file(folder, "RXNCONSO.RRF"), _rrf_file(folder, "RXNREL.RRF")
    if conso is None or rel is None:
        raise FileNotFoundError(f"RXNCONSO.RRF and RXNREL.RRF expected in {folder}")
    concepts = _concepts(conso)
    return _nest(concepts, _children(rel, concepts))


def _concepts(conso: Path) -> dict[str, tuple[str, str]]:
    """RXCUI → (name, TTY) of the RXNORM-source, non-suppressed atoms of the types the index uses."""
    concepts: dict[str, tuple[str, str]] = {}
    for row in _rows(conso, RXNCONSO_COLUMNS):
        if row["SAB"] == "RXNORM" and row["TTY"] in _TTYS and row["SUPPRESS"] == "N":
            concepts.setdefault(row["RXCUI"], (row["STR"], row["TTY"]))
    return concepts


def _children(rel: Path, concepts: dict[str, tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
    """(parent RXCUI, child TTY) → child RXCUIs, in the nesting IN/PIN → SCDC → SCD → SBD → BN."""
    children: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in _rows(rel, RXNREL_COLUMNS):
        first, second = concepts.get(row["RXCUI1"]), concepts.get(row["RXCUI2"])
        if row["SAB"] != "RXNORM" or first is None or second is None:
            continue
        for second_type, first_type, first_is_parent in _RELATIONS.get(row["RELA"], ()):
            if (second[1], first[1]) != (second_type, first_type):
                continue
            if first_is_parent:
                children[(row["RXCUI1"], second_type)].add(row["RXCUI2"])
            else:
                children[(row["RXCUI2"], first_type)].add(row["RXCUI1"])
    return children


def _nest(concepts: dict[str, tuple[str, str]], children: dict[tuple[str, str], set[str]]) -> list[dict[str, Any]]:
    levels = (("SCDCs", "SCDC"), ("SCDs", "SCD"), ("SBDs", "SBD"), ("BNs", "BN"))

    def node(rxcui: str, depth: int) -> dict[str, Any]:
        name, tty = concepts[rxcui]
        entry: dict[str, Any] = {"Name": name, "RXCUI": rxcui, "TTY": tty}
        if depth < len(levels):
            key, child_type = levels[depth]
            entry[key] = [node(c, depth + 1) for c in sorted(children.get((rxcui, child_type), ()))]
        return entry

    return [node(rxcui, 0) for rxcui, (_, tty) in sorted(concepts.items()) if tty in {"IN", "PIN", "MIN"}]


def loinc_release_rows(path: Path) -> Iterator[dict[str, str]]:
    """Flowsheet-shaped rows from LOINC's Loinc.csv (active laboratory tests only)."""
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("STATUS", "ACTIVE") != "ACTIVE" or row.get("CLASSTYPE", "1") != "1":
                continue
            yield {
                "LOINC": row["LOINC_NUM"],
                "LONG_COMMON_NAME": row.get("LONG_COMMON_NAME", ""),
                "LOINC_ShortName": row.get("SHORTNAME", ""),
                "LOINC_DISPLAY": row.get("DisplayName", ""),
                "INDENTEDNAME": "",
                "UCUM_EX": (row.get("EXAMPLE_UCUM_UNITS", "") or "").split(";")[0].strip(),
            }
