"""Ground truth of a document: ``truth.json`` with the pages' regions and lines and the expected extraction.

The expected result is a full ``rxlab.extraction/v1`` document validated by
:class:`shared.contracts.extraction.ExtractionResult`: document-level values come from the content, one medication
or lab result per printed line that carries one (text, page and box of that line, confidence 1.0), and every model
version is ``truth``.
"""

from __future__ import annotations

from typing import Any

from shared.contracts.extraction import ExtractionResult
from training.corpus.schema import Box, RenderedPage

TRUTH_VERSIONS = {"detector": "truth", "ocr": "truth", "tagger": "truth", "vocabulary": "truth"}


def rounded(box: Box) -> list[float]:
    """A box with one decimal (rounding is monotonic, so containment between boxes survives it)."""
    return [round(float(v), 1) for v in box]


def expected_result(
    *, doc_id: str, document_type: str, header: dict[str, Any], pages: list[RenderedPage]
) -> ExtractionResult:
    """The expected extraction of a document.

    Args:
        doc_id: Document id (``document_id``).
        document_type: ``prescription`` or ``lab_report``.
        header: ``patient``, ``prescriber`` and ``document_date`` values.
        pages: The final pages (boxes in their pixels).

    Returns:
        The validated result.

    Raises:
        pydantic.ValidationError: a value breaks the contract.
    """
    medications: list[dict[str, Any]] = []
    lab_results: list[dict[str, Any]] = []
    for number, page in enumerate(pages, start=1):
        for line in page.lines:
            if line.payload is None:
                continue
            item = {**line.payload, "text": line.text, "confidence": 1.0, "page": number, "bbox": rounded(line.bbox)}
            (medications if line.kind == "medication" else lab_results).append(item)
    return ExtractionResult.model_validate(
        {
            "document_id": doc_id,
            "document_type": document_type,
            **header,
            "medications": medications,
            "lab_results": lab_results,
            "needs_review": False,
            "review_reasons": [],
            "model_versions": TRUTH_VERSIONS,
        }
    )


def page_truth(number: int, page: RenderedPage, *, width: int, height: int) -> dict[str, Any]:
    """One page's entry of truth.json."""
    return {
        "page": number,
        "width": width,
        "height": height,
        "dpi": page.dpi,
        "image": f"page-{number:03d}.png",
        "regions": [{"cls": region.cls, "bbox": rounded(region.bbox)} for region in page.regions],
        "lines": [
            {
                "text": line.text,
                "bbox": rounded(line.bbox),
                "region": line.region,
                "kind": line.kind,
                "tokens": line.tokens,
                **({"quad": [[round(x, 1), round(y, 1)] for x, y in line.quad]} if line.quad else {}),
            }
            for line in page.lines
        ],
    }
