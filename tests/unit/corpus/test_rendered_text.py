"""Truth and rendering agree: Tesseract reads each line of a clean page, cropped to its truth box, as its truth text.

A line box that missed its text, or a truth string that differs from what was drawn, shows up as a high error.
"""

from __future__ import annotations

import os

import pytesseract
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from tests.unit.corpus.conftest import Written


@pytest.mark.parametrize("name", ["rx_clean", "lab_pdf"])
def test_rendered_lines_read_as_their_truth(corpus: dict[str, Written], name: str) -> None:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    written = corpus[name]
    page = written.truth["pages"][0]
    image = Image.open(written.folder / page["image"]).convert("L")
    lines = [ln for ln in page["lines"] if len(ln["text"]) >= 8][:10]
    assert len(lines) >= 6
    errors = chars = exact = 0
    for line in lines:
        x0, y0, x1, y1 = line["bbox"]
        margin = max(4, (y1 - y0) * 0.3)
        crop = image.crop((int(x0 - margin), int(y0 - margin), int(x1 + margin), int(y1 + margin)))
        read = " ".join(pytesseract.image_to_string(crop, config="--psm 7").split())
        errors += Levenshtein.distance(read, line["text"])
        chars += len(line["text"])
        exact += read == line["text"]
    assert errors / chars < 0.03, f"character error rate {errors / chars:.3f}"
    assert exact >= len(lines) * 0.6
