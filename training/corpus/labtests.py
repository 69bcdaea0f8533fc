"""Lab tests for the corpus, read from the LOINC flowsheet files (``<vocab_dir>/loinc/h17.csv`` and ``c17.csv``).

:data:`LAB_PANELS` says which analytes a lab prints in each section and how it names them locally; each analyte is
found in the files by its LONG_COMMON_NAME, and the row gives the LOINC code, the local flowsheet name
(INDENTEDNAME), the example UCUM unit and the normal range. No code is written here: a test whose name is not in
the files is skipped. Sex-specific ranges are the usual adult ones printed by Indian labs (values, not codes).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

OneSided = Literal["upper", "lower"] | None


@dataclass(frozen=True, slots=True)
class AnalyteSpec:
    """How a lab prints one analyte.

    Attributes:
        long_name: LOINC LONG_COMMON_NAME used to find the row.
        names: Common local names a lab prints.
        decimals: Decimal places of the result and range.
        sex_ranges: ``{"M": (low, high), "F": (low, high)}`` when the range depends on sex.
        one_sided: ``upper`` when labs often print ``< high``, ``lower`` for ``> low``.
        group: Analytes of one group are alternatives: at most one per report.
        bias: ``high`` or ``low`` when abnormal results mostly go one way (HbA1c high, vitamin D low).
    """

    long_name: str
    names: tuple[str, ...]
    decimals: int
    sex_ranges: dict[str, tuple[float, float]] | None = None
    one_sided: OneSided = None
    group: str | None = None
    bias: Literal["high", "low"] | None = None


def _spec(
    long_name: str,
    names: tuple[str, ...],
    decimals: int,
    **extra: object,
) -> AnalyteSpec:
    return AnalyteSpec(long_name, names, decimals, **extra)  # type: ignore[arg-type]


#: Section key → (printed section titles, analytes in printing order).
LAB_PANELS: dict[str, tuple[tuple[str, ...], tuple[AnalyteSpec, ...]]] = {
    "cbc": (
        ("COMPLETE BLOOD COUNT (CBC)", "HAEMATOLOGY - COMPLETE BLOOD COUNT", "Complete Blood Count", "HEMOGRAM"),
        (
            _spec(
                "Hemoglobin [Mass/volume] in Blood",
                ("Haemoglobin", "Hemoglobin", "Hb", "HGB"),
                1,
                sex_ranges={"M": (13.0, 17.0), "F": (12.0, 15.5)},
            ),
            _spec(
                "Erythrocytes [#/volume] in Blood by Automated count",
                ("RBC Count", "Total RBC Count", "Red Blood Cells"),
                2,
                sex_ranges={"M": (4.5, 5.5), "F": (3.8, 4.8)},
            ),
            _spec(
                "Hematocrit [Volume Fraction] of Blood",
                ("Haematocrit (PCV)", "PCV", "Hematocrit", "HCT"),
                1,
                sex_ranges={"M": (40.0, 50.0), "F": (36.0, 46.0)},
            ),
            _spec("MCV [Entitic volume] by Automated count", ("MCV", "Mean Corpuscular Volume"), 1),
            _spec("MCH [Entitic mass] by Automated count", ("MCH", "Mean Corpuscular Hb"), 1),
            _spec("MCHC [Mass/volume] by Automated count", ("MCHC",), 1),
            _spec("Erythrocyte distribution width [Ratio]", ("RDW", "RDW-CV"), 1),
            _spec(
                "Leukocytes [#/volume] in Blood", ("Total Leucocyte Count", "WBC Count", "TLC", "Total WBC Count"), 2
            ),
            _spec("Neutrophils/100 leukocytes in Blood by Automated count", ("Neutrophils", "Polymorphs"), 0),
            _spec("Lymphocytes/100 leukocytes in Blood", ("Lymphocytes",), 0),
            _spec("Monocytes/100 leukocytes in Blood", ("Monocytes",), 0),
            _spec("Eosinophils/100 leukocytes in Blood", ("Eosinophils",), 0),
            _spec("Basophils/100 leukocytes in Blood", ("Basophils",), 0),
            _spec("Platelets [#/volume] in Blood", ("Platelet Count", "Platelets", "PLT"), 0),
            _spec("Platelet mean volume [Entitic volume] in Blood", ("MPV", "Mean Platelet Volume"), 1),
        ),
    ),
    "lipid": (
        ("LIPID PROFILE", "Lipid Panel", "LIPID PROFILE - SERUM"),
        (
            _spec(
                "Cholesterol [Mass/volume] in Serum or Plasma",
                ("Total Cholesterol", "Cholesterol, Total", "Serum Cholesterol"),
                0,
                one_sided="upper",
                bias="high",
            ),
            _spec(
                "Triglyceride [Mass/volume] in Serum or Plasma",
                ("Triglycerides", "Serum Triglycerides"),
                0,
                one_sided="upper",
                bias="high",
            ),
            _spec(
                "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
                ("HDL Cholesterol", "HDL-Cholesterol", "Cholesterol, HDL"),
                0,
                one_sided="lower",
                bias="low",
            ),
            _spec(
                "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
                ("LDL Cholesterol (Calculated)", "LDL Cholesterol", "LDL-C (calc)"),
                0,
                one_sided="upper",
                bias="high",
            ),
        ),
    ),
    "lft": (
        ("LIVER FUNCTION TEST (LFT)", "Liver Function Tests", "HEPATIC PANEL"),
        (
            _spec(
                "Bilirubin.total [Mass/volume] in Serum or Plasma",
                ("Bilirubin, Total", "Total Bilirubin", "S. Bilirubin Total"),
                2,
            ),
            _spec(
                "Bilirubin.direct [Mass/volume] in Serum or Plasma",
                ("Bilirubin, Direct", "Direct Bilirubin", "Conjugated Bilirubin"),
                2,
            ),
            _spec(
                "Bilirubin.indirect [Mass/volume] in Serum or Plasma", ("Bilirubin, Indirect", "Indirect Bilirubin"), 2
            ),
            _spec(
                "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
                ("SGOT (AST)", "AST (SGOT)", "Aspartate Aminotransferase"),
                0,
            ),
            _spec(
                "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
                ("SGPT (ALT)", "ALT (SGPT)", "Alanine Aminotransferase"),
                0,
            ),
            _spec(
                "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
                ("Alkaline Phosphatase", "ALP"),
                0,
            ),
            _spec(
                "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
                ("GGT", "Gamma GT", "GGTP"),
                0,
                one_sided="upper",
            ),
            _spec("Protein [Mass/volume] in Serum or Plasma", ("Total Protein", "Protein, Total"), 1),
            _spec("Albumin [Mass/volume] in Serum or Plasma", ("Albumin", "Serum Albumin"), 1),
            _spec("Globulin [Mass/volume] in Plasma", ("Globulin",), 1),
            _spec("Albumin/Globulin [Mass Ratio] in Serum or Plasma", ("A/G Ratio", "Albumin/Globulin Ratio"), 2),
        ),
    ),
    "kft": (
        ("KIDNEY FUNCTION TEST (KFT)", "RENAL FUNCTION TEST", "Renal Panel"),
        (
            _spec(
                "Urea nitrogen [Mass/volume] in Serum or Plasma",
                ("Blood Urea Nitrogen (BUN)", "BUN", "Urea Nitrogen"),
                0,
            ),
            _spec(
                "Creatinine [Mass/volume] in Serum or Plasma",
                ("Creatinine", "Serum Creatinine", "S. Creatinine"),
                2,
                sex_ranges={"M": (0.7, 1.3), "F": (0.6, 1.1)},
            ),
            _spec(
                "Urate [Mass/volume] in Serum or Plasma",
                ("Uric Acid", "Serum Uric Acid"),
                1,
                sex_ranges={"M": (3.5, 7.2), "F": (2.6, 6.0)},
            ),
            _spec("Sodium [Moles/volume] in Serum or Plasma", ("Sodium", "Sodium (Na+)", "S. Sodium"), 0),
            _spec("Potassium [Moles/volume] in Serum or Plasma", ("Potassium", "Potassium (K+)"), 1),
            _spec("Chloride [Moles/volume] in Serum or Plasma", ("Chloride", "Chloride (Cl-)"), 0),
            _spec("Calcium [Mass/volume] in Serum or Plasma", ("Calcium", "Serum Calcium", "Calcium, Total"), 1),
            _spec("Phosphate [Mass/volume] in Serum or Plasma", ("Phosphorus", "Inorganic Phosphorus"), 1),
        ),
    ),
    "thyroid": (
        ("THYROID PROFILE", "Thyroid Function Test", "THYROID PANEL (T3, T4, TSH)"),
        (
            _spec(
                "Triiodothyronine (T3) [Mass/volume] in Serum or Plasma",
                ("T3 (Total)", "Total T3", "Triiodothyronine (T3)"),
                0,
            ),
            _spec("Thyroxine (T4) [Mass/volume] in Serum or Plasma", ("T4 (Total)", "Total T4", "Thyroxine (T4)"), 1),
            _spec("Triiodothyronine (T3) Free [Mass/volume] in Serum or Plasma", ("Free T3", "FT3"), 2),
            _spec("Thyroxine (T4) free [Mass/volume] in Serum or Plasma", ("Free T4", "FT4"), 2),
            _spec(
                "Thyrotropin [Units/volume] in Serum or Plasma by Detection limit <= 0.005 mIU/L",
                ("TSH", "TSH (Ultrasensitive)", "Thyroid Stimulating Hormone"),
                2,
            ),
        ),
    ),
    "diabetes": (
        ("GLYCOSYLATED HAEMOGLOBIN (HbA1c)", "DIABETES PANEL", "Blood Sugar and HbA1c"),
        (
            _spec(
                "Fasting glucose [Mass/volume] in Serum or Plasma",
                ("Fasting Blood Sugar", "Glucose, Fasting", "FBS"),
                0,
                bias="high",
            ),
            _spec(
                "Glucose [Mass/volume] in Serum or Plasma --2 hours post meal",
                ("Post Prandial Blood Sugar", "Glucose, PP (2 hr)", "PPBS"),
                0,
                bias="high",
            ),
            _spec(
                "Hemoglobin A1c/Hemoglobin.total in Blood",
                ("HbA1c", "Glycated Haemoglobin (HbA1c)", "Glycosylated Hemoglobin"),
                1,
                group="a1c",
                bias="high",
            ),
            _spec(
                "Hemoglobin A1c/Hemoglobin.total in Blood by HPLC",
                ("HbA1c (HPLC)", "Glycated Hb (HPLC)"),
                1,
                group="a1c",
                bias="high",
            ),
        ),
    ),
    "vitamins": (
        ("VITAMIN PROFILE", "VITAMINS AND IRON STUDIES", "Vitamin Levels"),
        (
            _spec(
                "Calcidiol [Mass/volume] in Serum or Plasma",
                ("25-OH Vitamin D", "Vitamin D (25-OH)", "Vitamin D Total"),
                1,
                bias="low",
            ),
            _spec(
                "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma",
                ("Vitamin B12", "Vit. B12 (Cobalamin)"),
                0,
                bias="low",
            ),
            _spec("Folate [Mass/volume] in Serum or Plasma", ("Folic Acid", "Serum Folate"), 1, one_sided="lower"),
            _spec(
                "Ferritin [Mass/volume] in Serum or Plasma",
                ("Ferritin", "Serum Ferritin"),
                1,
                sex_ranges={"M": (30.0, 400.0), "F": (13.0, 150.0)},
            ),
            _spec("Iron [Mass/volume] in Serum or Plasma", ("Iron", "Serum Iron"), 0),
        ),
    ),
}

#: UCUM unit → the ways labs print it (the first is the most common).
UNIT_TEXTS: dict[str, tuple[str, ...]] = {
    "g/dL": ("g/dL", "g/dl", "gm/dL"),
    "mg/dL": ("mg/dL", "mg/dl"),
    "%": ("%",),
    "fL": ("fL", "fl"),
    "pg": ("pg",),
    "10*3/uL": ("10^3/uL", "thou/uL", "x10^3/uL"),
    "10*6/uL": ("10^6/uL", "mill/uL", "x10^6/uL"),
    "10*3/mm3": ("10^3/mm3", "thou/mm3"),
    "U/L": ("U/L", "Units/L"),
    "mmol/L": ("mmol/L", "mmol/l"),
    "ng/dL": ("ng/dL", "ng/dl"),
    "ug/dL": ("ug/dL", "mcg/dL"),
    "pg/mL": ("pg/mL", "pg/ml"),
    "ng/mL": ("ng/mL", "ng/ml"),
    "m[IU]/L": ("mIU/L",),
}


@dataclass(frozen=True, slots=True)
class LabTest:
    """An analyte resolved against the LOINC files.

    Attributes:
        panel: Section key of :data:`LAB_PANELS`.
        code: LOINC code from the file.
        long_name: LONG_COMMON_NAME from the file (the expected ``loinc.name``).
        flowsheet_name: INDENTEDNAME cleaned of flowsheet markers (``Creatinine Ser``).
        spec: The printing knowledge.
        ucum: UCUM unit (from UCUM_EX), or None for unitless results (a ratio).
        low: Lower normal bound from the file, or None.
        high: Upper normal bound from the file, or None.
    """

    panel: str
    code: str
    long_name: str
    flowsheet_name: str
    spec: AnalyteSpec
    ucum: str | None
    low: float | None
    high: float | None

    def unit_texts(self) -> tuple[str, ...]:
        """How labs print this test's unit (empty for a unitless ratio)."""
        if self.ucum is None:
            return ()
        return UNIT_TEXTS.get(self.ucum, (self.ucum,))

    def bounds(self, sex: str) -> tuple[float | None, float | None]:
        """Normal range for a patient of this sex (the sex-specific one when there is one)."""
        if self.spec.sex_ranges and sex in self.spec.sex_ranges:
            return self.spec.sex_ranges[sex]
        return self.low, self.high


