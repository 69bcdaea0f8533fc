"""Decode uploaded documents into page images, with the guards every entry point shares.

The gateway calls :func:`inspect_document` before anything is stored (type sniffing, truncation, decompression
bombs, page limits); the workers call :func:`load_pages` to get RGB page images. Bounding boxes everywhere in rxlab
are in pixels of these decoded pages: images after EXIF orientation, PDF pages rendered at ``pdf_dpi``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
)
SUPPORTED_MEDIA_TYPES = tuple(sorted({media for _, media in _SIGNATURES}))
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF"}


@dataclass(frozen=True, slots=True)
class PageLimits:
    """Guards applied to every document: pixels per page, pages per document, PDF render resolution."""

    max_page_pixels: int = 50_000_000
    max_pages: int = 30
    pdf_dpi: int = 200


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    media_type: str
    page_sizes: tuple[tuple[int, int], ...]

    @property
    def page_count(self) -> int:
        return len(self.page_sizes)


def sniff_media_type(data: bytes) -> str:
    """Return the media type from the file's magic bytes (the declared type is never trusted).

    Raises:
        ValidationError: the file is empty.
        UnsupportedMediaTypeError: not JPEG, PNG, TIFF or PDF.
    """
    if not data:
        raise ValidationError("the uploaded file is empty", code="empty_file")
    for signature, media in _SIGNATURES:
        if data.startswith(signature):
            return media
    raise UnsupportedMediaTypeError("the file is not a JPEG, PNG, TIFF or PDF document", code="unsupported_media_type")


def inspect_document(data: bytes, *, limits: PageLimits) -> DocumentInfo:
    """Validate a whole document before it is accepted; return its type and page sizes.

    Every image frame is decoded once (a JPEG at 1/8 scale: enough to find truncation); PDF pages are opened
    and measured but not rendered.

    Raises:
        ValidationError: empty, truncated or corrupt (code ``unreadable_document``).
        UnsupportedMediaTypeError: not a supported type.
        PayloadTooLargeError: too many pages or pixels (decompression bomb).
    """
    media_type = sniff_media_type(data)
    sizes: list[tuple[int, int]] = []
    with _decode_errors():
        if media_type == "application/pdf":
            sizes = [size for size, _ in _pdf_pages(data, limits, render=False)]
        else:
            for frame in _image_frames(data, media_type, limits):
                width, height = frame.size
                if frame.format == "JPEG":
                    frame.draft("L", (max(1, width // 8), max(1, height // 8)))
                frame.load()
                sizes.append((width, height))
    if not sizes:
        raise ValidationError("the document has no pages", code="unreadable_document")
    return DocumentInfo(media_type=media_type, page_sizes=tuple(sizes))


def load_pages(data: bytes, *, limits: PageLimits) -> list[Image.Image]:
    """Decode every page to an upright RGB image at full resolution (PDF pages at ``limits.pdf_dpi``)."""
    media_type = sniff_media_type(data)
    pages: list[Image.Image] = []
    with _decode_errors():
        if media_type == "application/pdf":
            pages = [image for _, image in _pdf_pages(data, limits, render=True) if image is not None]
        else:
            for frame in _image_frames(data, media_type, limits):
                frame.load()
                pages.append(ImageOps.exif_transpose(frame).convert("RGB"))
    return pages


@contextmanager
def _decode_errors() -> Iterator[None]:
    """Turn decoder failures into the project's errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValidationError(
            f"the document cannot be decoded (truncated or corrupt): {type(exc).__name__}",
            code="unreadable_document",
        ) from None


def _image_frames(data: bytes, media_type: str, limits: PageLimits) -> Iterator[Image.Image]:
    """Yield the image positioned at each frame, size-checked, not yet decoded."""
    image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[media_type]])
    frames = getattr(image, "n_frames", 1)
    _check_page_count(frames, limits)
    for index in range(frames):
        image.seek(index)
        width, height = image.size
        if width < 1 or height < 1 or width * height > limits.max_page_pixels:
            raise _too_many_pixels()
        yield image


def _check_page_count(count: int, limits: PageLimits) -> None:
    if count > limits.max_pages:
        raise PayloadTooLargeError(
            f"the document has {count} pages; at most {limits.max_pages} are accepted", code="too_many_pages"
        )


def _too_many_pixels() -> PayloadTooLargeError:
    return PayloadTooLargeError("a page has too many pixels (decompression-bomb guard)", code="image_too_large")


def _pdf_pages(
    data: bytes, limits: PageLimits, *, render: bool
) -> Iterator[tuple[tuple[int, int], Image.Image | None]]:
    """Yield each PDF page's pixel size at ``limits.pdf_dpi`` and, if ``render``, its RGB image."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise ValidationError("the PDF cannot be opened (corrupt or encrypted)", code="unreadable_document") from None
    try:
        _check_page_count(len(pdf), limits)
        scale = limits.pdf_dpi / 72.0
        for index in range(len(pdf)):
            page = pdf[index]
            width_pt, height_pt = page.get_size()
            size = (round(width_pt * scale), round(height_pt * scale))
            if size[0] < 1 or size[1] < 1 or size[0] * size[1] > limits.max_page_pixels:
                raise _too_many_pixels()
            image = page.render(scale=scale).to_pil().convert("RGB") if render else None
            yield size, image
    except pdfium.PdfiumError:
        raise ValidationError("a PDF page cannot be read", code="unreadable_document") from None
    finally:
        pdf.close()
