"""Medication lines: what is prescribed (:class:`MedItem`), how each phrasing prints it, and its expected values.

A :class:`MedItem` holds every printed piece together with the value it stands for, so the expected medication
(docs/conventions.md) is read off the same object that is printed: ``drug.text`` is the drug words printed, the
strength unit is the UCUM unit of what is printed (``250 mg/5 ml`` → 50 mg/mL), the route is ``oral`` for tablets,
capsules and syrups and otherwise only what is printed, and every frequency's ``per_day``/``timing_code`` comes
from a row of the SIG table (``1-0-1`` → the coded row with two a day; ``OD`` → the OD row, which has no code).

Phrasings are a registry (:data:`PHRASINGS`): each samples the pieces its style uses and composes them into
labelled segments. A layout that lacks room asks for a shorter line (:meth:`MedItem.trimmed`): optional pieces are
dropped, and dropped pieces are absent from the expected values too.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from training.corpus.drugs import DrugCatalogue, DrugProduct
from training.corpus.schema import Chunk, LineSpec, Segment
from training.corpus.sigtable import SigRow, SigTable

#: Forms whose route is implied when none is printed (docs/conventions.md).
IMPLIED_ORAL = ("tablet", "capsule", "syrup")
#: SIG-table route meanings → our route words.
ROUTE_OF_MEANING = {
    "by mouth": "oral",
    "intravenous": "intravenous",
    "intramuscular": "intramuscular",
    "subcutaneous": "subcutaneous",
    "both eyes": "ophthalmic",
}
#: Printed route phrases that are not SIG abbreviations → route word.
ROUTE_PHRASES = {
    "in both eyes": "ophthalmic",
    "in each eye": "ophthalmic",
    "in both ears": "otic",
    "in affected ear": "otic",
    "in each nostril": "nasal",
    "locally": "topical",
    "to affected area": "topical",
    "topically": "topical",
    "by mouth": "oral",
    "orally": "oral",
    "subcutaneously": "subcutaneous",
}
FORM_WEIGHTS = {
    "tablet": 50, "capsule": 18, "syrup": 7, "suspension": 4, "injection": 4, "cream": 3, "ointment": 2, "gel": 2,
    "lotion": 1, "drops": 5, "spray": 4,
}  # fmt: skip
VITAMIN_D = ("cholecalciferol", "ergocalciferol")
#: International units per mg of vitamin D (40 IU per microgram).
IU_PER_MG_VITAMIN_D = 40_000
SC_DRUGS = ("insulin glargine", "insulin lispro", "insulin detemir", "enoxaparin", "heparin")


def number_text(value: float) -> str:
    """A number as a prescriber writes it: ``500``, ``0.5``, ``12.5`` (no exponent, no trailing zeros)."""
    if value == int(value):
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class Freq:
    """A printed frequency and its expected values (``per_day``/``timing_code`` from the SIG table)."""

    text: str
    per_day: float | None
    timing_code: str | None
    as_needed: bool = False


@dataclass(frozen=True, slots=True)
class MedItem:
    """One prescribed medication with each printed piece (None: not printed) and the value it stands for."""

    product: DrugProduct
    drug_text: str
    brand: str | None
    form: str
    form_text: str
    strength: tuple[float, str] | None
    strength_text: str | None
    freq: Freq
    dose: tuple[float, str] | None = None
    dose_text: str | None = None
    route: str | None = None
    route_text: str | None = None
    route_lead: str | None = None
    duration: tuple[float, str] | None = None
    duration_text: str | None = None
    instruction_text: str | None = None
    quantity: float | None = None
    quantity_text: str | None = None
    refills_text: str | None = None
    number: str | None = None
    dose_in_pattern: bool = False

    def trimmed(self, level: int) -> MedItem:
        """A shorter line; each level drops more optional pieces (see :data:`TRIM_LEVELS`)."""
        item = self
        for drop in TRIM_LEVELS[: max(0, level)]:
            item = dataclasses.replace(item, **drop(item))
        return item

    def expected_route(self) -> str | None:
        """``oral`` for tablets, capsules and syrups; otherwise the printed route, or None."""
        if self.form in IMPLIED_ORAL:
            return "oral"
        return self.route if self.route_text else None

    def payload(self) -> dict[str, Any]:
        """The expected medication's fields except text, page, bbox and confidence."""
        product = self.product
        return {
            "drug": {
                "text": self.drug_text,
                "rxnorm": {"rxcui": product.ingredient_rxcui, "name": product.ingredient_name, "tty": "IN"},
                "clinical_drug": {"rxcui": product.scd_rxcui, "name": product.scd_name},
                "brand": self.brand,
            },
            "strength": _quantity(self.strength) if self.strength_text else None,
            "form": self.form,
            "route": self.expected_route(),
            "dose": _quantity(self.dose) if self.dose_text or self.dose_in_pattern else None,
            "frequency": {
                "text": self.freq.text,
                "per_day": self.freq.per_day,
                "timing_code": self.freq.timing_code,
                "as_needed": self.freq.as_needed,
            },
            "duration": _quantity(self.duration) if self.duration_text else None,
            "quantity": self.quantity if self.quantity_text else None,
        }


