"""SSD anchor generation, box decoding and non-maximum suppression, in numpy.

BlazeFace and SSD-MobileNetV2 are both single-shot detectors: the network predicts, for each of
a fixed grid of *anchors*, offsets relative to that anchor plus a class logit. The anchors are
not stored in the .tflite files, they are regenerated from the same options MediaPipe's
``SsdAnchorsCalculator`` uses, so this module reimplements that calculator and its decoder
(``TensorsToDetectionsCalculator``) faithfully; getting an option wrong shifts every box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class AnchorOptions:
    num_layers: int
    min_scale: float
    max_scale: float
    input_height: int
    input_width: int
    strides: tuple[int, ...]
    aspect_ratios: tuple[float, ...]
    anchor_offset: float = 0.5
    reduce_boxes_in_lowest_layer: bool = False
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = False


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) / 2
    return min_scale + (max_scale - min_scale) * index / (count - 1)


def ssd_anchors(opts: AnchorOptions) -> F32:
    """Anchors as an ``(N, 4)`` array of normalised ``(x_center, y_center, w, h)``."""
    anchors: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < opts.num_layers:
        ratios: list[float] = []
        scales: list[float] = []
        last = layer
        while last < opts.num_layers and opts.strides[last] == opts.strides[layer]:
            scale = _scale(opts.min_scale, opts.max_scale, last, opts.num_layers)
            if last == 0 and opts.reduce_boxes_in_lowest_layer:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, scale, scale]
            else:
                ratios += list(opts.aspect_ratios)
                scales += [scale] * len(opts.aspect_ratios)
                if opts.interpolated_scale_aspect_ratio > 0:
                    nxt = (1.0 if last == opts.num_layers - 1
                           else _scale(opts.min_scale, opts.max_scale, last + 1, opts.num_layers))
                    scales.append(math.sqrt(scale * nxt))
                    ratios.append(opts.interpolated_scale_aspect_ratio)
            last += 1
        sizes = [(s * math.sqrt(r), s / math.sqrt(r)) for r, s in zip(ratios, scales)]
        stride = opts.strides[layer]
        fh = math.ceil(opts.input_height / stride)
        fw = math.ceil(opts.input_width / stride)
        for y in range(fh):
            for x in range(fw):
                cx = (x + opts.anchor_offset) / fw
                cy = (y + opts.anchor_offset) / fh
                for w, h in sizes:
                    anchors.append((cx, cy, 1.0, 1.0) if opts.fixed_anchor_size else (cx, cy, w, h))
        layer = last
    return np.asarray(anchors, dtype=np.float32)


def decode_boxes(
    raw: F32,
    anchors: F32,
    *,
    scale: tuple[float, float, float, float],
    xy_order: bool,
    exponential: bool,
) -> F32:
    """Decode ``(N, >=4)`` regressions into normalised ``(x0, y0, x1, y1)`` corner boxes.

    ``scale`` is (x, y, w, h) scales; ``xy_order`` means the raw layout is (x, y, w, h), else
    (y, x, h, w) as in the TensorFlow Object Detection API.
    """
    if xy_order:
        rx, ry, rw, rh = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
    else:
        ry, rx, rh, rw = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
    ax, ay, aw, ah = anchors[:, 0], anchors[:, 1], anchors[:, 2], anchors[:, 3]
    cx = rx / scale[0] * aw + ax
    cy = ry / scale[1] * ah + ay
    if exponential:
        w = np.exp(np.clip(rw / scale[2], -20, 20)) * aw
        h = np.exp(np.clip(rh / scale[3], -20, 20)) * ah
    else:
        w = rw / scale[2] * aw
        h = rh / scale[3] * ah
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


def sigmoid(x: F32, clip: float = 80.0) -> F32:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -clip, clip)))).astype(np.float32)


def iou(box: F32, boxes: F32) -> F32:
    """IoU of one ``(4,)`` corner box against ``(N, 4)`` boxes."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out: F32 = (inter / np.maximum(area + areas - inter, 1e-9)).astype(np.float32)
    return out


def nms(
    boxes: F32, scores: F32, *, iou_threshold: float, weighted: bool = False, max_out: int = 100
) -> list[tuple[F32, float]]:
    """Greedy NMS; ``weighted`` averages each cluster's boxes by score (MediaPipe's blending)."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    alive = np.ones(len(boxes), dtype=bool)
    kept: list[tuple[F32, float]] = []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        overlaps = iou(boxes[i], boxes) > iou_threshold
        cluster = overlaps & alive
        cluster[i] = True
        if weighted:
            w = scores[cluster]
            box = (boxes[cluster] * w[:, None]).sum(axis=0) / w.sum()
        else:
            box = boxes[i]
        kept.append((box.astype(np.float32), float(scores[i])))
        alive &= ~cluster
        if len(kept) >= max_out:
            break
    return kept
