"""Invented people, clinics and labs for the letterheads: names, addresses, registrations, dates, diagnoses.

Everything here is synthetic; any resemblance to a real person or practice is accidental. Indian and US pools are
separate so that a document's names, places, date formats and registration numbers agree with its style.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Literal

Style = Literal["india", "us"]
Sex = Literal["M", "F"]

INDIA_MALE = (
    "Ramesh", "Suresh", "Arjun", "Vikram", "Rahul", "Amit", "Sanjay", "Rajesh", "Manoj", "Anil", "Prakash", "Deepak",
    "Kiran", "Mohan", "Naveen", "Sunil", "Ravi", "Ajay", "Harish", "Gopal", "Imran", "Farhan", "Joseph", "Sandeep",
)  # fmt: skip
INDIA_FEMALE = (
    "Anita", "Sunita", "Priya", "Kavita", "Meena", "Lakshmi", "Pooja", "Neha", "Asha", "Rekha", "Divya", "Shalini",
    "Geeta", "Swati", "Radha", "Fatima", "Sneha", "Aarti", "Nandini", "Usha", "Mary", "Jyoti", "Bhavna", "Shweta",
)  # fmt: skip
INDIA_SURNAMES = (
    "Sharma", "Verma", "Patel", "Reddy", "Iyer", "Nair", "Gupta", "Singh", "Kumar", "Rao", "Joshi", "Mehta",
    "Desai", "Kulkarni", "Menon", "Pillai", "Chatterjee", "Banerjee", "Das", "Khan", "Shaikh", "Fernandes", "Agarwal",
    "Bhat", "Pandey", "Mishra", "Yadav", "Jain", "Naidu", "Ghosh",
)  # fmt: skip
US_MALE = (
    "James", "John", "Robert", "Michael", "David", "William", "Richard", "Thomas", "Daniel", "Matthew", "Anthony",
    "Mark", "Steven", "Paul", "Kevin", "Brian", "George", "Edward", "Carlos", "Luis",
)  # fmt: skip
US_FEMALE = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen", "Nancy",
    "Lisa", "Betty", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Maria", "Laura",
)  # fmt: skip
US_SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia", "Rodriguez", "Wilson", "Martinez",
    "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark",
    "Lewis", "Walker", "Hall", "Young", "Allen", "King",
)  # fmt: skip

INDIA_CITIES = (
    ("Pune", "411004", "MH"), ("Mumbai", "400050", "MH"), ("Bengaluru", "560034", "KA"), ("Chennai", "600017", "TN"),
    ("Hyderabad", "500033", "TG"), ("Kochi", "682016", "KL"), ("Jaipur", "302001", "RJ"), ("Lucknow", "226001", "UP"),
    ("Kolkata", "700019", "WB"), ("Ahmedabad", "380009", "GJ"), ("Nagpur", "440010", "MH"), ("Indore", "452001", "MP"),
)  # fmt: skip
INDIA_STREETS = (
    "MG Road", "Station Road", "Nehru Nagar", "Gandhi Chowk", "Shivaji Nagar", "Anna Salai", "Park Street",
    "Civil Lines", "Jubilee Hills", "FC Road", "Ring Road", "Sector 14", "Model Town", "Bazaar Peth",
)  # fmt: skip
US_CITIES = (
    ("Springfield", "IL", "62701"), ("Columbus", "OH", "43215"), ("Austin", "TX", "78701"), ("Denver", "CO", "80202"),
    ("Madison", "WI", "53703"), ("Raleigh", "NC", "27601"), ("Tucson", "AZ", "85701"), ("Albany", "NY", "12207"),
)  # fmt: skip
US_STREETS = ("Main Street", "Oak Avenue", "Maple Drive", "Elm Street", "Park Boulevard", "Lakeview Road")

CLINIC_WORDS = (
    ("Sunrise", "Lotus", "Sanjeevani", "Shree", "City", "Apollo Nagar", "Aarogya", "Dhanvantari", "Care", "Jeevan"),
    ("Clinic", "Health Clinic", "Polyclinic", "Medical Centre", "Family Clinic", "Nursing Home", "Hospital"),
)
LAB_WORDS = (
    ("Precision", "Metro", "Accurate", "Lifeline", "Sai", "Trust", "Medi", "Prime", "Unity", "Green Cross"),
    ("Diagnostics", "Pathology Laboratory", "Diagnostic Centre", "Clinical Laboratory", "Pathology Lab", "Labs"),
)
US_PRACTICES = (
    ("Riverside", "Lakeside", "Northgate", "Maple", "Cedar", "Summit", "Valley"),
    ("Family Medicine", "Primary Care", "Medical Group", "Internal Medicine", "Health Center"),
)
US_LABS = (
    ("Regional", "Clinical", "Community", "Central", "Bay"),
    ("Reference Laboratory", "Laboratory Services", "Clinical Laboratories", "Pathology Associates"),
)
INDIA_QUALIFICATIONS = (
    "MBBS, MD (Medicine)", "MBBS, DNB (Family Medicine)", "MBBS, MD (Paediatrics)", "MBBS, MS (Ortho)",
    "MBBS, DGO", "MBBS, MD, DM (Cardiology)", "MBBS, DDVL (Dermatology)", "MBBS", "MBBS, DM (Endocrinology)",
)  # fmt: skip
US_QUALIFICATIONS = ("MD", "M.D.", "DO", "MD, FACP", "MD, Internal Medicine")
INDIA_COUNCILS = ("MMC", "KMC", "TNMC", "DMC", "WBMC", "GMC", "APMC", "TSMC", "UPMC", "RMC")
DIAGNOSES = (
    "Type 2 Diabetes Mellitus", "Essential Hypertension", "Acute Pharyngitis", "Upper Respiratory Tract Infection",
    "Acid Peptic Disease", "GERD", "Allergic Rhinitis", "Dyslipidaemia", "Hypothyroidism", "Urinary Tract Infection",
    "Osteoarthritis Knee", "Migraine", "Acute Gastroenteritis", "Viral Fever", "Bronchial Asthma",
    "Vitamin D Deficiency", "Iron Deficiency Anaemia", "Low Back Pain", "Anxiety Disorder", "Tinea Corporis",
)  # fmt: skip
INDIA_ADVICE = (
    "Review after 2 weeks", "Review after 1 month with reports", "Low salt, low fat diet", "Walk 30 minutes daily",
    "Plenty of oral fluids", "Avoid oily and spicy food", "Check blood sugar fasting and PP", "Follow up SOS",
)  # fmt: skip
US_ADVICE = ("Follow up in 4 weeks", "Call if symptoms worsen", "Recheck labs in 3 months", "Return to clinic PRN")
PATHOLOGIST_TITLES = ("MD (Pathology)", "MD, DCP", "DNB (Pathology)", "MD (Microbiology)")


@dataclass(frozen=True, slots=True)
class Patient:
    name: str
    age: int
    sex: Sex
    patient_id: str


@dataclass(frozen=True, slots=True)
class Doctor:
    """A prescriber: printed name (with ``Dr.`` when printed so), qualifications, registration label and value."""

    name: str
    qualifications: str
    registration_label: str
    registration: str
    specialty: str


@dataclass(frozen=True, slots=True)
class Practice:
    """A clinic or lab: name, address lines and phone."""

    name: str
    address: str
    city_line: str
    phone: str
    email: str


def person_name(rng: random.Random, style: Style, sex: Sex) -> str:
    """A first and last name from the style's pools."""
    if style == "india":
        first = rng.choice(INDIA_MALE if sex == "M" else INDIA_FEMALE)
        return f"{first} {rng.choice(INDIA_SURNAMES)}"
    first = rng.choice(US_MALE if sex == "M" else US_FEMALE)
    return f"{first} {rng.choice(US_SURNAMES)}"