@dataclass(frozen=True, slots=True)
class LabCatalogue:
    tests: tuple[LabTest, ...]
    missing: tuple[str, ...] = field(default=())

    def panel(self, key: str) -> list[LabTest]:
        """The tests of one section, in printing order."""
        return [test for test in self.tests if test.panel == key]

    def panels(self) -> list[str]:
        """The section keys that have at least one test in the files."""
        return [key for key in LAB_PANELS if self.panel(key)]


def clean_flowsheet_name(name: str) -> str:
    """INDENTEDNAME without flowsheet markers: quotes, asterisks, ``(CSH)``/``(POC)``/``[Nichols]`` suffixes."""
    name = re.sub(r"\s*[\(\[](?:CSH|POC|ISTAT|ER-IS|Nichols)[\)\]]", "", name)
    return " ".join(name.replace("'", "").replace("*", "").split())


def _ucum(raw: str) -> str | None:
    raw = raw.strip()
    if not raw or raw.startswith("{"):
        return None
    return raw.replace("mcg", "ug").replace("ml", "mL")


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_loinc_rows(vocab_dir: Path) -> list[dict[str, str]]:
    """Rows of h17.csv then c17.csv with uniform keys ``LOINC`` and ``LONG_COMMON_NAME`` (repeated headers dropped)."""
    rows: list[dict[str, str]] = []
    for name in ("h17.csv", "c17.csv"):
        with (vocab_dir / "loinc" / name).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("LVL") == "LVL":  # h17.csv repeats its header with other column names
                    continue
                rows.append(row)
    return rows


