"""What a document says, before any layout: the prescription or lab report content and its document-level truth.

Layouts (``rx_layouts``, ``lab_layouts``) only decide where and how it is printed; the expected patient,
prescriber and date come from here, the expected medications and lab results from the printed lines.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from training.corpus import people
from training.corpus.drugs import DrugCatalogue
from training.corpus.labrows import Section, sample_sections
from training.corpus.labtests import LabCatalogue
from training.corpus.medlines import MedItem, sample_items
from training.corpus.people import Doctor, Patient, Practice, Sex, Style
from training.corpus.sigtable import SigTable

ACCENTS = ((20, 60, 140), (130, 20, 40), (10, 100, 80), (90, 40, 130), (30, 30, 30), (0, 90, 150), (150, 70, 0))


@dataclass
class RxContent:
    """A prescription's content.

    Attributes:
        style: ``india`` or ``us``.
        phrasing: Medication-line phrasing (:data:`training.corpus.medlines.PHRASINGS`).
        practice: The clinic.
        doctor: The prescriber.
        patient: The patient.
        date: The document date.
        date_text: The date as printed.
        items: The medications.
        diagnosis: Printed diagnosis, or None.
        advice: Printed advice lines.
        accent: Letterhead colour.
    """

    style: Style
    phrasing: str
    practice: Practice
    doctor: Doctor
    patient: Patient
    date: dt.date
    date_text: str
    items: list[MedItem]
    diagnosis: str | None
    advice: list[str]
    accent: tuple[int, int, int]

    def expected_header(self) -> dict[str, Any]:
        """Document-level expected values: patient, prescriber, date."""
        return {
            "patient": patient_truth(self.patient),
            "prescriber": {"name": self.doctor.name, "registration": self.doctor.registration},
            "document_date": self.date.isoformat(),
        }


@dataclass
class LabContent:
    """A lab report's content (see :class:`RxContent`); ``referrer`` is the printed referring doctor, if any."""

    style: Style
    phrasing: str
    practice: Practice
    patient: Patient
    date: dt.date
    date_text: str
    collected_text: str
    referrer: str | None
    pathologist: str
    pathologist_title: str
    sample_id: str
    sections: list[Section]
    accent: tuple[int, int, int]
    extra: dict[str, Any] = field(default_factory=dict)

    def expected_header(self) -> dict[str, Any]:
        """Document-level expected values: patient, prescriber (the referring doctor, if printed), date."""
        return {
            "patient": patient_truth(self.patient),
            "prescriber": {"name": self.referrer, "registration": None} if self.referrer else None,
            "document_date": self.date.isoformat(),
        }


def patient_truth(patient: Patient) -> dict[str, Any]:
    """The expected ``patient`` object (age as a string, no date of birth printed)."""
    return {"name": patient.name, "age": str(patient.age), "sex": patient.sex, "date_of_birth": None}


def _document_date(rng: random.Random, style: Style, conventional: bool) -> dt.date:
    """A date; a conventional US one has a day after the 12th, so that mm/dd/yyyy cannot be read day first."""
    day = people.document_date(rng)
    if conventional and style == "us" and day.day <= 12:
        day = day.replace(day=day.day + 13)
    return day


def sample_rx(
    rng: random.Random,
    *,
    style: Style,
    phrasing: str,
    catalogue: DrugCatalogue,
    sig: SigTable,
    count: int,
    require: tuple[str, ...] = (),
    numbered: bool = False,
    conventional: bool = False,
) -> RxContent:
    """A prescription's content with ``count`` medications (``conventional``: see :class:`kit.Wording`)."""
    day = _document_date(rng, style, conventional)
    advice_pool = people.INDIA_ADVICE if style == "india" else people.US_ADVICE
    return RxContent(
        style=style,
        phrasing=phrasing,
        practice=people.practice(rng, style, lab=False),
        doctor=people.doctor(rng, style, conventional=conventional),
        patient=people.patient(rng, style),
        date=day,
        date_text=people.format_date(rng, day, style, conventional=conventional),
        items=sample_items(
            rng, catalogue=catalogue, sig=sig, phrasing=phrasing, count=count, require=require, numbered=numbered
        ),
        diagnosis=rng.choice(people.DIAGNOSES) if rng.random() < 0.7 else None,
        advice=rng.sample(advice_pool, k=rng.randint(0, 2)),
        accent=rng.choice(ACCENTS),
    )


def sample_lab(
    rng: random.Random,
    *,
    style: Style,
    phrasing: str,
    catalogue: LabCatalogue,
    sections: int,
    method: bool = False,
    panels: tuple[str, ...] = (),
    conventional: bool = False,
) -> LabContent:
    """A lab report's content with ``sections`` sections."""
    day = _document_date(rng, style, conventional)
    patient = people.patient(rng, style)
    collected = day - dt.timedelta(days=rng.choice((0, 0, 1)))
    referrer = None
    sexes: tuple[Sex, Sex] = ("M", "F")
    if rng.random() < 0.7:
        referrer = f"Dr. {people.person_name(rng, style, rng.choice(sexes))}"
    pathologist_sex = rng.choice(sexes)
    return LabContent(
        style=style,
        phrasing=phrasing,
        practice=people.practice(rng, style, lab=True),
        patient=patient,
        date=day,
        date_text=people.format_date(rng, day, style, conventional=conventional),
        collected_text=people.format_date(rng, collected, style, conventional=conventional),
        referrer=referrer,
        pathologist=f"Dr. {people.person_name(rng, style, pathologist_sex)}",
        pathologist_title=rng.choice(people.PATHOLOGIST_TITLES),
        sample_id=f"{rng.choice(('LAB', 'SID', 'S'))}{rng.randint(10000, 999999)}",
        sections=sample_sections(
            rng,
            catalogue=catalogue,
            sex=patient.sex,
            phrasing=phrasing,
            count=sections,
            method=method,
            panels=panels,
        ),
        accent=rng.choice(ACCENTS),
    )