def patient(rng: random.Random, style: Style) -> Patient:
    """A patient: name, age (mostly adults), sex and a hospital number."""
    sex: Sex = rng.choice(("M", "F"))
    age = rng.choice((rng.randint(18, 85), rng.randint(18, 85), rng.randint(2, 17)))
    return Patient(name=person_name(rng, style, sex), age=age, sex=sex, patient_id=str(rng.randint(100000, 999999)))


def _registration(rng: random.Random, label: str) -> str:
    if label.startswith("DEA"):
        return f"{rng.choice('ABFM')}{rng.choice('ABCDEFGHJKLMNPRSTW')}{rng.randint(1_000_000, 9_999_999)}"
    if label.startswith("NPI"):
        return str(rng.randint(1_000_000_000, 1_999_999_999))
    if label.startswith("Lic"):
        return f"{rng.choice('ACDG')}{rng.randint(10000, 99999)}"
    council = rng.choice(INDIA_COUNCILS)
    return rng.choice(
        (
            f"{council}-{rng.randint(1995, 2022)}/{rng.randint(1000, 99999):05d}",
            f"{council}/{rng.randint(10000, 99999)}",
            f"{rng.randint(10000, 999999)}",
        )
    )


def doctor(rng: random.Random, style: Style, *, conventional: bool = False) -> Doctor:
    """A prescriber; ``conventional`` prints ``Dr.`` and a ``Reg. No.`` label (what the rule tagger reads)."""
    sex: Sex = rng.choice(("M", "F"))
    name = person_name(rng, style, sex)
    if style == "india":
        label = "Reg. No." if conventional else rng.choice(("Reg. No.", "Reg. No.:", "Regn. No."))
        return Doctor(
            name=f"Dr. {name}",
            qualifications=rng.choice(INDIA_QUALIFICATIONS),
            registration_label=label,
            registration=_registration(rng, label),
            specialty=rng.choice(("Consultant Physician", "General Physician", "Family Physician", "Diabetologist")),
        )
    label = "DEA Reg. No." if conventional else rng.choice(("DEA Reg. No.", "NPI:", "NPI #", "Lic. No."))
    return Doctor(
        name=f"Dr. {name}" if conventional or rng.random() < 0.6 else name,
        qualifications=rng.choice(US_QUALIFICATIONS),
        registration_label=label,
        registration=_registration(rng, label),
        specialty=rng.choice(("Internal Medicine", "Family Practice", "Primary Care")),
    )


