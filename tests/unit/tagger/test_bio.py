"""BIO decoding and the trimming of separator words off entity edges."""

from __future__ import annotations

from services.tagger.bio import decode, is_separator, trim_separators


def test_decode_opens_an_entity_on_a_stray_inside_tag() -> None:
    assert decode(["O", "I-DRUG", "I-DRUG", "B-STRENGTH", "O"]) == [("DRUG", 1, 3), ("STRENGTH", 3, 4)]


def test_separators_are_punctuation_words_but_not_the_signs_of_values() -> None:
    assert is_separator("-") and is_separator("|") and is_separator("—") and is_separator(":")
    assert not is_separator("<") and not is_separator("(3.5") and not is_separator("5%") and not is_separator("")


def test_a_dash_the_model_tagged_as_the_next_field_becomes_outside() -> None:
    words = ["Tab", "Hydroxyzine", "25", "mg", "-", "2", "tablets", "twice", "daily"]
    tags = ["B-FORM", "B-DRUG", "B-STRENGTH", "I-STRENGTH", "B-FREQUENCY", "B-DOSE", "I-DOSE", "B-FREQUENCY"]
    tags.append("I-FREQUENCY")
    trimmed = trim_separators(words, tags)
    assert trimmed[4] == "O"
    assert trimmed[:4] == tags[:4] and trimmed[5:] == tags[5:]


def test_a_leading_separator_hands_b_to_the_next_word_and_inner_ones_stay() -> None:
    words = ["|", "every", "6", "hours", ":", "(3.5", "-", "5.0)"]
    tags = ["B-FREQUENCY", "I-FREQUENCY", "I-FREQUENCY", "I-FREQUENCY", "I-FREQUENCY", "B-REF_RANGE"]
    tags += ["I-REF_RANGE", "I-REF_RANGE"]
    assert trim_separators(words, tags) == [
        "O",
        "B-FREQUENCY",
        "I-FREQUENCY",
        "I-FREQUENCY",
        "O",
        "B-REF_RANGE",
        "I-REF_RANGE",
        "I-REF_RANGE",
    ]


def test_an_entity_of_separators_only_disappears() -> None:
    assert trim_separators(["Dr.", "-", "|"], ["O", "B-DOSE", "I-DOSE"]) == ["O", "O", "O"]
