"""Accepting a document: validate, store the original durably, commit the job, then queue the pipeline.

Order matters for the health-data rules: nothing is stored for a rejected upload; the 202 is sent only after
the original bytes are fsynced and the job row is committed; publishing comes last, and a job whose message
could not be published stays ``queued`` in the database (the reconciler re-publishes it).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.gateway.extensions import Extensions
from shared.contracts.api import SubmitForm
from shared.contracts.names import Stage
from shared.db.models import Document, Job, JobEvent, utcnow
from shared.db.session import transaction
from shared.dispatch import publish_pipeline
from shared.errors import ConflictError, PayloadTooLargeError, ValidationError
from shared.jobs import QUEUED
from shared.pages import inspect_document

log = logging.getLogger(__name__)
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True, slots=True)
class Accepted:
    job_id: str
    document_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str | None
    idempotency_key: str | None
    actor: str
    request_id: str | None


def accept_document(*, extensions: Extensions, form: SubmitForm, upload: Upload) -> Accepted:
    """Validate and accept one upload; return its job (an existing one for a repeated idempotency key).

    Raises:
        ValidationError / UnsupportedMediaTypeError / PayloadTooLargeError: the upload is rejected, nothing stored.
        ConflictError: the idempotency key was used for a different request.
    """
    _check_key(upload.idempotency_key)
    if len(upload.data) > extensions.settings.max_upload_bytes:
        raise PayloadTooLargeError(
            f"the file exceeds {extensions.settings.max_upload_bytes} bytes", code="payload_too_large"
        )
    info = inspect_document(upload.data, limits=extensions.limits)
    sha256 = hashlib.sha256(upload.data).hexdigest()
    fingerprint = hashlib.sha256(f"{form.patient_id}\0{form.document_type}\0{sha256}".encode()).hexdigest()
    if upload.idempotency_key:
        replay = _replay(extensions, key=upload.idempotency_key, fingerprint=fingerprint)
        if replay is not None:
            return replay
    blob_key = extensions.blob_store.put(patient_id=form.patient_id, data=upload.data)
    document_id, job_id = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        with transaction(extensions.session_factory) as session:
            now = utcnow()
            session.add(
                Document(
                    id=document_id,
                    patient_id=form.patient_id,
                    sha256=sha256,
                    media_type=info.media_type,
                    size_bytes=len(upload.data),
                    page_count=info.page_count,
                    filename=(upload.filename or "")[:255] or None,
                    document_type=form.document_type,
                    blob_key=blob_key,
                    created_at=now,
                    created_by=upload.actor,
                    request_id=upload.request_id,
                )
            )
            session.flush()
            session.add(
                Job(
                    id=job_id,
                    document_id=document_id,
                    patient_id=form.patient_id,
                    state=QUEUED,
                    stage=Stage.DETECT.value,
                    attempts=0,
                    stage_attempts=0,
                    pipeline_version=extensions.settings.pipeline_version,
                    idempotency_key=upload.idempotency_key or None,
                    request_fingerprint=fingerprint,
                    callback_url=form.callback_url,
                    timings={},
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()
            session.add(JobEvent(job_id=job_id, patient_id=form.patient_id, state=QUEUED, stage="detect", at=now))
    except IntegrityError:
        # A concurrent request with the same idempotency key committed first.
        replay = _replay(extensions, key=upload.idempotency_key or "", fingerprint=fingerprint)
        if replay is None:
            raise
        return replay
    _publish(extensions, job_id)
    return Accepted(job_id=job_id, document_id=document_id, created=True)


def _check_key(key: str | None) -> None:
    if key is not None and (not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable()):
        raise ValidationError(
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable characters",
            code="invalid_idempotency_key",
        )


def _replay(extensions: Extensions, *, key: str, fingerprint: str) -> Accepted | None:
    with extensions.session_factory() as session:
        job = session.scalars(select(Job).where(Job.idempotency_key == key)).first()
    if job is None:
        return None
    if job.request_fingerprint != fingerprint:
        raise ConflictError(
            "this Idempotency-Key was already used with a different file or fields",
            code="idempotency_key_reused",
        )
    return Accepted(job_id=job.id, document_id=job.document_id, created=False)


def _publish(extensions: Extensions, job_id: str) -> None:
    try:
        publish_pipeline(extensions.celery, job_id=job_id)
    except Exception as exc:  # the job is committed; the reconciler re-publishes queued jobs
        log.error("publishing job %s failed (%s); it stays queued", job_id, type(exc).__name__)