#: What each trim level drops: instruction, duration, refills and number, quantity, a route the form implies.
TRIM_LEVELS: tuple[Callable[[MedItem], dict[str, Any]], ...] = (
    lambda item: {"instruction_text": None},
    lambda item: {"duration": None, "duration_text": None},
    lambda item: {"refills_text": None, "number": None},
    lambda item: {"quantity": None, "quantity_text": None},
    lambda item: {"route_text": None} if item.form in IMPLIED_ORAL else {},
)


def _quantity(value: tuple[float, str] | None) -> dict[str, Any] | None:
    return None if value is None else {"value": value[0], "unit": value[1]}


# --------------------------------------------------------------------------------------------------- pieces
def pick_product(rng: random.Random, catalogue: DrugCatalogue, *, exclude: set[str]) -> DrugProduct:
    """A product: form by weight, then a generic having that form, then one of its strengths."""
    by_form: dict[str, dict[str, list[DrugProduct]]] = {}
    for product in catalogue.products:
        if product.generic not in exclude:
            by_form.setdefault(product.form, {}).setdefault(product.generic, []).append(product)
    forms = [form for form in FORM_WEIGHTS if form in by_form]
    form = rng.choices(forms, weights=[FORM_WEIGHTS[f] for f in forms])[0]
    generic = rng.choice(sorted(by_form[form]))
    return rng.choice(by_form[form][generic])


Piece = tuple[str, tuple[float, str]]


def _mass(rng: random.Random, product: DrugProduct, space: str) -> Piece:
    """MG: vitamin D in IU, under 1 mg in mcg, whole grams sometimes in g, else mg."""
    value = product.strength_value
    if product.generic in VITAMIN_D:
        iu = value * IU_PER_MG_VITAMIN_D
        return f"{number_text(iu)}{space}IU", (round(iu, 6), "[iU]")
    if value < 1:
        return f"{number_text(value * 1000)}{space}mcg", (round(value * 1000, 6), "ug")
    if value >= 1000 and value % 1000 == 0 and rng.random() < 0.5:
        return f"{number_text(value / 1000)}{space}g", (value / 1000, "g")
    return f"{number_text(value)}{space}mg", (value, "mg")


def _concentration(rng: random.Random, product: DrugProduct, space: str) -> Piece:
    """MG/ML: liquids often per 5 ml (value stays per mL), drops and skin products in %, else mg/ml."""
    value = product.strength_value
    if product.form in ("syrup", "suspension") and rng.random() < 0.6:
        return f"{number_text(value * 5)}{space}mg/5{space}ml", (value, "mg/mL")
    if product.form in ("drops", "cream", "ointment", "gel", "lotion", "spray"):
        return f"{number_text(value / 10)}%", (round(value / 10, 6), "%")  # 10 mg/mL is 1 % w/v
    return f"{number_text(value)}{space}mg/ml", (value, "mg/mL")


def _fraction(rng: random.Random, product: DrugProduct, space: str) -> Piece:
    """MG/MG (creams, ointments): in %."""
    return f"{number_text(product.strength_value * 100)}%", (round(product.strength_value * 100, 6), "%")


def _units(rng: random.Random, product: DrugProduct, space: str) -> Piece:
    """UNT and UNT/ML: international units."""
    per_ml = product.strength_unit == "UNT/ML"
    unit, text = ("[iU]/mL", "IU/ml") if per_ml else ("[iU]", "IU")
    return f"{number_text(product.strength_value)}{space}{text}", (product.strength_value, unit)


