"""Static int8 quantisation of the exported detector, shipped only if it keeps its accuracy on the val pages.

The second step of ``make train-detector`` (``make quantize-detector`` alone), in the training environment (it
needs the ``onnx`` package). Steps:

0. cut the float export's graph before its box decoding (:func:`cut_box_decoding`): it outputs the head's DFL bin
   logits and class scores, and the service decodes only the boxes it keeps (same boxes, within 0.0005 px on the 568
   val and calib pages; the graph's decoding was a seventh of its time);
1. calibrate on every ``--every``-th page of the detector's train images (``data/detector/images/train``, already
   scaled as serving scales them), letterboxed by the service's own :func:`services.detector.model.letterbox`;
2. quantise with ONNX Runtime (QDQ: int8 weights per output channel in 7 bits, uint8 activations, min-max ranges). The
   weights keep to 7 bits (``reduce_range``) so that CPUs without VNNI can run the fused int8 kernels: AVX2 multiplies
   uint8 by int8 pairwise into 16 bits, which saturates with full 8-bit weights (``uint8·int8 + uint8·int8`` exceeds
   32,767) but not with 7-bit ones. What is
   left of the head's decoding (reshapes, concatenation, the class sigmoid: the ``/model.22/`` nodes outside its
   ``cv2``/``cv3`` convolution branches) and the last convolution of each branch stay float, so box
   coordinates are not rounded to a 256-step grid; so do the backbone's first ``FLOAT_BACKBONE_LAYERS`` modules (the
   stem, the first stage and the next downsampling convolution, at 1/2 to 1/8 of the input's resolution, where the
   strokes of small print are a pixel or two wide): with them int8 the 512 px model of 2026-12-06 lost its clean
   footers (val mAP50-95 0.613 → 0.369);
3. run the float and the int8 model through the detector service (:class:`~services.detector.model.YoloOnnxDetector`)
   over the val documents of the corpus and score both (mAP50 / mAP50-95 against the truth boxes, clean and degraded);
4. ship the int8 file as ``models/detector/detector.onnx`` (its version gets ``-float<N>-int8``, :func:`int8_version`)
   unless its overall val mAP50-95 is more than ``--tolerance`` below the float model's, and record both scores in
   ``training.json``.

Usage: ``python -m training.detector.quantize [--model var/detector-runs/train/weights/best.onnx]``.

``--from-int8 models/detector/detector.onnx`` re-quantises a shipped int8 model whose float export is gone: its
weights are dequantised (the int8 values times their scales become the float weights) and its activations' quantise
/ dequantise pairs dropped (:func:`dequantise`), and that float model takes the float export's place in steps 1–4
(step 0 is already done).
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: Where ultralytics leaves the float export of ``make train-detector`` (stamped with the model version).
FLOAT_MODEL = REPO / "var" / "detector-runs" / "train" / "weights" / "best.onnx"
HEAD = "/model.22/"
#: Backbone modules (``/model.0/`` … ) that stay float. Chosen on val with the model of 2026-12-06 (mean of clean and
#: degraded mAP50-95 of the network's boxes; float 0.6263): none 0.6022, the first 2 0.6036, 3 0.6143, 4 0.6209, 5
#: 0.6231. 5 shipped first; 4 since 2026-12-07: module 4 (the second C2f stage, 64 channels at 1/8 of the input) was
#: the float part's most costly module (4.4 of 35.4 ms of kernel time per val page, ONNX Runtime's profiler), and in
#: int8 the network ran in about 3 ms less (by hand, 24 test pages, interleaved runs), while the served boxes (line
#: boxes snapped to their ink) and the fields read through them stayed within val's noise (models/detector/README.md).
FLOAT_BACKBONE_LAYERS = 4


def float_nodes(names: Sequence[str]) -> list[str]:
    """Of a YOLOv8 graph's node names, those that stay float: the head's box decoding, its branches' last convs,
    and the backbone's first ``FLOAT_BACKBONE_LAYERS`` modules."""
    decoding = [n for n in names if n.startswith(HEAD) and not n.startswith((f"{HEAD}cv2", f"{HEAD}cv3"))]
    last_convs = [n for n in names if n.startswith((f"{HEAD}cv2", f"{HEAD}cv3")) and n.endswith(".2/Conv")]
    first = tuple(f"/model.{i}/" for i in range(FLOAT_BACKBONE_LAYERS))
    return decoding + last_convs + [n for n in names if n.startswith(first)]


