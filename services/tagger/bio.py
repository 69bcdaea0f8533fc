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
