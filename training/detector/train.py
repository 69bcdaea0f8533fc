"""``make train-detector``: train the YOLO region detector on the corpus and ship it as ONNX.

Steps: export the corpus' train/val splits to YOLO format (:mod:`training.detector.dataset`); build YOLOv8 from
its model yaml (no pretrained weights: nothing is downloaded) and train on the CPU; export the best checkpoint to
ONNX (``simplify=False``: the exporter must not install anything); write ``models/detector/detector.onnx`` and
``models/detector/training.json`` (command, data, epochs, wall time). Runs in the training environment
(``.venv-train``: torch + ultralytics), never in a serving image.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _offline_environment() -> None:
    """Keep ultralytics offline and inside the project (settings dir, no pip auto-installs, no hub)."""
    config = REPO / "var" / "ultralytics"
    config.mkdir(parents=True, exist_ok=True)
    os.environ.update(YOLO_CONFIG_DIR=str(config), YOLO_OFFLINE="1", YOLO_AUTOINSTALL="false")
    # The Makefile limits OpenMP to one thread for Tesseract; torch would then train on one core of two.
    os.environ.pop("OMP_THREAD_LIMIT", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "data" / "corpus")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "detector")
    parser.add_argument("--out", type=Path, default=REPO / "models" / "detector")
    parser.add_argument("--model", default="yolov8n.yaml", help="ultralytics model yaml (built from scratch)")
    parser.add_argument(
        "--reg-max",
        type=int,
        default=32,
        help="DFL bins of the box head (16 cap a box side at 15 strides from its anchor: lines 240 px wide)",
    )
    parser.add_argument("--imgsz", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--train-pages", type=int, default=100_000, help="at most this many (default: all)")
    parser.add_argument("--val-pages", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--mosaic",
        type=float,
        default=0.0,
        help="mosaic probability (0: a page is always seen whole, at the scale serving sees it)",
    )
    parser.add_argument("--scale", type=float, default=0.2, help="random rescale gain (ultralytics `scale`)")
    parser.add_argument("--translate", type=float, default=0.05, help="random shift (ultralytics `translate`)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    args = parser.parse_args(argv)
    _offline_environment()
    from training.detector.dataset import CLASSES, export

    if not (args.corpus / "train").is_dir():
        print(f"no corpus at {args.corpus}: run `make corpus` first", file=sys.stderr)
        return 1
    started = time.monotonic()
    data = export(
        corpus=args.corpus,
        out=args.data,
        max_pages={"train": args.train_pages, "val": args.val_pages},
        imgsz=args.imgsz,
    )
    import ultralytics.utils.torch_utils
    from ultralytics import YOLO

    # ultralytics resets torch to os.cpu_count() - 1 threads when it selects the CPU: one thread on 2 cores.
    ultralytics.utils.torch_utils.NUM_THREADS = args.threads

    runs = REPO / "var" / "detector-runs"
    model = YOLO(str(_model_yaml(args.model, reg_max=args.reg_max, out=runs)))
    model.train(
        data=str(data),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device="cpu",
        workers=1,
        cache="ram",
        mosaic=args.mosaic,
        scale=args.scale,
        translate=args.translate,
        amp=False,
        plots=False,
        pretrained=False,
        seed=args.seed,
        deterministic=True,
        project=str(runs),
        name="train",
        exist_ok=True,
        fliplr=0.0,  # mirrored text is not a page anyone receives
        verbose=False,
    )
    best = runs / "train" / "weights" / "best.pt"
    exported = Path(YOLO(str(best)).export(format="onnx", imgsz=args.imgsz, simplify=False, dynamic=False))
    wall = time.monotonic() - started
    args.out.mkdir(parents=True, exist_ok=True)
    version = time.strftime("%Y%m%d")
    _stamp(exported, version=version)
    shutil.copyfile(exported, args.out / "detector.onnx")
    record = {
        "version": version,
        "command": "make train-detector",
        "model": args.model,
        "reg_max": args.reg_max,
        "imgsz": args.imgsz,
        "epochs": args.epochs,
        "batch": args.batch,
        "seed": args.seed,
        "mosaic": args.mosaic,
        "scale": args.scale,
        "translate": args.translate,
        "threads": args.threads,
        "classes": list(CLASSES),
        "train_pages": sum(1 for _ in (args.data / "images" / "train").iterdir()),
        "val_pages": sum(1 for _ in (args.data / "images" / "val").iterdir()),
        "wall_seconds": round(wall),
        "file_bytes": (args.out / "detector.onnx").stat().st_size,
    }
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


def _model_yaml(name: str, *, reg_max: int, out: Path) -> Path:
    """The ultralytics model yaml ``name`` with ``reg_max`` DFL bins, written under ``out``.

    A box side is predicted as a distribution over ``reg_max`` bins of one stride each, so it can reach at most
    ``reg_max - 1`` strides from its anchor. Thin boxes (lines 8-12 px high at 640 px) are predicted from the stride-8
    level, where ultralytics' default 16 bins cap a box at 2 x 15 x 8 = 240 px wide: every medication line and lab
    row wider than that came out 240 px wide. The file keeps the scale letter in its name (``yolov8n-reg32.yaml``).
    """
    import yaml
    from ultralytics.nn.tasks import yaml_model_load

    config = yaml_model_load(name)
    config["reg_max"] = reg_max
    for key in ("yaml_file", "scale"):  # set again by ultralytics from the file it loads
        config.pop(key, None)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{Path(name).stem}-reg{reg_max}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _stamp(path: Path, *, version: str) -> None:
    """Record the model version in the ONNX metadata, where the detector service reads it."""
    import onnx

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "rxlab_version", version
    onnx.save(model, str(path))


if __name__ == "__main__":
    raise SystemExit(main())
