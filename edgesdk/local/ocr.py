"""On-device text reading with PP-OCRv4 (detector + recogniser + angle classifier), in numpy.

"What does the sign say?" should be answered on the glasses, from the sign's text, without
sending the photo anywhere. PP-OCRv4 mobile reads Chinese and English in ~1 s on two cores.
The pipeline follows RapidOCR (Apache-2.0), which mirrors PaddleOCR, with OpenCV replaced by
numpy/scipy/PIL so that a device needs no OpenCV:

1. detector (DB): the image (BGR, [-1, 1]) goes in with its short side scaled to 736, multiple
   of 32; the probability map is thresholded at 0.3, dilated, split into connected components;
   each component's minimum-area rectangle is kept if its mean probability is >= 0.5, then
   grown by ``area * 1.6 / perimeter`` ("unclip") and mapped back to source pixels;
2. each rectangle is cut out with a perspective warp (so slightly rotated signs become
   horizontal strips), tall strips are turned 90°, the classifier turns upside-down strips;
3. recogniser (CTC): strips resized to height 48, batched by aspect ratio, greedy-decoded
   with the character list stored in the ONNX metadata; lines scoring < 0.5 are dropped.
"""

from __future__ import annotations

import importlib
import math
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from edgesdk.catalog import Catalog
from edgesdk.errors import MissingExtra, ModelLoadError
from edgesdk.local.images import RGB, resize
from edgesdk.local.runtimes import OnnxModel, TensorModel
from edgesdk.types import TextLine

DET_MODEL = "ocr-ppocrv4-det"
REC_MODEL = "ocr-ppocrv4-rec"
CLS_MODEL = "ocr-ppocr-cls"

F64 = npt.NDArray[np.float64]


def _ndimage() -> Any:
    try:
        return importlib.import_module("scipy.ndimage")
    except ImportError as exc:
        raise MissingExtra(module="scipy", extra="vision", purpose="text detection") from exc


def _pil_image() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingExtra(module="PIL", extra="vision", purpose="text reading") from exc
    return Image


# ---------------------------------------------------------------------- geometry


def convex_hull(points: F64) -> F64:
    """Andrew's monotone chain; ``points`` is ``(N, 2)``, result counter-clockwise."""
    pts = np.unique(points, axis=0)
    if len(pts) < 3:
        return pts

    def half(seq: F64) -> list[F64]:
        out: list[F64] = []
        for p in seq:
            while len(out) >= 2:
                (ax, ay), (bx, by) = out[-2], out[-1]
                if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) > 0:
                    break
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


def min_area_rect(points: F64) -> tuple[F64, float, float]:
    """Minimum-area rectangle around ``points``: (4 corners, width, height) (rotating calipers)."""
    hull = convex_hull(points)
    if len(hull) < 3:
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        return corners, float(x1 - x0), float(y1 - y0)
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    best: tuple[float, F64, float, float] | None = None
    for a in angles:
        c, s = math.cos(a), math.sin(a)
        rot = np.array([[c, s], [-s, c]])
        proj = hull @ rot.T
        (x0, y0), (x1, y1) = proj.min(axis=0), proj.max(axis=0)
        area = (x1 - x0) * (y1 - y0)
        if best is None or area < best[0]:
            box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) @ rot
            best = (float(area), box, float(x1 - x0), float(y1 - y0))
    assert best is not None
    return best[1], best[2], best[3]


def order_corners(box: F64) -> F64:
    """Order four corners as top-left, top-right, bottom-right, bottom-left."""
    xs = box[np.argsort(box[:, 0], kind="stable")]
    left, right = xs[:2], xs[2:]
    tl, bl = left[np.argsort(left[:, 1], kind="stable")]
    tr, br = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([tl, tr, br, bl], dtype=np.float64)


def expand_rect(box: F64, distance: float) -> F64:
    """Grow an ordered rectangle outwards by ``distance`` on every side."""
    center = box.mean(axis=0)
    ux = box[1] - box[0]
    uy = box[3] - box[0]
    ux = ux / max(np.linalg.norm(ux), 1e-9)
    uy = uy / max(np.linalg.norm(uy), 1e-9)
    signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
    half_w = np.linalg.norm(box[1] - box[0]) / 2 + distance
    half_h = np.linalg.norm(box[3] - box[0]) / 2 + distance
    out: F64 = center + signs[:, :1] * ux * half_w + signs[:, 1:] * uy * half_h
    return out


# ---------------------------------------------------------------------- pipeline


