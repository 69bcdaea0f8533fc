"""The filesystem blob store: exact bytes, content addressing per patient, erasure by patient."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import NotFoundError
from shared.storage import FilesystemBlobStore, patient_dir_name


def test_round_trip_and_content_addressing(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    key = store.put(patient_id="p-1", data=b"\x00original\xff")
    assert store.get(key) == b"\x00original\xff"
    assert store.put(patient_id="p-1", data=b"\x00original\xff") == key
    assert store.put(patient_id="p-2", data=b"\x00original\xff") != key, "blobs are never shared across patients"
    assert "p-1" not in str(list(tmp_path.rglob("*")))


def test_erasing_a_patient_removes_only_their_blobs(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    mine = [store.put(patient_id="p-1", data=bytes([i]) * 10) for i in range(3)]
    theirs = store.put(patient_id="p-2", data=b"other")
    assert store.delete_patient("p-1") == 3
    for key in mine:
        with pytest.raises(NotFoundError):
            store.get(key)
    assert store.get(theirs) == b"other"
    assert not (tmp_path / patient_dir_name("p-1")).exists()


@pytest.mark.parametrize("key", ["../../etc/passwd", "abc/../../x", "p/" + "g" * 64, ""])
def test_malformed_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(NotFoundError):
        FilesystemBlobStore(tmp_path).get(key)


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    store.put(patient_id="p", data=b"x" * 1000)
    assert not [p for p in tmp_path.rglob(".incoming-*")]
