"""The extraction result contract, schema ``rxlab.extraction/v1``.

External evaluators and the pharmacy order flow read these names: extend the schema with new optional fields,
never rename or repurpose one. Value conventions (units, form words, codes) are in docs/conventions.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_ID: Literal["rxlab.extraction/v1"] = "rxlab.extraction/v1"

DocumentType = Literal["prescription", "lab_report", "unknown"]
BBox = tuple[float, float, float, float]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Patient(_Model):
    name: str | None = None
    age: str | None = None
    sex: Literal["M", "F"] | None = None
    date_of_birth: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class Prescriber(_Model):
    name: str | None = None
    registration: str | None = None


class RxNormConcept(_Model):
    rxcui: str
    name: str
    tty: str


class ClinicalDrug(_Model):
    rxcui: str
    name: str


class Drug(_Model):
    text: str
    rxnorm: RxNormConcept | None = None
    clinical_drug: ClinicalDrug | None = None
    brand: str | None = None


class Quantity(_Model):
    value: float
    unit: str


class Frequency(_Model):
    text: str
    per_day: float | None = None
    timing_code: str | None = None
    as_needed: bool = False


class Duration(_Model):
    value: float
    unit: Literal["d", "wk", "mo"]


class Medication(_Model):
    text: str
    drug: Drug
    strength: Quantity | None = None
    form: str | None = None
    route: str | None = None
    dose: Quantity | None = None
    frequency: Frequency | None = None
    duration: Duration | None = None
    quantity: float | None = None
    confidence: float = Field(
        ge=0.0, le=1.0, description="measured probability that the drug's RxNorm code is right (coded from 0.9)"
    )
    page: int = Field(ge=1)
    bbox: BBox


class LoincConcept(_Model):
    code: str
    name: str


class LabTest(_Model):
    text: str
    loinc: LoincConcept | None = None


class LabUnit(_Model):
    text: str
    ucum: str | None = None


class ReferenceRange(_Model):
    low: float | None = None
    high: float | None = None
    text: str


class LabResult(_Model):
    text: str
    test: LabTest
    value: float | None = None
    value_text: str
    unit: LabUnit | None = None
    reference_range: ReferenceRange | None = None
    flag: Literal["L", "H", "N"] | None = None
    confidence: float = Field(
        ge=0.0, le=1.0, description="measured probability that the test's LOINC code is right (coded from 0.9)"
    )
    page: int = Field(ge=1)
    bbox: BBox


class ModelVersions(_Model):
    detector: str
    ocr: str
    tagger: str
    vocabulary: str
    normaliser: str | None = Field(default=None, description="the match calibration that set the confidences")


class ExtractionResult(_Model):
    """One document's extraction: what the API returns, the CLI prints and the scorer reads."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["rxlab.extraction/v1"] = Field(default=SCHEMA_ID, alias="schema")
    document_id: str
    document_type: DocumentType
    patient: Patient = Field(default_factory=Patient)
    prescriber: Prescriber | None = None
    document_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    medications: list[Medication] = Field(default_factory=list)
    lab_results: list[LabResult] = Field(default_factory=list)
    needs_review: bool = False
    review_reasons: list[str] = Field(default_factory=list)
    model_versions: ModelVersions

    def to_json_dict(self) -> dict[str, object]:
        """Return the wire form (``schema`` key, JSON-compatible values)."""
        return self.model_dump(mode="json", by_alias=True)
