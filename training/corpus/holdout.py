"""Which templates, font families and phrasings may appear in which split — the one table of the hold-out.

The test split measures generalisation: the rows marked ``TEST_ONLY`` never occur in train or val, so a model
that scores well on them has learnt to read documents, not to remember layouts, typefaces or wordings. The test
split draws from every row (half of its documents use a held-out template). The calib split is drawn as train is,
but no model is trained on it: the normaliser's match calibration (``make calibrate``) is measured on train and
calib together, so that rarely used ways of matching a name are seen often enough to be trusted or not.
"""

from __future__ import annotations

from typing import Literal

Split = Literal["train", "val", "test", "calib"]
SPLITS: tuple[Split, ...] = ("train", "val", "test", "calib")
ALL: tuple[Split, ...] = ("train", "val", "test", "calib")
TEST_ONLY: tuple[Split, ...] = ("test",)

#: (what, name, splits it may appear in). Templates are prescription (rx_*) or lab (lab_*) layouts; phrasings
#: are medication-line wordings (india_*, us_*) and lab-row wordings (labrow_*).
ASSIGNMENT: tuple[tuple[str, str, tuple[Split, ...]], ...] = (
    # ---- templates
    ("template", "rx_letterhead", ALL),
    ("template", "rx_sidebar", ALL),
    ("template", "rx_us_pad", ALL),
    ("template", "rx_opd_table", ALL),
    ("template", "rx_two_column", TEST_ONLY),
    ("template", "lab_classic", ALL),
    ("template", "lab_grid", ALL),
    ("template", "lab_us", ALL),
    ("template", "lab_compact", TEST_ONLY),
    # ---- font families (files in training.corpus.fonts.FONT_FAMILIES)
    ("font", "dejavu-sans", ALL),
    ("font", "dejavu-serif", ALL),
    ("font", "dejavu-sans-condensed", ALL),
    ("font", "dejavu-sans-mono", ALL),
    ("font", "liberation-sans", ALL),
    ("font", "liberation-serif", ALL),
    ("font", "liberation-mono", ALL),
    ("font", "freefont-sans", ALL),
    ("font", "freefont-serif", ALL),
    ("font", "freefont-mono", ALL),
    ("font", "nimbus-sans", ALL),
    ("font", "nimbus-roman", ALL),
    ("font", "nimbus-mono", ALL),
    ("font", "urw-bookman", ALL),
    ("font", "c059", ALL),
    ("font", "carlito", ALL),
    ("font", "caladea", TEST_ONLY),
    ("font", "p052", TEST_ONLY),
    ("font", "urw-gothic", TEST_ONLY),
    ("font", "liberation-sans-narrow", TEST_ONLY),
    # ---- medication-line phrasings
    ("phrasing", "india_pattern", ALL),
    ("phrasing", "india_abbrev", ALL),
    ("phrasing", "india_brand", ALL),
    ("phrasing", "india_caps", ALL),
    ("phrasing", "india_words", TEST_ONLY),
    ("phrasing", "us_sig", ALL),
    ("phrasing", "us_words", ALL),
    ("phrasing", "us_compact", TEST_ONLY),
    # ---- lab-row phrasings
    ("phrasing", "labrow_common", ALL),
    ("phrasing", "labrow_flowsheet", ALL),
    ("phrasing", "labrow_caps", ALL),
    ("phrasing", "labrow_bracket", TEST_ONLY),
)


def allowed(kind: str, split: Split) -> list[str]:
    """The names of one kind (``template``, ``font``, ``phrasing``) that may appear in a split, in table order."""
    return [name for what, name, splits in ASSIGNMENT if what == kind and split in splits]


def held_out(kind: str) -> list[str]:
    """The names of one kind that appear only in the test split."""
    return [name for what, name, splits in ASSIGNMENT if what == kind and splits == TEST_ONLY]


def is_allowed(kind: str, name: str, split: Split) -> bool:
    """Whether ``name`` may appear in ``split``.

    Raises:
        KeyError: the name is not in the table.
    """
    for what, row_name, splits in ASSIGNMENT:
        if what == kind and row_name == name:
            return split in splits
    raise KeyError(f"{kind} {name!r} is not in the hold-out table")