def _per_puff(rng: random.Random, product: DrugProduct, space: str) -> Piece:
    """MG/ACTUAT (sprays): the amount per puff, in mcg under 1 mg."""
    value = product.strength_value
    if value >= 1:
        return f"{number_text(value)}{space}mg", (value, "mg")
    return f"{number_text(value * 1000)}{space}mcg", (round(value * 1000, 6), "ug")


#: RxNorm strength unit → how it is printed.
STRENGTH_PRINTERS: dict[str, Callable[[random.Random, DrugProduct, str], Piece]] = {
    "MG": _mass,
    "MG/ML": _concentration,
    "MG/MG": _fraction,
    "UNT/ML": _units,
    "UNT": _units,
    "MG/ACTUAT": _per_puff,
}


def strength_piece(rng: random.Random, product: DrugProduct, *, compact: bool) -> Piece:
    """The printed strength and its UCUM value for a product's RxNorm strength (``compact``: no spaces)."""
    return STRENGTH_PRINTERS[product.strength_unit](rng, product, "" if compact else " ")


def freq_from_abbrev(sig: SigTable, text: str) -> Freq:
    """A frequency printed as a SIG abbreviation (``BD``, ``q8h``, ``SOS``): the values of its row."""
    row = sig.abbrev(text.split(maxsplit=1)[0])
    return Freq(text=text, per_day=row.per_day, timing_code=row.timing_code, as_needed=row.kind == "as_needed")


def freq_from_meaning(sig: SigTable, text: str) -> Freq:
    """A frequency printed in words that are a SIG row's meaning (``twice daily``)."""
    row = sig.meaning(text)
    return Freq(text=text, per_day=row.per_day, timing_code=row.timing_code)


def freq_pattern(sig: SigTable, pattern: str) -> Freq:
    """An Indian ``1-0-1`` pattern: one administration per non-zero slot, the code of that daily count."""
    count = sum(1 for slot in pattern.split("-") if slot != "0")
    row = sig.daily_count(count)
    return Freq(text=pattern, per_day=float(count), timing_code=row.timing_code)


def freq_with_prn(sig: SigTable, base: SigRow, text: str) -> Freq:
    """A schedule plus as-needed (``q6h PRN``): the schedule's values, as needed."""
    return Freq(text=text, per_day=base.per_day, timing_code=base.timing_code, as_needed=True)


def route_piece(sig: SigTable, text: str) -> str:
    """The route word of a printed route: a SIG route abbreviation or a phrase of :data:`ROUTE_PHRASES`."""
    if text in ROUTE_PHRASES:
        return ROUTE_PHRASES[text]
    return ROUTE_OF_MEANING[sig.abbrev(text).meaning]


# --------------------------------------------------------------------------------------------------- India
INDIA_FORM_TEXT = {
    "tablet": ("Tab.", "Tab.", "Tab", "TAB."),
    "capsule": ("Cap.", "Cap.", "Cap"),
    "syrup": ("Syp.", "Syrup"),
    "suspension": ("Susp.", "Suspension"),
    "injection": ("Inj.", "Inj"),
    "cream": ("Cream",),
    "ointment": ("Oint.", "Ointment"),
    "gel": ("Gel",),
    "lotion": ("Lotion",),
    "drops": ("Drops",),
    "spray": ("Spray",),
}
INDIA_PATTERNS = ("1-0-1", "1-0-1", "1-0-1", "1-0-0", "1-0-0", "0-0-1", "1-1-1", "0-1-0", "1-1-1-1")
INDIA_ABBREVS = ("OD", "BD", "BD", "TDS", "QDS", "HS", "SOS")
WORD_MEANINGS = ("once daily", "twice daily", "twice daily", "three times daily", "four times daily", "at bedtime")
INDIA_INSTRUCTIONS = ("after food", "before food", "before breakfast", "after meals", "empty stomach")
INDIA_DURATIONS = ((3, "d"), (5, "d"), (7, "d"), (10, "d"), (14, "d"), (30, "d"), (2, "wk"), (1, "mo"), (3, "mo"))
UNIT_WORDS = {"d": ("day", "days"), "wk": ("week", "weeks"), "mo": ("month", "months")}


def _duration_words(value: int, unit: str) -> str:
    singular, plural = UNIT_WORDS[unit]
    return f"{value} {singular if value == 1 else plural}"


def _liquid_dose(rng: random.Random) -> tuple[str, tuple[float, str]]:
    amount = rng.choice((2.5, 5, 5, 10, 15))
    return f"{number_text(amount)} ml", (float(amount), "mL")


