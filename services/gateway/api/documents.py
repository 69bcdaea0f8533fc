"""POST /v1/documents (submit) and GET /v1/documents/{id}/original (the exact bytes)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import ValidationError as PydanticValidationError

from services.gateway.extensions import ext
from services.gateway.intake import Upload, accept_document
from services.gateway.openapi import Operation, documented
from services.gateway.openapi import Response as Doc
from shared.contracts.api import ErrorBody, SubmitForm, SubmitResponse
from shared.db.models import Document
from shared.errors import NotFoundError, ValidationError, problems_of

bp = Blueprint("documents", __name__)


@bp.post("/v1/documents")
@documented(
    Operation(
        summary="Submit a prescription or lab report (JPEG, PNG, TIFF or PDF)",
        tag="documents",
        form=SubmitForm,
        file_field="file",
        headers={"Idempotency-Key": "same key and same request → the same job; same key, other file → 409"},
        responses={
            202: Doc("accepted: the original is stored and the job committed", SubmitResponse),
            409: Doc("the Idempotency-Key was used for another request", ErrorBody),
            413: Doc("too large (bytes, pixels or pages)", ErrorBody),
            415: Doc("not a JPEG, PNG, TIFF or PDF", ErrorBody),
            422: Doc("invalid fields, empty or unreadable file", ErrorBody),
        },
    )
)
def submit() -> ResponseReturnValue:
    form = _form()
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("the multipart field 'file' is required", code="file_missing")
    extensions = ext()
    data = upload.stream.read(extensions.settings.max_upload_bytes + 1)
    accepted = accept_document(
        extensions=extensions,
        form=form,
        upload=Upload(
            data=data,
            filename=upload.filename,
            idempotency_key=request.headers.get("Idempotency-Key"),
            actor=g.actor,
            request_id=g.request_id,
        ),
    )
    status_url = url_for("jobs.get_job", job_id=accepted.job_id)
    body = SubmitResponse(job_id=accepted.job_id, document_id=accepted.document_id, status_url=status_url)
    response = jsonify(body.model_dump())
    response.status_code = 202
    response.headers["Location"] = status_url
    return response


def _form() -> SubmitForm:
    fields = {key: request.form[key] for key in ("patient_id", "document_type", "callback_url") if key in request.form}
    try:
        return SubmitForm.model_validate(fields)
    except PydanticValidationError as exc:
        problems = problems_of(exc)
        raise ValidationError(f"invalid form fields: {problems}", code="invalid_fields") from None


@bp.get("/v1/documents/<document_id>/original")
@documented(
    Operation(
        summary="The original upload, byte for byte, with its media type",
        tag="documents",
        responses={
            200: Doc("the original bytes", media_type="application/octet-stream"),
            404: Doc("unknown", ErrorBody),
        },
    )
)
def get_original(document_id: str) -> ResponseReturnValue:
    extensions = ext()
    with extensions.session_factory() as session:
        document = session.get(Document, document_id)
    if document is None:
        raise NotFoundError("no such document", code="document_not_found")
    data = extensions.blob_store.get(document.blob_key)
    response = Response(data, mimetype=document.media_type)
    response.headers["ETag"] = f'"{document.sha256}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
