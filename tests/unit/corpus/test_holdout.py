"""Held-out templates, fonts and phrasings appear in the test split only; the samples use none of them."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from training.corpus import holdout
from training.corpus.document import plan_document
from training.corpus.fonts import FONT_FAMILIES, FontsMissingError, available_families
from training.corpus.lab_layouts import LAB_LAYOUTS
from training.corpus.labrows import LAB_ROW_PHRASINGS
from training.corpus.medlines import PHRASINGS
from training.corpus.rx_layouts import RX_LAYOUTS
from training.corpus.samples import SAMPLE_PLANS, check_plan


def test_table_names_exist_and_each_kind_holds_something_out() -> None:
    known = {
        "template": set(RX_LAYOUTS) | set(LAB_LAYOUTS),
        "font": set(FONT_FAMILIES),
        "phrasing": set(PHRASINGS) | set(LAB_ROW_PHRASINGS),
    }
    for kind, names in known.items():
        assert set(holdout.allowed(kind, "test")) == names
        assert holdout.held_out(kind)
    held = holdout.held_out("template")
    assert any(t.startswith("rx_") for t in held) and any(t.startswith("lab_") for t in held)


@pytest.mark.parametrize("split", ["train", "val"])
def test_train_and_val_never_use_held_out_names(split: holdout.Split) -> None:
    plans = [plan_document(seed=7, split=split, index=i) for i in range(250)]
    for kind, attribute in (("template", "template"), ("font", "font"), ("phrasing", "phrasing")):
        used = {getattr(plan, attribute) for plan in plans}
        assert not used & set(holdout.held_out(kind)), (kind, used & set(holdout.held_out(kind)))


def test_test_split_uses_held_out_templates_fonts_and_phrasings() -> None:
    plans = [plan_document(seed=7, split="test", index=i) for i in range(250)]
    templates = Counter(plan.template for plan in plans)
    assert all(templates[name] > 0 for name in holdout.held_out("template"))
    assert sum(templates[name] for name in holdout.held_out("template")) > len(plans) // 4
    assert {plan.font for plan in plans} & set(holdout.held_out("font"))
    assert {plan.phrasing for plan in plans} & set(holdout.held_out("phrasing"))
    assert {plan.template for plan in plans} - set(holdout.held_out("template")), "test also has seen templates"


def test_samples_use_only_what_train_may_use() -> None:
    for plan in SAMPLE_PLANS.values():
        check_plan(plan)
    plan = SAMPLE_PLANS["rx-india-clean"]
    with pytest.raises(ValueError, match="held out"):
        check_plan(dataclasses.replace(plan, template=holdout.held_out("template")[0]))
    with pytest.raises(ValueError, match="held out"):
        check_plan(dataclasses.replace(plan, font=holdout.held_out("font")[0]))


def test_missing_fonts_fail_with_the_packages_to_install(tmp_path: Path) -> None:
    with pytest.raises(FontsMissingError, match="apt-get install fonts-dejavu-core"):
        available_families(holdout.allowed("font", "train"), font_dir=tmp_path)