def _countable_dose(rng: random.Random, form: str) -> tuple[str, tuple[float, str]] | None:
    """Dose of drops and sprays (others: None)."""
    if form == "drops":
        count = rng.choice((1, 1, 2))
        return f"{count} drop{'s' if count > 1 else ''}", (float(count), "drop")
    if form == "spray":
        count = rng.choice((1, 2, 2))
        return f"{count} puff{'s' if count > 1 else ''}", (float(count), "puff")
    return None


RoutePiece = tuple[str | None, str | None]


def _drops_route(rng: random.Random, product: DrugProduct, us: bool) -> RoutePiece:
    if product.dose_form == "Otic Solution":
        return None, rng.choice(("in both ears", "in affected ear"))
    return None, rng.choice(("in both eyes", "in each eye", "OU") if us else ("in both eyes", "in each eye"))


def _skin_route(rng: random.Random, product: DrugProduct, us: bool) -> RoutePiece:
    return "apply", rng.choice(("to affected area", "topically") if us else ("locally", "locally", "to affected area"))


def _spray_route(rng: random.Random, product: DrugProduct, us: bool) -> RoutePiece:
    return None, "in each nostril"


def _injection_route(rng: random.Random, product: DrugProduct, us: bool) -> RoutePiece:
    if product.generic in SC_DRUGS:
        return None, rng.choice(("SC", "subcutaneously"))
    return None, rng.choice(("IV", "IM", "IV"))


#: Forms whose route is only known when printed → how the route is printed: (a lead word as O, the route).
ROUTE_PRINTERS: dict[str, Callable[[random.Random, DrugProduct, bool], RoutePiece]] = {
    "drops": _drops_route,
    "cream": _skin_route,
    "ointment": _skin_route,
    "gel": _skin_route,
    "lotion": _skin_route,
    "spray": _spray_route,
    "injection": _injection_route,
}


def _route_phrase(rng: random.Random, product: DrugProduct, *, us: bool) -> RoutePiece:
    """(lead word printed as O, route phrase) for forms whose route must be printed to be known."""
    printer = ROUTE_PRINTERS.get(product.form)
    return printer(rng, product, us) if printer else (None, None)


def _injection_dose(rng: random.Random, product: DrugProduct) -> tuple[str, tuple[float, str]] | None:
    if product.generic.startswith("insulin"):
        units = rng.choice((6, 8, 10, 12, 16, 20))
        return f"{units} units", (float(units), "[iU]")
    return None


def _special_freq(sig: SigTable, product: DrugProduct) -> Freq | None:
    """Weekly drugs are written weekly whatever the phrasing."""
    weekly = product.generic == "methotrexate" or (
        product.generic in VITAMIN_D and product.strength_value * IU_PER_MG_VITAMIN_D >= 40_000
    )
    return freq_from_meaning(sig, "once weekly") if weekly else None


def _india_freq(rng: random.Random, sig: SigTable, product: DrugProduct, kind: str) -> Freq:
    special = _special_freq(sig, product)
    if special is not None:
        return special
    if kind == "words":
        return freq_from_meaning(sig, rng.choice(WORD_MEANINGS))
    if kind == "pattern" and product.form in ("tablet", "capsule"):
        return freq_pattern(sig, rng.choice(INDIA_PATTERNS))
    abbrevs = INDIA_ABBREVS if product.form in ("tablet", "capsule", "syrup", "suspension") else ("OD", "BD", "TDS")
    return freq_from_abbrev(sig, rng.choice(abbrevs))


def _brand_and_drug(rng: random.Random, product: DrugProduct, brand_rate: float, upper: bool) -> tuple[str, str | None]:
    generic = product.generic.title()
    if product.brands and rng.random() < brand_rate:
        brand = rng.choice(product.brands)
        text = f"{brand} ({generic})" if rng.random() < 0.6 else brand
        return (text.upper() if upper else text), brand
    return (generic.upper() if upper else generic), None


def _dose_for(rng: random.Random, product: DrugProduct, freq: Freq, *, unit_words: bool) -> tuple[str | None, Any]:
    """(printed dose, value): counted forms with a pattern dose 1 each; liquids always print their volume."""
    form = product.form
    unit = "tablet" if form == "tablet" else "capsule"
    if form in ("tablet", "capsule"):
        if "-" in freq.text:
            return None, (1.0, unit)  # the pattern carries the dose (one in each slot): nothing more printed
        if unit_words and rng.random() < 0.5:
            count = rng.choice((1, 1, 1, 2))
            word = {"tablet": "tab", "capsule": "cap"}[form] if rng.random() < 0.6 else unit
            return f"{count} {word}{'s' if count > 1 else ''}", (float(count), unit)
        return None, None
    if form in ("syrup", "suspension"):
        return _liquid_dose(rng)
    if form == "injection":
        found = _injection_dose(rng, product)
        return found if found else (None, None)
    found = _countable_dose(rng, form)
    return found if found else (None, None)


