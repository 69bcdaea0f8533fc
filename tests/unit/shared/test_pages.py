"""Page decoding: type sniffing, guards against truncated, malicious and oversized documents."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shared.errors import PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError
from shared.pages import PageLimits, inspect_document, load_pages, sniff_media_type
from tests.unit.gateway.test_documents import pdf_bytes, png_bytes, png_claiming


def tiff_pages(count: int) -> bytes:
    frames = [Image.new("L", (120, 80), 255) for _ in range(count)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "media"),
    [(png_bytes(), "image/png"), (pdf_bytes(), "application/pdf"), (tiff_pages(1), "image/tiff")],
)
def test_sniffs_by_content(data: bytes, media: str) -> None:
    assert sniff_media_type(data) == media


def test_multi_page_tiff_and_pdf_decode_every_page() -> None:
    assert inspect_document(tiff_pages(3), limits=PageLimits()).page_count == 3
    pages = load_pages(pdf_bytes(2), limits=PageLimits(pdf_dpi=200))
    # pdf_bytes writes 300 x 400 px pages at 200 dpi, so rendering at 200 dpi gives the same pixels.
    assert [p.size for p in pages] == [(300, 400), (300, 400)]
    assert all(p.mode == "RGB" for p in pages)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (200, 100), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    (page,) = load_pages(buffer.getvalue(), limits=PageLimits())
    assert page.size == (100, 200)


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLargeError) as error:
        inspect_document(png_claiming(100_000, 100_000), limits=PageLimits(max_page_pixels=10_000_000))
    assert error.value.code == "image_too_large"


def test_pdf_page_size_guard() -> None:
    with pytest.raises(PayloadTooLargeError):
        inspect_document(pdf_bytes(1), limits=PageLimits(max_page_pixels=1000))


def test_page_count_guard_for_tiff() -> None:
    with pytest.raises(PayloadTooLargeError) as error:
        inspect_document(tiff_pages(4), limits=PageLimits(max_pages=3))
    assert error.value.code == "too_many_pages"


@pytest.mark.parametrize("cut", [16, 60, 200])
def test_truncated_png_is_unreadable(cut: int) -> None:
    with pytest.raises(ValidationError) as error:
        inspect_document(png_bytes()[:cut], limits=PageLimits())
    assert error.value.code == "unreadable_document"


def test_unknown_bytes_are_unsupported() -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        sniff_media_type(b"GIF89a" + b"\x00" * 20)
