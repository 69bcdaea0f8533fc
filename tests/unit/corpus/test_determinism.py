"""The corpus is a function of the seed: same plan, same bytes, whichever process or worker count makes it."""

from __future__ import annotations

from pathlib import Path

from tests.unit.corpus.conftest import LAB_SCAN, RX_PHOTO
from training.corpus import generate
from training.corpus.document import build_document, plan_document, write_document


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_same_plan_gives_identical_truth_and_image_bytes(tmp_path: Path, vocab_dir: Path) -> None:
    for plan in (RX_PHOTO, LAB_SCAN):  # degraded ones: the degradation generator is seeded too
        first = write_document(build_document(plan, vocab_dir=vocab_dir), tmp_path / "a" / plan.doc_id)
        second = write_document(build_document(plan, vocab_dir=vocab_dir), tmp_path / "b" / plan.doc_id)
        assert first == second
        files = _files(tmp_path / "a" / plan.doc_id)
        assert set(files) == {"truth.json", "page-001.png", first["original"]}
        assert files == _files(tmp_path / "b" / plan.doc_id)


def test_plans_depend_on_seed_split_and_index_only() -> None:
    forward = [plan_document(seed=3, split="test", index=i) for i in range(30)]
    backward = [plan_document(seed=3, split="test", index=i) for i in reversed(range(30))][::-1]
    assert forward == backward
    assert forward != [plan_document(seed=4, split="test", index=i) for i in range(30)]
    assert len({plan.doc_id for plan in forward}) == 30


def test_worker_processes_make_the_same_documents(tmp_path: Path, vocab_dir: Path) -> None:
    out = tmp_path / "corpus"
    code = generate.main(
        [
            "--out",
            str(out),
            "--seed",
            "5",
            "--train",
            "2",
            "--val",
            "0",
            "--test",
            "0",
            "--workers",
            "2",
            "--vocab-dir",
            str(vocab_dir),
        ]
    )
    assert code == 0
    for index in range(2):
        plan = plan_document(seed=5, split="train", index=index)
        local = tmp_path / "local" / plan.doc_id
        write_document(build_document(plan, vocab_dir=vocab_dir), local)
        assert _files(out / "train" / plan.doc_id) == _files(local)
    assert (out / "manifest.json").is_file()