def sample_india(rng: random.Random, sig: SigTable, product: DrugProduct, options: dict[str, Any]) -> MedItem:
    """An Indian-style item: form word first, brand or generic, strength, dose, frequency, instruction, duration."""
    upper = bool(options.get("upper"))
    drug_text, brand = _brand_and_drug(rng, product, float(options.get("brand_rate", 0.15)), upper)
    strength_text, strength = strength_piece(rng, product, compact=upper and rng.random() < 0.7)
    freq = _india_freq(rng, sig, product, str(options.get("freq", "abbrev")))
    dose_text, dose = _dose_for(rng, product, freq, unit_words=True)
    lead, route_text = _route_phrase(rng, product, us=False)
    days = rng.choice(INDIA_DURATIONS)
    duration_text = rng.choice(("x", "x", "for")) + " " + _duration_words(days[0], days[1])
    instruction = (
        rng.choice(INDIA_INSTRUCTIONS) if product.form in ("tablet", "capsule") and rng.random() < 0.5 else None
    )
    item = MedItem(
        product=product,
        drug_text=drug_text,
        brand=brand,
        form=product.form,
        form_text=rng.choice(INDIA_FORM_TEXT[product.form]),
        strength=strength,
        strength_text=strength_text,
        freq=freq,
        dose=dose,
        dose_text=dose_text,
        dose_in_pattern="-" in freq.text and product.form in ("tablet", "capsule"),
        route=route_piece(sig, route_text) if route_text else None,
        route_text=route_text,
        route_lead=lead,
        duration=(float(days[0]), days[1]),
        duration_text=duration_text if rng.random() < 0.8 else None,
        instruction_text=instruction,
    )
    return _uppercase(item) if upper else item


def _uppercase(item: MedItem) -> MedItem:
    def up(text: str | None) -> str | None:
        return text.upper() if text else text

    return dataclasses.replace(
        item,
        form_text=item.form_text.upper(),
        strength_text=up(item.strength_text),
        dose_text=up(item.dose_text),
        duration_text=up(item.duration_text),
        instruction_text=up(item.instruction_text),
        route_text=up(item.route_text),
        route_lead=up(item.route_lead),
        freq=dataclasses.replace(item.freq, text=item.freq.text.upper()),
    )


def compose_india(item: MedItem) -> list[Segment]:
    """``[1.] Tab. Metformin 500 mg [1 tab] [in both eyes] 1-0-1 [after food] [x 30 days]``."""
    parts: list[Segment] = []
    if item.number:
        parts.append(Segment(item.number))
    parts += [Segment(item.form_text, "FORM"), Segment(item.drug_text, "DRUG")]
    if item.strength_text:
        parts.append(Segment(item.strength_text, "STRENGTH"))
    if item.dose_text:
        parts.append(Segment(item.dose_text, "DOSE"))
    if item.route_lead:
        parts.append(Segment(item.route_lead))
    if item.route_text:
        parts.append(Segment(item.route_text, "ROUTE"))
    parts.append(Segment(item.freq.text, "FREQUENCY"))
    if item.instruction_text:
        parts.append(Segment(item.instruction_text, "INSTRUCTION"))
    if item.duration_text:
        parts.append(Segment(item.duration_text, "DURATION"))
    return parts


def sample_india_words(rng: random.Random, sig: SigTable, product: DrugProduct, options: dict[str, Any]) -> MedItem:
    """Like :func:`sample_india` with the frequency in words and the dose spelt out (``1 tablet twice daily``)."""
    item = sample_india(rng, sig, product, {**options, "freq": "words"})
    if product.form in ("tablet", "capsule"):
        count = rng.choice((1, 1, 2))
        word = product.form + ("s" if count > 1 else "")
        item = dataclasses.replace(item, dose_text=f"{count} {word}", dose=(float(count), product.form))
    return item