def _resolve(panel: str, spec: AnalyteSpec, rows: list[dict[str, str]]) -> LabTest | None:
    for row in rows:
        if row.get("LONG_COMMON_NAME") != spec.long_name or not row.get("LOINC"):
            continue
        low, high = _float(row.get("norm_low", "")), _float(row.get("norm_high", ""))
        if low is None and high is None:
            continue
        return LabTest(
            panel=panel,
            code=row["LOINC"],
            long_name=row["LONG_COMMON_NAME"],
            flowsheet_name=clean_flowsheet_name(row["INDENTEDNAME"]),
            spec=spec,
            ucum=_ucum(row.get("UCUM_EX", "")),
            low=low,
            high=high,
        )
    return None


@cache
def load_lab_catalogue(vocab_dir: Path) -> LabCatalogue:
    """Resolve :data:`LAB_PANELS` against the LOINC files (cached per folder).

    Raises:
        OSError: a file cannot be read.
    """
    rows = read_loinc_rows(vocab_dir)
    tests: list[LabTest] = []
    missing: list[str] = []
    for panel, (_, specs) in LAB_PANELS.items():
        for spec in specs:
            test = _resolve(panel, spec, rows)
            if test is None:
                missing.append(spec.long_name)
            else:
                tests.append(test)
    return LabCatalogue(tests=tuple(tests), missing=tuple(missing))
