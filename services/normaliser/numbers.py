"""Printed numbers as OCR reads them, shared by the medication and the lab-value parsers."""

from __future__ import annotations

import re

#: Letters OCR reads for digits: O/o → 0, I/l/| → 1.
OCR_DIGITS = str.maketrans("OoIl|", "00111")


def parse_number(text: str) -> float | None:
    """A printed number: OCR ``O.5``, thousands ``1,200`` / ``1,50,000``, a decimal comma ``0,5``, a sign.

    Returns:
        The number, or None when the text is not one.
    """
    token = text.translate(OCR_DIGITS).replace(" ", "").replace("−", "-")
    if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{2,3})*,\d{3}(?:\.\d+)?", token):
        token = token.replace(",", "")
    else:
        token = token.replace(",", ".")
    try:
        return float(token)
    except ValueError:
        return None