def int8_version(version: str) -> str:
    """The version of the int8 model quantised from the float model ``version``: it names the float backbone modules
    (the service takes a version ending in ``-int8`` for a quantised model)."""
    return f"{version}-float{FLOAT_BACKBONE_LAYERS}-int8"


def cut_box_decoding(source: Path, target: Path) -> None:
    """Write ``source`` (an ultralytics YOLOv8 detect export) ending at its head's raw outputs.

    The exported graph decodes every anchor's box: a softmax over the ``reg_max`` DFL bins of each side, their
    expectation, and the anchor arithmetic — for all 5,376 anchors of a 512 px input, though the service keeps a few
    dozen. The written graph stops before that and outputs the box branch's bin logits ``(1, 4·reg_max, anchors)``
    and the class scores ``(1, classes, anchors)``, already sigmoid; the service decodes only the anchors whose best
    class score passes its threshold (:meth:`services.detector.model.YoloOnnxDetector.network_regions`). ``reg_max``
    and the levels' strides go into the metadata (the service's ``HEAD_BINS`` and ``HEAD_STRIDES``), read from the
    graph's own constants, and the anchor points the service derives from them are checked against the graph's.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from services.detector.model import HEAD_BINS, HEAD_STRIDES, anchor_points

    model = onnx.load(str(source))
    if any(entry.key == HEAD_BINS for entry in model.metadata_props):
        shutil.copyfile(source, target)  # already cut (a re-quantised shipped model)
        return
    graph = model.graph
    nodes = {node.name: node for node in graph.node}
    producer = {output: node for node in graph.node for output in node.output}
    constants = {
        node.output[0]: numpy_helper.to_array(node.attribute[0].t) for node in graph.node if node.op_type == "Constant"
    }
    constants |= {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    (output,) = graph.output
    final = producer[output.name]
    if final.op_type != "Concat" or f"{HEAD}dfl/Reshape" not in nodes:
        raise ValueError(f"{source}: not an ultralytics detect export with its box decoding in the graph")
    decoded, scores = final.input  # (boxes × strides, sigmoid of the class logits)
    bins = nodes[f"{HEAD}dfl/Reshape"].input[0]
    reg_max = int(constants[nodes[f"{HEAD}dfl/conv/Conv"].input[1]].shape[1])
    times_stride = producer[decoded]
    stride_row = next(constants[name] for name in times_stride.input if name in constants).reshape(-1)
    strides = [int(s) for s in dict.fromkeys(stride_row.tolist())]
    minus = nodes[f"{HEAD}Sub"]  # anchor points − the left/top distances
    anchors = next(constants[name] for name in minus.input if name in constants).reshape(2, -1)
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    size = int(ast.literal_eval(metadata["imgsz"])[0])
    if not np.array_equal(anchor_points(size, strides), anchors):
        raise ValueError(f"{source}: its anchor points are not the ones the service derives for {size} px")
    wanted, needed = {bins, scores}, set()
    for node in reversed(graph.node):  # the graph is topologically sorted: keep what feeds the two outputs
        if wanted & set(node.output):
            needed.add(id(node))
            wanted |= set(node.input)
    kept = [node for node in graph.node if id(node) in needed]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    initializers = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    classes = len(ast.literal_eval(metadata["names"]))
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info(bins, TensorProto.FLOAT, [1, 4 * reg_max, anchors.shape[1]]),
            helper.make_tensor_value_info(scores, TensorProto.FLOAT, [1, classes, anchors.shape[1]]),
        ]
    )
    model.metadata_props.add(key=HEAD_BINS, value=str(reg_max))
    model.metadata_props.add(key=HEAD_STRIDES, value=",".join(map(str, strides)))
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def calibration_images(images: Path, every: int) -> list[Path]:
    """Every ``every``-th train image, in name order (deterministic)."""
    return sorted(p for p in images.iterdir() if p.suffix in {".png", ".jpg"})[::every]


def dequantise(source: Path, target: Path) -> None:
    """Write the float model that a QDQ model computes with its activations unrounded.

    Each ``DequantizeLinear`` of an initializer (weights, biases) becomes a float initializer, ``(q - zero point) ×
    scale`` per output channel; each ``QuantizeLinear`` → ``DequantizeLinear`` pair on an activation is dropped and its
    consumers read the float tensor. Metadata is kept, the version gets ``-dq``.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    rewired: dict[str, str] = {}
    dropped: set[int] = set()
    weights = []
    for node in graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        if node.input[0] in initializers:
            q = numpy_helper.to_array(initializers[node.input[0]]).astype(np.float64)
            scale = numpy_helper.to_array(initializers[node.input[1]]).astype(np.float64)
            zero = (
                numpy_helper.to_array(initializers[node.input[2]]).astype(np.float64)
                if len(node.input) > 2 and node.input[2]
                else np.zeros_like(scale)
            )
            if scale.ndim == 1 and scale.size > 1:  # per channel, along the node's axis
                axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
                shape = [1] * q.ndim
                shape[axis] = -1
                scale, zero = scale.reshape(shape), zero.reshape(shape)
            weights.append(numpy_helper.from_array(((q - zero) * scale).astype(np.float32), node.output[0]))
        else:
            quantize = producer[node.input[0]]
            if quantize.op_type != "QuantizeLinear":
                raise ValueError(f"{node.name}: dequantises {quantize.op_type}, not a QuantizeLinear")
            rewired[node.output[0]] = quantize.input[0]
            dropped.add(id(quantize))
        dropped.add(id(node))
    nodes = [node for node in graph.node if id(node) not in dropped]
    for node in nodes:
        for i, name in enumerate(node.input):
            node.input[i] = rewired.get(name, name)
    used = {name for node in nodes for name in node.input}
    kept = [i for i in graph.initializer if i.name in used] + [w for w in weights if w.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    for entry in model.metadata_props:
        if entry.key == "rxlab_version":
            entry.value = f"{entry.value}-dq"
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def quantise(source: Path, target: Path, *, images: Sequence[Path], size: int) -> None:
    """Write the int8 (QDQ, 7-bit weights) model of ``source`` to ``target``, calibrated on ``images``."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from PIL import Image

    from services.detector.model import WEIGHT_BITS, letterbox

    class Pages(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._pages: Iterator[Path] = iter(images)

        def get_next(self) -> dict[str, Any] | None:
            path = next(self._pages, None)
            if path is None:
                return None
            with Image.open(path) as image:
                return {"images": letterbox(image, size)[0]}

    model = onnx.load(str(source))
    quantize_static(
        str(source),
        str(target),
        Pages(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        reduce_range=True,
        nodes_to_exclude=float_nodes([node.name for node in model.graph.node]),
        calibrate_method=CalibrationMethod.MinMax,
    )
    quantised = onnx.load(str(target))
    del quantised.metadata_props[:]
    for entry in model.metadata_props:
        value = int8_version(entry.value) if entry.key == "rxlab_version" else entry.value
        quantised.metadata_props.add(key=entry.key, value=value)
    quantised.metadata_props.add(key=WEIGHT_BITS, value="7")  # the service then runs the fused kernels everywhere
    onnx.save(quantised, str(target))


def val_scores(model: Path, corpus: Path) -> dict[str, Any]:
    """mAP of ``model`` run by the detector service over the corpus's val documents, per condition."""
    from services.detector.model import YoloOnnxDetector
    from shared.pages import PageLimits, load_pages
    from training.detector.dataset import detector_boxes
    from training.evaluation.detection import Box, mean_ap

    # The network's own boxes (what quantisation may change), at the threshold the shipped model's gate was measured at.
    detector = YoloOnnxDetector(model, confidence=0.25, refine=False)
    predicted: dict[str, list[list[Box]]] = {"clean": [], "degraded": []}
    truths: dict[str, list[list[Box]]] = {"clean": [], "degraded": []}
    classes: set[str] = set()
    for path in sorted((corpus / "val").glob("*/truth.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        pages = load_pages(next(path.parent.glob("original.*")).read_bytes(), limits=PageLimits())
        for page, image in zip(truth["pages"], pages, strict=True):
            boxes = [Box(cls, bbox) for cls, bbox in detector_boxes(page)]
            classes.update(box.cls for box in boxes)
            truths[truth["condition"]].append(boxes)
            found = detector.detect_page(image)
            predicted[truth["condition"]].append([Box(r.cls, r.bbox, r.confidence) for r in found])
    return {
        condition: mean_ap(predictions=predicted[condition], truths=truths[condition], classes=sorted(classes))
        for condition in truths
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=FLOAT_MODEL, help="the float ONNX export")
    parser.add_argument("--from-int8", type=Path, help="re-quantise this int8 (QDQ) model instead (dequantised first)")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "detector")
    parser.add_argument("--corpus", type=Path, default=REPO / "data" / "corpus")
    parser.add_argument("--out", type=Path, default=REPO / "models" / "detector")
    parser.add_argument("--every", type=int, default=6, help="calibrate on every n-th train page")
    parser.add_argument("--tolerance", type=float, default=0.01, help="val mAP50-95 the int8 model may lose")
    args = parser.parse_args(argv)
    images = args.data / "images" / "train"
    source = args.from_int8 or args.model
    if not source.is_file() or not images.is_dir():
        print(f"need {source} and {images}: run `make train-detector`", file=sys.stderr)
        return 2
    record_path = args.out / "training.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    chosen_images = calibration_images(images, args.every)
    with tempfile.TemporaryDirectory() as work:
        if args.from_int8:
            args.model = Path(work) / "detector-dequantised.onnx"
            dequantise(args.from_int8, args.model)
        cut, int8 = Path(work) / "detector-float.onnx", Path(work) / "detector-int8.onnx"
        cut_box_decoding(args.model, cut)
        quantise(cut, int8, images=chosen_images, size=int(record["imgsz"]))
        scores = {"float": val_scores(cut, args.corpus), "int8": val_scores(int8, args.corpus)}
        kept = {name: sum(s[c]["all"]["map50_95"] for c in s) / len(s) for name, s in scores.items()}
        shipped = "int8" if kept["int8"] >= kept["float"] - args.tolerance else "float"
        shutil.copyfile(int8 if shipped == "int8" else cut, args.out / "detector.onnx")
        float_bytes = cut.stat().st_size
    previous = record.get("quantisation") if args.from_int8 else None
    record["quantisation"] = {
        "command": (
            f"python -m training.detector.quantize --from-int8 {args.from_int8}"
            if args.from_int8
            else "make quantize-detector"
        ),
        "float_model": "the dequantised int8 model" if args.from_int8 else "the float export of make train-detector",
        "method": (
            "onnxruntime quantize_static, QDQ, int8 weights per channel in 7 bits (reduce_range), uint8 activations, "
            "min-max"
        ),
        "float_nodes": (
            "head box decoding, the last convolution of each head branch, "
            f"backbone modules 0-{FLOAT_BACKBONE_LAYERS - 1}"
        ),
        "calibration_pages": len(chosen_images),
        "val_map50_95_mean_of_conditions": {name: round(value, 4) for name, value in kept.items()},
        "val": scores,
        "tolerance": args.tolerance,
        "shipped": shipped,
        "float_file_bytes": float_bytes,
        **({"re_quantised": previous} if previous else {}),
    }
    record["file_bytes"] = (args.out / "detector.onnx").stat().st_size
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record["quantisation"]["val_map50_95_mean_of_conditions"]), f"shipped {shipped}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
