"""Labels for the words OCR read: each OCR word takes the BIO tag of the truth entity its characters came from.

The tagger is trained and scored on text as OCR reads it, not only on the clean strings the corpus printed. The
truth knows every printed line (text, box, whitespace tokens with BIO tags); OCR returns lines of words with boxes.
Words are matched to truth lines by position (inside the line's outline, which on a warped page is its rotated or
perspective quad, not the enclosing box), then the characters of the words read inside one truth line are
aligned to that line's characters (difflib opcodes: equal and replaced characters map position by position), and
each word takes the entity that owns most of its characters. A word of a new entity starts ``B-``; the next word
of the same truth entity continues ``I-``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

Box = Sequence[float]
#: The owner of a truth character: (entity label, entity number), or None outside any entity.
Owner = tuple[str, int] | None


@dataclass(frozen=True, slots=True)
class LabelledLine:
    """Words of one OCR line with their BIO tags (``len(words) == len(labels)``)."""

    words: list[str]
    labels: list[str]


def truth_owners(tokens: Sequence[dict[str, str]]) -> tuple[str, list[Owner]]:
    """A truth line's text (tokens joined by single spaces) and the owner of each of its characters.

    Args:
        tokens: ``[{"text", "label"}]`` with BIO labels.

    Returns:
        The text and, per character, ``(label, entity number)`` or None (``O`` tokens and the spaces between words).
    """
    owners: list[Owner] = []
    entity = -1
    parts: list[str] = []
    for index, token in enumerate(tokens):
        tag = token["label"]
        if tag.startswith("B-") or (tag.startswith("I-") and (index == 0 or tokens[index - 1]["label"] == "O")):
            entity += 1
        owner: Owner = (tag[2:], entity) if tag != "O" else None
        if parts:
            owners.append(None)
        parts.append(token["text"])
        owners.extend([owner] * len(token["text"]))
    return " ".join(parts), owners


def char_owners(read: str, truth: str, owners: Sequence[Owner]) -> list[Owner]:
    """The truth owner of each character of ``read`` (an OCR reading of ``truth``).

    Equal and replaced stretches map position by position (a replaced stretch proportionally); characters OCR
    inserted own nothing.
    """
    mapped: list[Owner] = [None] * len(read)
    matcher = SequenceMatcher(None, read, truth, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("equal", "replace") and j2 > j1:
            for i in range(i1, i2):
                mapped[i] = owners[min(j2 - 1, j1 + (i - i1) * (j2 - j1) // (i2 - i1))]
    return mapped


def word_owners(words: Sequence[str], truth: str, owners: Sequence[Owner]) -> list[Owner]:
    """The owner of each OCR word: the entity owning most of its characters (None when ``O`` chars win)."""
    read = " ".join(words)
    mapped = char_owners(read, truth, owners)
    result: list[Owner] = []
    start = 0
    for word in words:
        votes = Counter(mapped[start : start + len(word)])
        result.append(votes.most_common(1)[0][0] if votes else None)
        start += len(word) + 1
    return result


def bio(owners: Sequence[Owner]) -> list[str]:
    """BIO tags from word owners: ``B-`` where an entity starts, ``I-`` where the previous word had the same one."""
    tags: list[str] = []
    previous: Owner = None
    for owner in owners:
        if owner is None:
            tags.append("O")
        else:
            tags.append(("I-" if owner == previous else "B-") + owner[0])
        previous = owner
    return tags


def _outline(line: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    """A truth line's outline: its ``quad`` on a warped page, else the corners of its ``bbox``."""
    if "quad" in line:
        return tuple((float(x), float(y)) for x, y in line["quad"])
    x0, y0, x1, y1 = (float(v) for v in line["bbox"])
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


@lru_cache(maxsize=4096)
def _frame(outline: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, float, float]:
    """The homography from page pixels to the line's own frame (x along the text, y across, in pixels of its
    printed box), with that box's width and height.
    """
    tl, tr, br, bl = (np.array(p) for p in outline)
    width = float((np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2)
    height = float((np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2)
    source = np.array([tl, tr, br, bl], dtype=np.float32)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    return np.asarray(cv2.getPerspectiveTransform(source, target), dtype=np.float64), width, height


def line_position(point: tuple[float, float], line: dict[str, Any]) -> tuple[float, float, float, float]:
    """Where a page point lies in a truth line's own frame: ``(x, y, width, height)`` in pixels of the printed
    line, ``0 <= x <= width`` and ``0 <= y <= height`` inside it (exact on rotated and perspective pages).
    """
    matrix, width, height = _frame(_outline(line))
    mapped = matrix @ np.array([point[0], point[1], 1.0])
    return float(mapped[0] / mapped[2]), float(mapped[1] / mapped[2]), width, height


def truth_line_of(word_box: Box, truth_lines: Sequence[dict[str, Any]], *, slack: float = 12.0) -> int | None:
    """Index of the truth line a word was read from, None for words outside every printed line (noise, stamps).

    The word's centre, taken into each line's own frame (its outline, so rows of a rotated page that share
    enclosing boxes are still told apart), must lie along the line (``slack`` px either end) and within a quarter of
    the line's height of its band; of those lines the one whose middle is nearest wins.
    """
    centre = ((word_box[0] + word_box[2]) / 2, (word_box[1] + word_box[3]) / 2)
    best, best_distance = None, 0.75
    for index, line in enumerate(truth_lines):
        x, y, width, height = line_position(centre, line)
        if not -slack <= x <= width + slack or height <= 0:
            continue
        distance = abs(y - height / 2) / height  # 0.5 at the band's edge
        if distance < best_distance:
            best, best_distance = index, distance
    return best


def label_ocr_line(words: Sequence[tuple[str, Box]], truth_lines: Sequence[dict[str, Any]]) -> LabelledLine:
    """BIO tags for the words of one OCR line, from the truth lines of the same page.

    Args:
        words: The line's words with their boxes in page pixels.
        truth_lines: The page's truth lines (``text``, ``bbox``, ``tokens``), boxes in the same pixels.

    Returns:
        The words and one tag per word.
    """
    home = [truth_line_of(box, truth_lines) for _, box in words]
    owners: list[Owner] = [None] * len(words)
    for line_index in {h for h in home if h is not None}:
        positions = [k for k, h in enumerate(home) if h == line_index]
        text, truth = truth_owners(truth_lines[line_index]["tokens"])
        found = word_owners([words[k][0] for k in positions], text, truth)
        for k, owner in zip(positions, found, strict=True):
            # Entity numbers are per truth line: make them distinct across the lines one OCR line may join.
            owners[k] = (owner[0], owner[1] * 1000 + line_index) if owner else None
    return LabelledLine(words=[w for w, _ in words], labels=bio(owners))
