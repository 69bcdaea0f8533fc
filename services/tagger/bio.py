"""BIO decoding: the entities of a tag sequence, shared by the tag stage and the tagger's scoring."""

from __future__ import annotations

from collections.abc import Sequence


def decode(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities as ``(label, first word, last word + 1)`` in order; an ``I-`` without an open entity of its label
    starts one.
    """
    found: list[tuple[str, int, int]] = []
    label: str | None = None
    start = 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        if label is not None and (prefix != "I" or name != label):
            found.append((label, start, i))
            label = None
        if prefix == "B" or (prefix == "I" and label is None):
            label, start = name, i
    return found


#: Characters of a word that only separates fields ("-", "|", ":" …). Not "<", ">", "(", "/", "%": they belong to
#: values and ranges ("< 200", "(3.5 - 5.0)").
SEPARATOR_CHARS = frozenset("-–—|:;,.'\"‘’“”•*_~=")


def is_separator(word: str) -> bool:
    """True for a word made only of separator characters."""
    return bool(word) and all(c in SEPARATOR_CHARS for c in word)


def trim_separators(words: Sequence[str], tags: Sequence[str]) -> list[str]:
    """The tags with separator words at the edge of an entity set to ``O`` (an entity never starts or ends with one).

    A separator inside an entity ("3.5 - 5.0") keeps its tag; when an entity's first word is dropped, the next one
    becomes its ``B-``.
    """
    out = list(tags)
    for label, start, end in decode(tags):
        first, last = start, end
        while first < last and is_separator(words[first]):
            first += 1
        while last > first and is_separator(words[last - 1]):
            last -= 1
        for i in (*range(start, first), *range(last, end)):
            out[i] = "O"
        if first < last:
            out[first] = f"B-{label}"
    return out