def compose_india_words(item: MedItem) -> list[Segment]:
    """``Tab. Metformin 500 mg - 1 tablet twice daily after food for 30 days``."""
    parts = compose_india(dataclasses.replace(item, dose_text=None))
    split = next(
        (i for i, segment in enumerate(parts) if i > 0 and segment.label not in ("FORM", "DRUG", "STRENGTH")),
        len(parts),
    )
    head, tail = parts[:split], parts[split:]
    dose = [Segment(item.dose_text, "DOSE")] if item.dose_text else []
    return [*head, Segment("-"), *dose, *tail]


# --------------------------------------------------------------------------------------------------- US
US_FORM_TEXT = {
    "tablet": ("tablet", "tab"),
    "capsule": ("capsule", "cap"),
    "syrup": ("oral solution",),
    "suspension": ("oral suspension", "suspension"),
    "injection": ("injection",),
    "cream": ("cream",),
    "ointment": ("ointment",),
    "gel": ("gel",),
    "lotion": ("lotion",),
    "drops": ("eye drops",),
    "spray": ("nasal spray",),
}
US_COMPACT_FORM = {
    "tablet": "tab", "capsule": "cap", "syrup": "soln", "suspension": "susp", "injection": "inj", "cream": "cr",
    "ointment": "oint", "gel": "gel", "lotion": "lot", "drops": "gtt", "spray": "spr",
}  # fmt: skip
COMPACT_FORMS = {"soln": "solution", "susp": "suspension", "gtt": "drops", "spr": "spray", "lot": "lotion"}
US_ABBREVS = ("daily", "daily", "BID", "BID", "TID", "QID", "QHS", "q8h", "q12h", "PRN")
US_WORDS = ("once daily", "twice daily", "three times daily", "every 8 hours", "every 12 hours", "at bedtime")


def _us_form(product: DrugProduct, text: str) -> str:
    """Expected form of a printed US form word (an oral solution is a solution, not a syrup)."""
    if product.form == "syrup":
        return "solution"
    if product.form == "drops" and product.dose_form == "Otic Solution":
        return "drops"
    return COMPACT_FORMS.get(text, product.form)


def _us_freq(rng: random.Random, sig: SigTable, product: DrugProduct, kind: str) -> Freq:
    special = _special_freq(sig, product)
    if special is not None:
        return special
    if kind == "words":
        if rng.random() < 0.15:
            return freq_with_prn(sig, sig.meaning("every 6 hours"), "every 6 hours as needed")
        return freq_from_meaning(sig, rng.choice(US_WORDS))
    choice = rng.choice(US_ABBREVS)
    if kind == "compact":
        choice = choice.lower().replace("daily", "qd")
    if choice.upper() == "PRN" and rng.random() < 0.5:
        return freq_with_prn(sig, sig.abbrev("Q6H"), "q6h PRN" if kind != "compact" else "q6h prn")
    return freq_from_abbrev(sig, choice)


def _us_quantity(rng: random.Random, product: DrugProduct, freq: Freq) -> float:
    if product.form in ("tablet", "capsule"):
        per_day = freq.per_day or 1
        return float(max(10, min(180, round(per_day * rng.choice((10, 15, 30, 30, 90))))))
    if product.form in ("syrup", "suspension"):
        return float(rng.choice((100, 120, 150, 200)))
    return 1.0


def _us_dose(rng: random.Random, product: DrugProduct, *, compact: bool) -> tuple[str | None, Any]:
    form = product.form
    if form in ("tablet", "capsule"):
        count = rng.choice((1, 1, 1, 2))
        if compact:
            return str(count), (float(count), form)
        word = rng.choice(({"tablet": "tab", "capsule": "cap"}[form], form))
        return f"{count} {word}{'s' if count > 1 else ''}", (float(count), form)
    if form in ("syrup", "suspension"):
        amount = rng.choice((5, 5, 10, 15))
        return f"{amount} mL", (float(amount), "mL")
    if form == "injection":
        found = _injection_dose(rng, product)
        return found if found else (None, None)
    found = _countable_dose(rng, form)
    return found if found else (None, None)