class TextReader:
    """PP-OCRv4 detection + recognition (+ optional angle classification)."""

    name: ClassVar[str] = "ocr"
    modality: ClassVar[Literal["image"]] = "image"

    def __init__(
        self,
        *,
        detector: TensorModel,
        recognizer: TensorModel,
        characters: list[str],
        classifier: TensorModel | None = None,
        min_score: float = 0.5,
        det_side: int = 736,
        max_side: int = 2000,
    ) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self.classifier = classifier
        self.min_score = min_score
        self.det_side = det_side
        self.max_side = max_side
        self._chars = ["", *characters, " "]  # CTC blank first, space last (PaddleOCR)

    @classmethod
    def load(
        cls, *, catalog: Catalog, threads: int = 2, use_classifier: bool = True
    ) -> TextReader:
        det = OnnxModel(path=catalog.locate(DET_MODEL), threads=threads)
        rec = OnnxModel(path=catalog.locate(REC_MODEL), threads=threads)
        chars = rec.metadata.get("character", "").splitlines()
        if not chars:
            raise ModelLoadError(
                f"{rec.path} has no 'character' list in its metadata; re-fetch it with "
                f"'edgesdk models fetch {REC_MODEL} --force'"
            )
        clf = (OnnxModel(path=catalog.locate(CLS_MODEL), threads=threads)
               if use_classifier else None)
        return cls(detector=det, recognizer=rec, characters=chars, classifier=clf)

    def read(self, rgb: RGB) -> list[TextLine]:
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        height, width = bgr.shape[:2]
        work, top, ratio = self._prepare(bgr)
        quads = self._detect(work)
        if not quads:
            return []
        crops = [self._crop(work, q) for q in quads]
        if self.classifier is not None:
            crops = self._orient(crops)
        results = self._recognize(crops)
        lines: list[TextLine] = []
        for quad, (text, score) in zip(quads, results):
            if not text.strip() or score < self.min_score:
                continue
            src = (quad - np.array([0.0, top])) / ratio
            x0, y0 = np.clip(src.min(axis=0), 0, None)
            x1, y1 = src.max(axis=0)
            box = (float(x0), float(y0), float(min(x1, width)), float(min(y1, height)))
            lines.append(TextLine(text=text.strip(), box=box, score=min(float(score), 1.0)))
        return lines

    perceive = read

    # -------------------------------------------------------------- stages

    def _prepare(self, bgr: RGB) -> tuple[RGB, float, float]:
        """Limit the long side, pad very flat strips top/bottom (RapidOCR's letterbox)."""
        h, w = bgr.shape[:2]
        ratio = 1.0
        if max(h, w) > self.max_side:
            ratio = self.max_side / max(h, w)
        elif min(h, w) < 30:
            ratio = 30 / min(h, w)
        if ratio != 1.0:
            bgr = resize(bgr, max(1, round(w * ratio)), max(1, round(h * ratio)))
            h, w = bgr.shape[:2]
        top = 0
        if h <= 30 or w / h > 8:
            top = abs(max(int(w / 8), 30) * 2 - h) // 2
            fill = np.median(np.concatenate([bgr[0], bgr[-1]]), axis=0).astype(np.uint8)
            pad = np.broadcast_to(fill, (top, w, 3))
            bgr = np.ascontiguousarray(np.concatenate([pad, bgr, pad], axis=0))
        return bgr, float(top), ratio

    def _detect(self, bgr: RGB) -> list[F64]:
        h, w = bgr.shape[:2]
        r = self.det_side / min(h, w) if min(h, w) < self.det_side else 1.0
        r = min(r, self.max_side / max(h, w))  # very thin strips must not blow up memory
        rh = max(32, round(h * r / 32) * 32)
        rw = max(32, round(w * r / 32) * 32)
        x = (resize(bgr, rw, rh).astype(np.float32) / 255.0 - 0.5) / 0.5
        feed = {self.detector.inputs[0].name: x.transpose(2, 0, 1)[None]}
        pred = next(iter(self.detector.run(feed).values()))[0, 0]
        ndimage = _ndimage()
        mask = ndimage.binary_dilation(pred > 0.3, structure=np.ones((2, 2), dtype=bool))
        labels, _ = ndimage.label(mask)
        quads: list[F64] = []
        for index, sl in enumerate(ndimage.find_objects(labels)[:1000], start=1):
            if sl is None:
                continue
            comp = labels[sl] == index
            ys, xs = np.nonzero(comp)
            if len(xs) < 4:
                continue
            score = float(pred[sl][comp].mean())
            if score < 0.5:
                continue
            pts = np.stack([xs + sl[1].start, ys + sl[0].start], axis=1).astype(np.float64)
            rect, rw_, rh_ = min_area_rect(_row_extremes(pts))
            if min(rw_, rh_) < 3:
                continue
            area, perimeter = rw_ * rh_, 2 * (rw_ + rh_)
            box = expand_rect(order_corners(rect), area * 1.6 / max(perimeter, 1e-9))
            box = box * np.array([w / pred.shape[1], h / pred.shape[0]])
            box[:, 0] = np.clip(box[:, 0], 0, w - 1)
            box[:, 1] = np.clip(box[:, 1], 0, h - 1)
            box = order_corners(box)
            if (np.linalg.norm(box[0] - box[1]) <= 3
                    or np.linalg.norm(box[0] - box[3]) <= 3):
                continue
            quads.append(box)
        return _reading_order(quads)

    def _crop(self, bgr: RGB, quad: F64) -> RGB:
        image_cls = _pil_image()
        cw = max(1, int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3]))))
        ch = max(1, int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))))
        tl, tr, br, bl = quad
        data = (*tl, *bl, *br, *tr)
        crop = image_cls.fromarray(bgr).transform(
            (cw, ch), image_cls.Transform.QUAD, data=tuple(float(v) for v in data),
            resample=image_cls.Resampling.BICUBIC,
        )
        arr = np.asarray(crop, dtype=np.uint8)
        if ch / cw >= 1.5:
            arr = np.ascontiguousarray(np.rot90(arr))
        return arr

    def _orient(self, crops: list[RGB]) -> list[RGB]:
        assert self.classifier is not None
        out = list(crops)
        name = self.classifier.inputs[0].name
        for start in range(0, len(crops), 6):
            batch = crops[start:start + 6]
            x = np.stack([_norm_strip(c, 192) for c in batch])
            probs = next(iter(self.classifier.run({name: x}).values()))
            for i, p in enumerate(probs):
                if int(np.argmax(p)) == 1 and float(p[1]) > 0.9:
                    out[start + i] = np.ascontiguousarray(batch[i][::-1, ::-1])
        return out

    def _recognize(self, crops: list[RGB]) -> list[tuple[str, float]]:
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        ratios = [c.shape[1] / c.shape[0] for c in crops]
        order = np.argsort(ratios)
        name = self.recognizer.inputs[0].name
        for start in range(0, len(crops), 6):
            idx = order[start:start + 6]
            max_ratio = max([320 / 48] + [ratios[i] for i in idx])
            width = int(48 * max_ratio)
            x = np.stack([_norm_strip(crops[i], width) for i in idx])
            probs = next(iter(self.recognizer.run({name: x}).values()))
            for i, p in zip(idx, probs):
                results[i] = self._ctc(p)
        return results

    def _ctc(self, probs: npt.NDArray[np.float32]) -> tuple[str, float]:
        ids = probs.argmax(axis=1)
        conf = probs.max(axis=1)
        keep = np.ones(len(ids), dtype=bool)
        keep[1:] = ids[1:] != ids[:-1]
        keep &= ids != 0
        chars = [self._chars[i] if i < len(self._chars) else "" for i in ids[keep]]
        if not chars:
            return "", 0.0
        return "".join(chars), float(conf[keep].mean())


