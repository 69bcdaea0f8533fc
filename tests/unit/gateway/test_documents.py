"""POST /v1/documents: acceptance, idempotency keys, bad uploads; GET original returns the exact bytes."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from services.gateway.extensions import ext
from shared.db.models import Document, Job, JobEvent
from shared.settings import GatewaySettings


def png_bytes(width: int = 320, height: int = 200, text_color: str = "black") -> bytes:
    image = Image.new("RGB", (width, height), "white")
    for x in range(20, 300, 7):
        image.putpixel((x, 100), (0, 0, 0) if text_color == "black" else (200, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def pdf_bytes(pages: int = 1) -> bytes:
    images = [Image.new("RGB", (300, 400), "white") for _ in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=200)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def multipart(fields: dict[str, str], data: bytes, boundary: str = "rxlab-test-boundary") -> bytes:
    """A multipart/form-data body built in memory (the test client spools large ones to unclosed temp files)."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts)


def submit(client: FlaskClient, data: bytes, *, key: str | None = None, patient: str = "p-1", **fields: str):  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": key} if key else {}
    body = multipart({"patient_id": patient, **fields}, data)
    return client.post(
        "/v1/documents", data=body, headers=headers, content_type="multipart/form-data; boundary=rxlab-test-boundary"
    )


def counts(client: FlaskClient) -> tuple[int, int, int]:
    with client.application.app_context(), ext().session_factory() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(model)) or 0) for model in (Document, Job, JobEvent)
        )


def blob_files(settings: GatewaySettings) -> list[Path]:
    return [p for p in settings.blob_root.rglob("*") if p.is_file()] if settings.blob_root.exists() else []


@pytest.mark.parametrize("data", [png_bytes(), jpeg_bytes(), pdf_bytes(2)], ids=["png", "jpeg", "pdf"])
def test_accepts_and_stores_the_exact_bytes(client: FlaskClient, data: bytes, settings: GatewaySettings) -> None:
    response = submit(client, data, document_type="prescription")
    assert response.status_code == 202, response.json
    body = response.json
    assert body is not None and set(body) == {"job_id", "document_id", "status_url"}
    assert body["status_url"] == f"/v1/jobs/{body['job_id']}"
    original = client.get(f"/v1/documents/{body['document_id']}/original")
    assert original.status_code == 200
    assert original.data == data
    job = client.get(body["status_url"]).json
    assert job is not None
    assert (job["state"], job["stage"], job["attempts"]) == ("queued", "detect", 0)
    assert [(e["state"], e["stage"]) for e in job["history"]] == [("queued", "detect")]
    assert counts(client) == (1, 1, 1)
    assert len(blob_files(settings)) == 1


def test_same_key_same_bytes_is_the_same_job(client: FlaskClient) -> None:
    first = submit(client, png_bytes(), key="order-17")
    second = submit(client, png_bytes(), key="order-17")
    assert first.status_code == second.status_code == 202
    assert first.json == second.json
    assert counts(client)[:2] == (1, 1)


def test_same_key_other_bytes_is_a_conflict(client: FlaskClient) -> None:
    assert submit(client, png_bytes(), key="order-18").status_code == 202
    response = submit(client, jpeg_bytes(), key="order-18")
    assert response.status_code == 409
    assert response.json == {
        "error": {
            "code": "idempotency_key_reused",
            "message": "this Idempotency-Key was already used with a different file or fields",
        }
    }
    assert counts(client)[:2] == (1, 1)


def test_without_a_key_each_upload_is_a_new_job(client: FlaskClient, settings: GatewaySettings) -> None:
    submit(client, png_bytes())
    submit(client, png_bytes())
    assert counts(client)[:2] == (2, 2)
    assert len(blob_files(settings)) == 1, "the original is content-addressed: stored once per patient"


BAD_UPLOADS = {
    "empty": (b"", 422, "empty_file"),
    "text": (b"Patient: John Doe\nTab. Metformin 500 mg\n", 415, "unsupported_media_type"),
    "elf": (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, 415, "unsupported_media_type"),
    "html-as-png": (b"<html><script>alert(1)</script></html>", 415, "unsupported_media_type"),
    "truncated-png": (png_bytes()[:300], 422, "unreadable_document"),
    "truncated-jpeg": (jpeg_bytes()[:400], 422, "unreadable_document"),
    "png-magic-then-garbage": (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, 422, "unreadable_document"),
    "pdf-garbage": (b"%PDF-1.7\n" + b"\x00\xff" * 300, 422, "unreadable_document"),
    "decompression-bomb": (png_claiming(60_000, 60_000), 413, "image_too_large"),
    "too-many-pages": (pdf_bytes(6), 413, "too_many_pages"),
    "oversized": (b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024 + 10), 413, "payload_too_large"),
}


@pytest.mark.parametrize("name", sorted(BAD_UPLOADS))
def test_bad_upload_is_a_clear_error_and_nothing_is_stored(
    client: FlaskClient, settings: GatewaySettings, name: str
) -> None:
    data, status, code = BAD_UPLOADS[name]
    response = submit(client, data)
    assert response.status_code == status, response.json
    assert response.json is not None and response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert counts(client) == (0, 0, 0)
    assert blob_files(settings) == []


def test_request_body_over_the_limit_is_refused_before_parsing(client: FlaskClient) -> None:
    response = client.post(
        "/v1/documents", data=b"x" * (3 * 1024 * 1024), content_type="multipart/form-data; boundary=zz"
    )
    assert response.status_code == 413
    assert response.json == {"error": {"code": "payload_too_large", "message": "the upload exceeds the size limit"}}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"patient": ""}, "invalid_fields"),
        ({"patient": "../etc/passwd"}, "invalid_fields"),
        ({"document_type": "invoice"}, "invalid_fields"),
        ({"callback_url": "file:///etc/passwd"}, "invalid_fields"),
    ],
)
def test_invalid_fields(client: FlaskClient, fields: dict[str, str], code: str) -> None:
    fields = dict(fields)
    patient = fields.pop("patient", "p-1")
    response = submit(client, png_bytes(), patient=patient, **fields)
    assert response.status_code == 422
    assert response.json is not None and response.json["error"]["code"] == code
    assert counts(client) == (0, 0, 0)


def test_missing_file_part(client: FlaskClient) -> None:
    response = client.post("/v1/documents", data={"patient_id": "p-1"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.json is not None and response.json["error"]["code"] == "file_missing"


def test_existing_data_survives_a_bad_upload(client: FlaskClient) -> None:
    good = submit(client, png_bytes(), key="k-good").json
    assert good is not None
    submit(client, png_bytes()[:200], key="k-good")
    original = client.get(f"/v1/documents/{good['document_id']}/original")
    assert original.data == png_bytes()


def test_unknown_ids_are_json_404s(client: FlaskClient) -> None:
    for url in ("/v1/jobs/nope", "/v1/documents/nope/original", "/v1/records/nope/versions", "/v1/nothing"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json is not None and set(response.json["error"]) == {"code", "message"}