def _pair(rng: random.Random, words: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    return f"{rng.choice(words[0])} {rng.choice(words[1])}"


def practice(rng: random.Random, style: Style, *, lab: bool) -> Practice:
    """A clinic or lab with an address, phone and e-mail of the style."""
    if style == "india":
        city, pin, _ = rng.choice(INDIA_CITIES)
        name = _pair(rng, LAB_WORDS if lab else CLINIC_WORDS)
        return Practice(
            name=name,
            address=f"{rng.randint(1, 250)}, {rng.choice(INDIA_STREETS)}",
            city_line=f"{city} - {pin}",
            phone=f"Ph: {rng.randint(20, 99)}-{rng.randint(2000_0000, 9999_9999)}",
            email=f"{name.split()[0].lower()}{rng.randint(1, 99)}@example.in",
        )
    city, state, zip_code = rng.choice(US_CITIES)
    name = _pair(rng, US_LABS if lab else US_PRACTICES)
    return Practice(
        name=name,
        address=f"{rng.randint(100, 9999)} {rng.choice(US_STREETS)}, Suite {rng.randint(100, 400)}",
        city_line=f"{city}, {state} {zip_code}",
        phone=f"Tel: ({rng.randint(200, 989)}) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}",
        email=f"office@{name.split()[0].lower()}-example.org",
    )


def document_date(rng: random.Random) -> dt.date:
    """A date between January 2024 and mid 2026."""
    return dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 900))


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(rng: random.Random, day: dt.date, style: Style, *, conventional: bool = False) -> str:
    """The date as a document of this style prints it (India day first, US month first).

    ``conventional`` picks the first format: ``dd/mm/yyyy`` (India) or ``mm/dd/yyyy`` (US).
    """
    month = _MONTHS[day.month - 1]
    options: tuple[str, ...]
    if style == "india":
        options = (
            f"{day.day:02d}/{day.month:02d}/{day.year}",
            f"{day.day:02d}-{day.month:02d}-{day.year}",
            f"{day.day:02d}.{day.month:02d}.{day.year}",
            f"{day.day} {month} {day.year}",
            f"{day.day:02d}-{month}-{day.year}",
        )
    else:
        options = (f"{day.month:02d}/{day.day:02d}/{day.year}", f"{month} {day.day}, {day.year}", day.isoformat())
    return options[0] if conventional else rng.choice(options)