def sample_us(rng: random.Random, sig: SigTable, product: DrugProduct, options: dict[str, Any]) -> MedItem:
    """A US-style item: generic or brand, strength, form word, then the Sig, quantity and refills."""
    compact = options.get("freq") == "compact"
    brand_rate = float(options.get("brand_rate", 0.2))
    brand = rng.choice(product.brands) if product.brands and rng.random() < brand_rate else None
    form_text = US_COMPACT_FORM[product.form] if compact else rng.choice(US_FORM_TEXT[product.form])
    if product.dose_form == "Otic Solution" and not compact:
        form_text = "ear drops"
    strength_text, strength = strength_piece(rng, product, compact=compact)
    freq = _us_freq(rng, sig, product, str(options.get("freq", "abbrev")))
    dose_text, dose = _us_dose(rng, product, compact=compact)
    lead, route_text = _route_phrase(rng, product, us=True)
    if product.form in ("tablet", "capsule", "syrup", "suspension"):
        route_text = "PO" if compact or rng.random() < 0.6 else "by mouth"
    quantity = _us_quantity(rng, product, freq)
    days = rng.choice(((5, "d"), (7, "d"), (10, "d"), (14, "d"), (30, "d")))
    refills = rng.choice((0, 1, 2, 3, 5, 11))
    return MedItem(
        product=product,
        drug_text=brand or product.generic.title(),
        brand=brand,
        form=_us_form(product, form_text),
        form_text=form_text,
        strength=strength,
        strength_text=strength_text,
        freq=freq,
        dose=dose,
        dose_text=dose_text,
        route=route_piece(sig, route_text) if route_text else None,
        route_text=route_text,
        route_lead=lead,
        duration=(float(days[0]), days[1]),
        duration_text=f"x {_duration_words(days[0], days[1])}" if rng.random() < 0.3 else None,
        instruction_text=rng.choice(("with food", "with meals", "with water")) if rng.random() < 0.2 else None,
        quantity=quantity,
        quantity_text=number_text(quantity),
        refills_text=str(refills),
    )


def _sig_body(item: MedItem) -> list[Segment]:
    body: list[Segment] = []
    if item.route_lead:
        body.append(Segment(item.route_lead))
    if item.dose_text:
        body.append(Segment(item.dose_text, "DOSE"))
    if item.route_text:
        body.append(Segment(item.route_text, "ROUTE"))
    body.append(Segment(item.freq.text, "FREQUENCY"))
    if item.instruction_text:
        body.append(Segment(item.instruction_text, "INSTRUCTION"))
    if item.duration_text:
        body.append(Segment(item.duration_text, "DURATION"))
    return body


def _with_comma(segments: list[Segment]) -> list[Segment]:
    """The segments with a comma glued to the last word (as typed: ``tablet,``)."""
    last = segments[-1]
    return [*segments[:-1], Segment(last.text + ",", last.label)]


def compose_us_sig(item: MedItem) -> list[Segment]:
    """``Lisinopril 10 mg tablet, Sig: 1 tab PO daily, Disp #30, Refills 2``."""
    head = [Segment(item.drug_text, "DRUG")]
    if item.strength_text:
        head.append(Segment(item.strength_text, "STRENGTH"))
    head.append(Segment(item.form_text, "FORM"))
    groups = [head, [Segment("Sig:"), *_sig_body(item)]]
    if item.quantity_text:
        groups.append([Segment("Disp"), Segment(f"#{item.quantity_text}", "QUANTITY")])
    if item.refills_text:
        groups.append([Segment("Refills"), Segment(item.refills_text, "REFILLS")])
    out: list[Segment] = []
    for index, group in enumerate(groups):
        out += _with_comma(group) if index < len(groups) - 1 else group
    return out


def compose_us_words(item: MedItem) -> list[Segment]:
    """``Metformin 500 mg tablet - take 1 tab by mouth twice daily - Qty: 60 - Refills: 3``."""
    parts = [Segment(item.drug_text, "DRUG")]
    if item.strength_text:
        parts.append(Segment(item.strength_text, "STRENGTH"))
    parts += [Segment(item.form_text, "FORM"), Segment("-")]
    if not item.route_lead:
        parts.append(Segment("take" if item.form in ("tablet", "capsule", "solution", "suspension") else "use"))
    parts += _sig_body(item)
    if item.quantity_text:
        parts += [Segment("- Qty:"), Segment(item.quantity_text, "QUANTITY")]
    if item.refills_text:
        parts += [Segment("- Refills:"), Segment(item.refills_text, "REFILLS")]
    return parts


def compose_us_compact(item: MedItem) -> list[Segment]:
    """``Lisinopril 10mg tab 1 PO qd #30 RF2``."""
    parts = [Segment(item.drug_text, "DRUG")]
    if item.strength_text:
        parts.append(Segment(item.strength_text, "STRENGTH"))
    parts.append(Segment(item.form_text, "FORM"))
    parts += [segment for segment in _sig_body(item) if segment.label != "INSTRUCTION"]
    if item.quantity_text:
        parts.append(Segment(f"#{item.quantity_text}", "QUANTITY"))
    if item.refills_text:
        parts += [Segment("RF"), Segment(item.refills_text, "REFILLS")]
    return parts


