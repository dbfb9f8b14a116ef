"""On-device vision: faces (BlazeFace) and objects (SSD-MobileNetV2, Open Images v4 labels).

Both detectors are tiny single-shot networks that run in a few milliseconds on a phone CPU, so
glasses can afford them on every frame and only send *words* ("1 face", "Coffee cup") upwards,
never pixels. Each class owns its pre-processing (letterbox or stretch, [-1, 1] normalisation,
RGB order) and post-processing (anchor decoding, score threshold, NMS) and returns boxes in
source-image pixels. Text reading (PP-OCR) lives in :mod:`edgesdk.local.ocr`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from edgesdk.catalog import Catalog
from edgesdk.local.detect import AnchorOptions, decode_boxes, nms, sigmoid, ssd_anchors
from edgesdk.local.images import RGB, letterbox, resize
from edgesdk.local.runtimes import TensorModel, load_tensor_model
from edgesdk.types import Box, DetectedObject, Face

FACE_MODEL = "face-blazeface-short"
OBJECT_MODEL = "objects-ssd-mobilenetv2-oidv4"
OBJECT_LABELS = "objects-oidv4-labels"

_FACE_ANCHORS = AnchorOptions(
    num_layers=4, min_scale=0.1484375, max_scale=0.75, input_height=128, input_width=128,
    strides=(8, 16, 16, 16), aspect_ratios=(1.0,), fixed_anchor_size=True,
)
_OBJECT_ANCHORS = AnchorOptions(
    num_layers=6, min_scale=0.2, max_scale=0.95, input_height=300, input_width=300,
    strides=(16, 32, 64, 128, 256, 512), aspect_ratios=(1.0, 2.0, 0.5, 3.0, 0.3333),
    reduce_boxes_in_lowest_layer=True,
)


def _to_unit(rgb: RGB) -> np.ndarray:
    """uint8 RGB -> float32 in [-1, 1], NHWC with a batch axis."""
    return ((rgb.astype(np.float32) - 127.5) / 127.5)[None]


def _clip_box(box: np.ndarray, width: int, height: int) -> Box:
    return (
        float(np.clip(box[0], 0, width)), float(np.clip(box[1], 0, height)),
        float(np.clip(box[2], 0, width)), float(np.clip(box[3], 0, height)),
    )


class FaceDetector:
    """BlazeFace short-range: faces up to ~2 m from the camera, with 6 keypoints each."""

    name: ClassVar[str] = "faces"
    modality: ClassVar[Literal["image"]] = "image"
    size: ClassVar[int] = 128

    def __init__(
        self, *, model: TensorModel, min_score: float = 0.5, iou_threshold: float = 0.3
    ) -> None:
        self.model = model
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self._anchors = ssd_anchors(_FACE_ANCHORS)
        self._input = model.inputs[0].name

    @classmethod
    def load(cls, *, catalog: Catalog, threads: int = 2, min_score: float = 0.5) -> FaceDetector:
        path = catalog.locate(FACE_MODEL)
        return cls(model=load_tensor_model(path, engine="litert", threads=threads),
                   min_score=min_score)

    def detect(self, rgb: RGB) -> list[Face]:
        height, width = rgb.shape[:2]
        square, scale, pad_x, pad_y = letterbox(rgb, self.size)
        out = self.model.run({self._input: _to_unit(square)})
        raw = out["regressors"][0]
        scores = sigmoid(out["classificators"][0, :, 0])
        keep = scores >= self.min_score
        if not keep.any():
            return []
        s = float(self.size)
        boxes = decode_boxes(raw[keep, :4], self._anchors[keep], scale=(s, s, s, s),
                             xy_order=True, exponential=False)
        kps = raw[keep, 4:16].reshape(-1, 6, 2) / s + self._anchors[keep, None, :2]
        # carry keypoints through NMS by appending them to the box vector
        packed = np.concatenate([boxes, kps.reshape(-1, 12)], axis=1)
        faces: list[Face] = []
        for vec, score in _nms_packed(packed, scores[keep], self.iou_threshold):
            px = (vec[0::2] * s - pad_x) / scale
            py = (vec[1::2] * s - pad_y) / scale
            box = _clip_box(np.array([px[0], py[0], px[1], py[1]]), width, height)
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            keypoints = tuple((float(x), float(y)) for x, y in zip(px[2:], py[2:]))
            faces.append(Face(box=box, score=min(score, 1.0), keypoints=keypoints))
        return faces

    perceive = detect


def _nms_packed(
    packed: np.ndarray, scores: np.ndarray, iou_threshold: float
) -> list[tuple[np.ndarray, float]]:
    """Weighted NMS on the first 4 columns, averaging all columns of each cluster."""
    from edgesdk.local.detect import iou

    order = np.argsort(-scores)
    packed, scores = packed[order], scores[order]
    alive = np.ones(len(packed), dtype=bool)
    kept: list[tuple[np.ndarray, float]] = []
    for i in range(len(packed)):
        if not alive[i]:
            continue
        cluster = (iou(packed[i, :4], packed[:, :4]) > iou_threshold) & alive
        cluster[i] = True
        w = scores[cluster]
        kept.append(((packed[cluster] * w[:, None]).sum(axis=0) / w.sum(), float(scores[i])))
        alive &= ~cluster
    return kept


class ObjectDetector:
    """SSD-MobileNetV2 trained on 24 Open Images v4 classes (Person, Cat, Coffee cup, ...)."""

    name: ClassVar[str] = "objects"
    modality: ClassVar[Literal["image"]] = "image"
    size: ClassVar[int] = 300

    def __init__(
        self,
        *,
        model: TensorModel,
        labels: list[str],
        min_score: float = 0.5,
        iou_threshold: float = 0.45,
        max_objects: int = 20,
    ) -> None:
        self.model = model
        self.labels = labels
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.max_objects = max_objects
        self._anchors = ssd_anchors(_OBJECT_ANCHORS)
        self._input = model.inputs[0].name

    @classmethod
    def load(
        cls, *, catalog: Catalog, threads: int = 2, min_score: float = 0.5
    ) -> ObjectDetector:
        path = catalog.locate(OBJECT_MODEL)
        labels = catalog.locate(OBJECT_LABELS).read_text(encoding="utf-8").splitlines()
        return cls(model=load_tensor_model(path, engine="litert", threads=threads),
                   labels=labels, min_score=min_score)

    def detect(self, rgb: RGB) -> list[DetectedObject]:
        height, width = rgb.shape[:2]
        out = self.model.run({self._input: _to_unit(resize(rgb, self.size, self.size))})
        raw = out["raw_outputs/box_encodings"][0]
        probs = sigmoid(out["raw_outputs/class_predictions"][0], clip=8.0)
        probs[:, 0] = 0.0  # class 0 is background ("???")
        cls_ids = probs.argmax(axis=1)
        scores = probs[np.arange(len(probs)), cls_ids]
        keep = scores >= self.min_score
        if not keep.any():
            return []
        boxes = decode_boxes(raw[keep], self._anchors[keep], scale=(10.0, 10.0, 5.0, 5.0),
                             xy_order=False, exponential=True)
        found: list[DetectedObject] = []
        kept_cls, kept_scores = cls_ids[keep], scores[keep]
        for cid in np.unique(kept_cls):
            mask = kept_cls == cid
            label = self.labels[cid] if cid < len(self.labels) else f"class {cid}"
            for box, score in nms(boxes[mask], kept_scores[mask],
                                  iou_threshold=self.iou_threshold):
                px = _clip_box(box * np.array([width, height, width, height]), width, height)
                if px[2] - px[0] < 1 or px[3] - px[1] < 1:
                    continue
                found.append(DetectedObject(label=label, box=px, score=min(score, 1.0)))
        found.sort(key=lambda o: -o.score)
        return found[: self.max_objects]

    perceive = detect
