"""Region detectors, chosen by name from a registry (setting ``RXLAB_DETECTOR``).

- ``yolo``: the project's YOLO model (``models/detector/detector.onnx``, trained by ``make train-detector``), run
  with ONNX Runtime: letterbox → infer → class-wise NMS, boxes mapped back to page pixels, line boxes snapped to
  their ink (:mod:`services.detector.refine`), in reading order.
- ``whole-page``: every page is one text-bearing region (the baseline ``make eval`` compares against).

Both return, per page, regions in reading order with class, box (page pixels) and confidence.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from services.detector.boxes import nms, reading_order
from services.detector.refine import REFINE_VERSION, refine_lines
from shared.contracts.stages import Region
from shared.settings import get_settings

#: Letterbox padding grey, as ultralytics pads during training.
PAD_VALUE = 114
#: Boxes the network scores at least this are returned, each with its confidence (consumers choose their own bar:
#: the OCR stage drops the words of stamps from 0.5). Lowered from ultralytics' display default 0.25 on 2026-12-07:
#: rows the network is unsure of are mostly real (val and calib, refined: degraded mAP50-95 of medication lines / lab
#: rows 0.915 / 0.896 → 0.943 / 0.913 and 0.873 / 0.879 → 0.931 / 0.903, no class lower; 0.05 added under 0.006
#: more for two more boxes a page).
MIN_CONFIDENCE = 0.1


class Detector(Protocol):
    version: str

    def detect(self, pages: list[Image.Image]) -> list[list[Region]]:
        """Return the regions of each page, in reading order, boxes in page pixels."""
        ...


class WholePageDetector:
    """Treats each page as a single region (the baseline)."""

    version = "whole-page-1"

    def detect(self, pages: list[Image.Image]) -> list[list[Region]]:
        return [[Region(cls="page", bbox=(0.0, 0.0, float(p.width), float(p.height)), confidence=1.0)] for p in pages]


@dataclass(frozen=True)
class Letterbox:
    """How a page was scaled and padded into the square network input."""

    scale: float
    pad_x: float
    pad_y: float


def fit(image: Image.Image, size: int) -> Image.Image:
    """The page in RGB, scaled (aspect kept) so that its long side is ``size``: what the network sees of it."""
    scale = min(size / image.width, size / image.height)
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    return image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)


def letterbox(image: Image.Image, size: int) -> tuple[np.ndarray[Any, np.dtype[np.float32]], Letterbox]:
    """The page scaled to fit ``size``×``size`` (aspect kept), centred on grey; NCHW float32 in [0, 1]."""
    scaled = fit(image, size)
    scale = min(size / image.width, size / image.height)
    canvas = Image.new("RGB", (size, size), (PAD_VALUE,) * 3)
    pad_x, pad_y = (size - scaled.width) // 2, (size - scaled.height) // 2
    canvas.paste(scaled, (pad_x, pad_y))
    tensor = np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(tensor), Letterbox(scale=scale, pad_x=pad_x, pad_y=pad_y)


def anchor_points(size: int, strides: list[int]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The head's anchor points ``(2, anchors)`` for a ``size`` px input: the centre of every cell of each level's
    grid, in that level's cells, rows top down (ultralytics' ``make_anchors``)."""
    points = []
    for stride in strides:
        cells = np.arange(size // stride, dtype=np.float32) + np.float32(0.5)
        y, x = np.meshgrid(cells, cells, indexing="ij")
        points.append(np.stack([x.reshape(-1), y.reshape(-1)]))
    return np.concatenate(points, axis=1)


#: ONNX metadata keys of a graph that ends at its head's outputs (``training.detector.quantize.cut_box_decoding``):
#: the DFL bins per box side and the strides of the head's levels, which the service's box decoding needs.
HEAD_BINS, HEAD_STRIDES = "rxlab_reg_max", "rxlab_strides"
#: ONNX metadata key of a model whose int8 weights use 7 bits (written by ``training.detector.quantize``).
WEIGHT_BITS = "rxlab_weight_bits"


def int8_dot_product(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has VNNI (8-bit dot products), so ONNX Runtime's fused int8 kernels compute without saturating.

    False where it cannot tell (no ``/proc/cpuinfo``): the exact, slower execution is the safe side.
    """
    try:
        flags = set(cpuinfo.read_text(encoding="ascii", errors="replace").split())
    except OSError:
        return False
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


def fused_kernels(metadata: Mapping[str, str], *, vnni: bool) -> bool:
    """Whether ONNX Runtime may fuse a model's Quantize/Dequantize nodes into its int8 kernels.

    Without VNNI the fused u8s8 kernels saturate with 8-bit weights (AVX2 multiplies uint8 by int8 pairwise into 16
    bits): on an AVX2-only EPYC such a model found one box on a page with eight. Such a model then runs with basic
    graph optimisation, which computes the Quantize/Dequantize nodes as written, in float: exact, slower. Models
    whose weights use 7 bits (``WEIGHT_BITS``, `make quantize-detector` since 2026-12-06) cannot saturate and always
    run fused. A float model (its version, stamped by ``make train-detector``, without ``-int8``) has no int8 kernels
    and always runs with every optimisation; one without a version is taken to be quantised.
    """
    version = metadata.get("rxlab_version")
    quantised = version is None or version.endswith("-int8")
    return vnni or not quantised or metadata.get(WEIGHT_BITS) == "7"


class YoloOnnxDetector:
    """The project's YOLO detector under ONNX Runtime (one session per process, one thread)."""

    def __init__(
        self, path: Path, *, confidence: float = MIN_CONFIDENCE, iou: float = 0.5, refine: bool = True
    ) -> None:
        """Load the model; ``refine=False`` returns the network's line boxes as they are (the training's scoring)."""
        import onnxruntime as ort

        if not path.is_file():
            raise FileNotFoundError(f"no detector model at {path}: run `make train-detector` or set RXLAB_DETECTOR")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.fused = fused_kernels(self._session.get_modelmeta().custom_metadata_map, vnni=int8_dot_product())
        if not self.fused:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        meta = self._session.get_modelmeta().custom_metadata_map
        names = ast.literal_eval(meta["names"])
        self.classes: list[str] = [names[i] for i in sorted(names)]
        self.size = int(ast.literal_eval(meta["imgsz"])[0])
        #: The network alone, and the detector (the network, its confidence threshold and the line boxes'
        #: refinement: provenance).
        self.model_version = f"yolo-{path.stem}-{meta.get('rxlab_version', 'unversioned')}"
        served = f"{self.model_version}-conf{confidence:g}"
        self.version = f"{served}+{REFINE_VERSION}" if refine else served
        self._refine = refine
        self._input = self._session.get_inputs()[0].name
        self._confidence, self._iou = confidence, iou
        if HEAD_BINS not in meta:
            raise ValueError(f"{path}: its graph still decodes every box; `make quantize-detector` ships it cut")
        #: The head's box decoding, done here for the anchors that pass the threshold only (the shipped graph ends
        #: at the DFL bins: ``training.detector.quantize.cut_box_decoding``).
        self._bins = np.arange(int(meta[HEAD_BINS]), dtype=np.float32)
        strides = [int(s) for s in meta[HEAD_STRIDES].split(",")]
        self._anchors = anchor_points(self.size, strides)
        self._strides = np.concatenate([np.full((self.size // s) ** 2, s, np.float32) for s in strides])

    def detect(self, pages: list[Image.Image]) -> list[list[Region]]:
        return [self.detect_page(page) for page in pages]

    def detect_page(self, page: Image.Image) -> list[Region]:
        regions = self.network_regions(page)
        return self.refined(page, regions) if self._refine else regions

    def network_regions(self, page: Image.Image) -> list[Region]:
        """The network's regions of a page (letterbox, inference, NMS), in reading order, line boxes as it drew them."""
        tensor, box = letterbox(page, self.size)
        bins, scores = self._session.run(None, {self._input: tensor})
        cls = scores[0].argmax(axis=0)
        conf = scores[0].max(axis=0)
        (chosen,) = np.nonzero(conf >= self._confidence)
        xyxy = self._decode(bins[0][:, chosen], chosen)
        return self._regions(xyxy, cls[chosen], conf[chosen], box, width=page.width, height=page.height)

    def _decode(self, logits: np.ndarray[Any, Any], anchors: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """``(n, 4)`` boxes x0, y0, x1, y1 in input pixels of the given anchors, from their DFL bin logits
        ``(4·reg_max, n)``: per side the expectation of the softmax over its bins, in cells from the anchor point."""
        logits = logits.reshape(4, self._bins.size, -1)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        sides = (weights * self._bins[None, :, None]).sum(axis=1) / weights.sum(axis=1)  # left, top, right, bottom
        points = self._anchors[:, anchors]
        boxes: np.ndarray[Any, Any] = np.concatenate([points - sides[:2], points + sides[2:]]) * self._strides[anchors]
        return boxes.T

    @staticmethod
    def refined(page: Image.Image, regions: list[Region]) -> list[Region]:
        """``regions`` with their line boxes snapped to the page's ink (:mod:`services.detector.refine`), in reading
        order."""
        return reading_order(refine_lines(np.asarray(page.convert("L")), regions))

    def _regions(
        self,
        xyxy: np.ndarray[Any, Any],
        cls: np.ndarray[Any, Any],
        conf: np.ndarray[Any, Any],
        box: Letterbox,
        *,
        width: int,
        height: int,
    ) -> list[Region]:
        """Class-wise NMS over the candidate boxes (input pixels), the kept ones mapped back to the page."""
        # Class-wise NMS in one pass: offset each class's boxes so that different classes never overlap.
        keep = nms(xyxy + cls[:, None] * (self.size * 2.0), conf, self._iou)
        regions = []
        for i in keep:
            x0, y0, x1, y1 = xyxy[i]
            page_box = (
                float(np.clip((x0 - box.pad_x) / box.scale, 0, width)),
                float(np.clip((y0 - box.pad_y) / box.scale, 0, height)),
                float(np.clip((x1 - box.pad_x) / box.scale, 0, width)),
                float(np.clip((y1 - box.pad_y) / box.scale, 0, height)),
            )
            regions.append(Region(cls=self.classes[int(cls[i])], bbox=page_box, confidence=round(float(conf[i]), 4)))
        return reading_order(regions)


def _yolo() -> Detector:
    return YoloOnnxDetector(get_settings().models_dir / "detector" / "detector.onnx")


DETECTORS: dict[str, Callable[[], Detector]] = {"whole-page": WholePageDetector, "yolo": _yolo}
_loaded: dict[str, Detector] = {}


def get_detector(name: str | None = None) -> Detector:
    """Return the detector ``name`` (default: the ``RXLAB_DETECTOR`` setting), loaded once per process."""
    name = name or get_settings().detector
    if name not in _loaded:
        _loaded[name] = DETECTORS[name]()
    return _loaded[name]
