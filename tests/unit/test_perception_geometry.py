"""Anchors, box decoding, NMS and text-box geometry: the numpy parts that shift every box."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgesdk.local.detect import decode_boxes, iou, nms, sigmoid, ssd_anchors
from edgesdk.local.ocr import convex_hull, expand_rect, min_area_rect, order_corners
from edgesdk.local.vision import _FACE_ANCHORS, _OBJECT_ANCHORS


def test_anchor_counts_match_the_models() -> None:
    face = ssd_anchors(_FACE_ANCHORS)
    assert face.shape == (896, 4)
    assert np.allclose(face[0], [0.5 / 16, 0.5 / 16, 1.0, 1.0])
    assert np.allclose(face[512], [0.5 / 8, 0.5 / 8, 1.0, 1.0])  # first 8x8 anchor
    obj = ssd_anchors(_OBJECT_ANCHORS)
    assert obj.shape == (1917, 4)
    assert np.allclose(obj[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1])
    assert np.allclose(obj[-1, :2], [0.5, 0.5])  # the single 1x1 cell at the top


def test_decode_xy_and_yx_layouts() -> None:
    anchors = np.array([[0.5, 0.5, 0.2, 0.4]], dtype=np.float32)
    raw_xy = np.array([[12.8, 0.0, 25.6, 12.8]], dtype=np.float32)
    box = decode_boxes(raw_xy, anchors, scale=(128, 128, 128, 128), xy_order=True,
                       exponential=False)[0]
    # centre x shifts by 0.1 * anchor w; w = 0.2 * anchor w; h = 0.1 * anchor h
    assert np.allclose(box, [0.52 - 0.02, 0.5 - 0.02, 0.52 + 0.02, 0.5 + 0.02])
    raw_yx = np.zeros((1, 4), dtype=np.float32)
    box = decode_boxes(raw_yx, anchors, scale=(10, 10, 5, 5), xy_order=False,
                       exponential=True)[0]
    assert np.allclose(box, [0.4, 0.3, 0.6, 0.7])


def test_sigmoid_is_finite_for_extreme_logits() -> None:
    with np.errstate(over="raise"):
        out = sigmoid(np.array([-1e4, 0.0, 1e4], dtype=np.float32))
    assert np.allclose(out, [0.0, 0.5, 1.0])


def test_nms_keeps_best_of_overlaps_and_separate_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.6, 0.9, 0.7], dtype=np.float32)
    kept = nms(boxes, scores, iou_threshold=0.3)
    assert [round(s, 2) for _, s in kept] == [0.9, 0.7]
    assert np.allclose(kept[0][0], [1, 1, 11, 11])
    weighted = nms(boxes, scores, iou_threshold=0.3, weighted=True)
    assert 0.0 < weighted[0][0][0] < 1.0  # blended towards the weaker box
    assert iou(boxes[0], boxes[2:])[0] == 0.0


def _rotated_rect_points(cx: float, cy: float, w: float, h: float, deg: float) -> np.ndarray:
    xs, ys = np.meshgrid(np.linspace(-w / 2, w / 2, 40), np.linspace(-h / 2, h / 2, 10))
    a = math.radians(deg)
    px = cx + xs * math.cos(a) - ys * math.sin(a)
    py = cy + xs * math.sin(a) + ys * math.cos(a)
    return np.stack([px.ravel(), py.ravel()], axis=1)


@pytest.mark.parametrize("deg", [0.0, 4.0, -7.0, 30.0])
def test_min_area_rect_recovers_rotated_rectangles(deg: float) -> None:
    pts = _rotated_rect_points(100, 60, 80, 20, deg)
    corners, w, h = min_area_rect(pts)
    assert sorted([w, h]) == pytest.approx([20, 80], abs=0.5)
    assert corners.mean(axis=0) == pytest.approx([100, 60], abs=0.5)


def test_hull_order_and_expand() -> None:
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2], [1, 1]], dtype=np.float64)
    assert len(convex_hull(square)) == 4
    box = order_corners(np.array([[10, 5], [0, 5], [0, 0], [10, 0]], dtype=np.float64))
    assert box.tolist() == [[0, 0], [10, 0], [10, 5], [0, 5]]
    grown = expand_rect(box, 1.0)
    assert grown.tolist() == [[-1, -1], [11, -1], [11, 6], [-1, 6]]
