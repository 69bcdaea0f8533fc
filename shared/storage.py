"""The blob store: original uploads, kept byte for byte, content-addressed per patient.

Keys are ``<patient-dir>/<sha256>`` where the patient directory is a hash of the patient id, so that one
patient's blobs can be erased together and no patient id appears on disk. Writes are atomic and durable
(temporary file, fsync, rename, fsync of the directory) before the gateway answers 202.
Later backends (S3-compatible, per-patient encryption) implement the same :class:`BlobStore` protocol.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from shared.errors import NotFoundError


class BlobStore(Protocol):
    """What every blob backend offers."""

    def put(self, *, patient_id: str, data: bytes) -> str:
        """Store ``data`` for ``patient_id``; return its key. Idempotent for equal bytes."""
        ...

    def get(self, key: str) -> bytes:
        """Return the bytes stored under ``key``; raise NotFoundError if absent."""
        ...

    def delete_patient(self, patient_id: str) -> int:
        """Remove every blob of ``patient_id``; return how many were removed."""
        ...


def patient_dir_name(patient_id: str) -> str:
    """The on-disk directory name of a patient: a hash, so the id itself is never written to disk."""
    return hashlib.sha256(("rxlab-patient:" + patient_id).encode()).hexdigest()[:32]


class FilesystemBlobStore:
    """Blobs as files under ``root``: ``root/<patient-dir>/<sha[:2]>/<sha>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, *, patient_id: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        key = f"{patient_dir_name(patient_id)}/{digest}"
        path = self._path(key)
        if path.exists() and path.stat().st_size == len(data):
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError("the original document is not in the blob store", code="blob_not_found") from None

    def delete_patient(self, patient_id: str) -> int:
        folder = self.root / patient_dir_name(patient_id)
        if not folder.exists():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        return count

    def _path(self, key: str) -> Path:
        patient, _, digest = key.partition("/")
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest) or "/" in patient:
            raise NotFoundError("malformed blob key", code="blob_not_found")
        return self.root / patient / digest[:2] / digest


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_blob_store(root: Path) -> BlobStore:
    """Return the configured blob store (the filesystem store for now)."""
    return FilesystemBlobStore(root)
