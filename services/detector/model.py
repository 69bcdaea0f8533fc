"""Region detectors, chosen by name from a registry.

INTERIM: until the trained YOLO model lands (issue 4), the only detector is ``whole-page``: every page is one
text-bearing region. Its interface — pages in, regions per page out, with a version string — is final.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PIL import Image

from shared.contracts.stages import Region


class Detector(Protocol):
    version: str

    def detect(self, pages: list[Image.Image]) -> list[list[Region]]:
        """Return the regions of each page, in reading order, boxes in page pixels."""
        ...


class WholePageDetector:
    """Treats each page as a single region (the interim method)."""

    version = "whole-page-1"

    def detect(self, pages: list[Image.Image]) -> list[list[Region]]:
        return [[Region(cls="page", bbox=(0.0, 0.0, float(p.width), float(p.height)), confidence=1.0)] for p in pages]


DETECTORS: dict[str, Callable[[], Detector]] = {"whole-page": WholePageDetector}
_loaded: dict[str, Detector] = {}


def get_detector(name: str = "whole-page") -> Detector:
    """Return the detector ``name``, loaded once per process."""
    if name not in _loaded:
        _loaded[name] = DETECTORS[name]()
    return _loaded[name]