# --------------------------------------------------------------------------------------------------- registry
Sampler = Callable[[random.Random, SigTable, DrugProduct, dict[str, Any]], MedItem]
Composer = Callable[[MedItem], list[Segment]]


@dataclass(frozen=True, slots=True)
class Phrasing:
    """A wording of medication lines: its style, how it samples pieces and how it composes them."""

    style: str
    sample: Sampler
    compose: Composer
    options: dict[str, Any]


PHRASINGS: dict[str, Phrasing] = {
    "india_pattern": Phrasing("india", sample_india, compose_india, {"freq": "pattern", "brand_rate": 0.1}),
    "india_abbrev": Phrasing("india", sample_india, compose_india, {"freq": "abbrev", "brand_rate": 0.1}),
    "india_brand": Phrasing("india", sample_india, compose_india, {"freq": "pattern", "brand_rate": 0.9}),
    "india_caps": Phrasing("india", sample_india, compose_india, {"freq": "abbrev", "upper": True}),
    "india_words": Phrasing("india", sample_india_words, compose_india_words, {"brand_rate": 0.3}),
    "us_sig": Phrasing("us", sample_us, compose_us_sig, {"freq": "abbrev"}),
    "us_words": Phrasing("us", sample_us, compose_us_words, {"freq": "words"}),
    "us_compact": Phrasing("us", sample_us, compose_us_compact, {"freq": "compact", "brand_rate": 0.1}),
}


def sample_items(
    rng: random.Random,
    *,
    catalogue: DrugCatalogue,
    sig: SigTable,
    phrasing: str,
    count: int,
    require: tuple[str, ...] = (),
    numbered: bool = False,
) -> list[MedItem]:
    """``count`` items of distinct generics (``require``: generics to include first, when in the catalogue).

    Raises:
        KeyError: unknown phrasing.
    """
    spec = PHRASINGS[phrasing]
    used: set[str] = set()
    items: list[MedItem] = []
    for generic in require:
        tablets = [p for p in catalogue.of_generic(generic) if p.form == "tablet"] or catalogue.of_generic(generic)
        if tablets and len(items) < count:
            items.append(spec.sample(rng, sig, rng.choice(tablets), spec.options))
            used.add(generic)
    while len(items) < count:
        product = pick_product(rng, catalogue, exclude=used)
        used.add(product.generic)
        items.append(spec.sample(rng, sig, product, spec.options))
    if numbered:
        style = rng.choice(("{}.", "{})", "{}."))
        items = [dataclasses.replace(item, number=style.format(i)) for i, item in enumerate(items, start=1)]
    return items


def med_line(item: MedItem, phrasing: str, *, x: float) -> LineSpec:
    """The printed line of an item at ``x`` (one chunk), kind ``medication``, with its expected payload."""
    segments = tuple(PHRASINGS[phrasing].compose(item))
    return LineSpec(chunks=[Chunk(segments=segments, x=x)], kind="medication", payload=item.payload())


def med_cells(item: MedItem) -> dict[str, list[Segment]]:
    """An Indian item split into table cells: medicine, dose, frequency (with instruction), duration."""
    medicine = [Segment(item.form_text, "FORM"), Segment(item.drug_text, "DRUG")]
    if item.strength_text:
        medicine.append(Segment(item.strength_text, "STRENGTH"))
    dose: list[Segment] = []
    if item.route_lead:
        dose.append(Segment(item.route_lead))
    if item.dose_text:
        dose.append(Segment(item.dose_text, "DOSE"))
    if item.route_text:
        dose.append(Segment(item.route_text, "ROUTE"))
    frequency = [Segment(item.freq.text, "FREQUENCY")]
    if item.instruction_text:
        frequency.append(Segment(item.instruction_text, "INSTRUCTION"))
    duration: list[Segment] = []
    if item.duration_text:
        words = item.duration_text.split()
        duration = [Segment(" ".join(words[1:] if words[0].lower() in ("x", "for") else words), "DURATION")]
    return {
        "number": [Segment(item.number)] if item.number else [],
        "medicine": medicine,
        "dose": dose,
        "frequency": frequency,
        "duration": duration,
    }