def _norm_strip(bgr: RGB, width: int) -> npt.NDArray[np.float32]:
    """Resize a text strip to height 48 (keeping aspect, at most ``width``), pad right, CHW."""
    h, w = bgr.shape[:2]
    rw = min(width, max(1, math.ceil(48 * w / h)))
    x = (resize(bgr, rw, 48).astype(np.float32) / 255.0 - 0.5) / 0.5
    out = np.zeros((3, 48, width), dtype=np.float32)
    out[:, :, :rw] = x.transpose(2, 0, 1)
    return out


def _row_extremes(pts: F64) -> F64:
    """Left- and right-most pixel of each row: all the convex hull needs."""
    ys = pts[:, 1]
    order = np.lexsort((pts[:, 0], ys))
    sorted_pts = pts[order]
    _, first = np.unique(sorted_pts[:, 1], return_index=True)
    last = np.r_[first[1:] - 1, len(sorted_pts) - 1]
    ext = np.vstack([sorted_pts[first], sorted_pts[last]])
    return ext


def _reading_order(quads: list[F64]) -> list[F64]:
    """Top-to-bottom, then left-to-right for boxes on the same line (within 10 px)."""
    boxes = sorted(quads, key=lambda q: (q[0][1], q[0][0]))
    for i in range(len(boxes) - 1):
        for j in range(i, -1, -1):
            same_line = abs(boxes[j + 1][0][1] - boxes[j][0][1]) < 10
            if same_line and boxes[j + 1][0][0] < boxes[j][0][0]:
                boxes[j], boxes[j + 1] = boxes[j + 1], boxes[j]
            else:
                break
    return boxes
