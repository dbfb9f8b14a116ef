"""The perception suite and the detectors' post-processing, with fake tensor models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from edgesdk.catalog import Catalog
from edgesdk.commands.perceive import percept_row
from edgesdk.devices import get_profile
from edgesdk.errors import ConfigError
from edgesdk.local.detect import ssd_anchors
from edgesdk.local.ocr import TextReader
from edgesdk.local.perceive import PerceptionSuite, build_perceivers, estimate_snr_db
from edgesdk.local.runtimes import TensorSpec
from edgesdk.local.vision import _FACE_ANCHORS, _OBJECT_ANCHORS, FaceDetector, ObjectDetector
from edgesdk.types import (
    DetectedObject,
    Face,
    Percept,
    Speech,
    SpeechSegment,
    TextLine,
    Transcript,
    WakeWord,
)

pytest.importorskip("PIL")


class FakeModel:
    """A TensorModel that returns canned outputs and records what it was fed."""

    def __init__(self, outputs: Mapping[str, np.ndarray], input_name: str = "input") -> None:
        self.path = Path("fake.tflite")
        self.inputs: tuple[TensorSpec, ...] = (
            TensorSpec(name=input_name, shape=(), dtype=np.dtype(np.float32)),
        )
        self.outputs: tuple[TensorSpec, ...] = tuple(
            TensorSpec(name=k, shape=(), dtype=np.dtype(np.float32)) for k in outputs
        )
        self._outputs = dict(outputs)
        self.fed: list[dict[str, np.ndarray]] = []

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.fed.append(dict(feeds))
        return self._outputs

    def reset(self) -> None:
        return None


def test_face_detector_maps_letterboxed_boxes_to_source_pixels() -> None:
    anchors = ssd_anchors(_FACE_ANCHORS)
    idx = int(np.argmin(np.abs(anchors[:, 0] - 0.5) + np.abs(anchors[:, 1] - 0.5)))
    reg = np.zeros((1, 896, 16), np.float32)
    reg[0, idx, 2:4] = [32.0, 32.0]  # 0.25 of the 128 input
    cls = np.full((1, 896, 1), -10.0, np.float32)
    cls[0, idx, 0] = 3.0
    model = FakeModel({"regressors": reg, "classificators": cls})
    faces = FaceDetector(model=model).detect(np.zeros((200, 400, 3), np.uint8))
    assert len(faces) == 1
    scale, pad_y = 128 / 400, (128 - 64) // 2
    cx, cy = anchors[idx, 0] * 128 / scale, (anchors[idx, 1] * 128 - pad_y) / scale
    x0, y0, x1, y1 = faces[0].box
    assert (x0 + x1) / 2 == pytest.approx(cx, abs=0.5)
    assert (y0 + y1) / 2 == pytest.approx(cy, abs=0.5)
    assert x1 - x0 == pytest.approx(100, abs=0.5)
    assert faces[0].score == pytest.approx(1 / (1 + np.exp(-3.0)), abs=1e-4)
    fed = model.fed[0]["input"]
    assert fed.shape == (1, 128, 128, 3) and fed.min() >= -1.0 and fed.max() <= 1.0


def test_object_detector_labels_and_ignores_background() -> None:
    anchors = ssd_anchors(_OBJECT_ANCHORS)
    logits = np.full((1, 1917, 24), -8.0, np.float32)
    logits[0, :, 0] = 8.0  # background everywhere is ignored
    big = int(np.argmax(anchors[:, 2] * anchors[:, 3]))
    logits[0, big, 8] = 4.0  # "Cat"
    model = FakeModel({"raw_outputs/box_encodings": np.zeros((1, 1917, 4), np.float32),
                       "raw_outputs/class_predictions": logits})
    labels = ["???", *[f"L{i}" for i in range(1, 8)], "Cat", *[f"L{i}" for i in range(9, 24)]]
    found = ObjectDetector(model=model, labels=labels).detect(np.zeros((300, 600, 3), np.uint8))
    assert [o.label for o in found] == ["Cat"]
    x0, _, x1, _ = found[0].box
    assert 0 <= x0 < x1 <= 600


def test_text_reader_pipeline_with_fake_networks() -> None:
    prob = np.zeros((1, 1, 96, 160), np.float32)
    prob[0, 0, 40:56, 30:130] = 0.9  # one text line
    det = FakeModel({"map": prob}, input_name="x")
    chars = ["a", "b"]
    steps = np.zeros((1, 10, 4), np.float32)  # blank, a, b, space
    for t, c in enumerate([1, 1, 0, 2, 0, 0, 3, 1, 0, 0]):
        steps[0, t, c] = 0.9
    rec = FakeModel({"softmax": steps}, input_name="x")
    reader = TextReader(detector=det, recognizer=rec, characters=chars, det_side=96)
    lines = reader.read(np.full((96, 160, 3), 255, np.uint8))
    assert [ln.text for ln in lines] == ["ab a"]
    assert lines[0].score == pytest.approx(0.9)
    x0, y0, x1, y1 = lines[0].box
    assert x0 < 30 and x1 > 129 and y0 < 40 and y1 > 55
    assert det.fed[0]["x"].shape == (1, 3, 96, 160)
    assert rec.fed[0]["x"].shape[1:3] == (3, 48)


class FakePerceiver:
    def __init__(self, name: str, modality: Literal["image", "audio"],
                 out: Sequence[Percept]) -> None:
        self.name, self.modality, self.out = name, modality, list(out)
        self.seen: list[np.ndarray] = []

    def perceive(self, data: np.ndarray) -> list[Percept]:
        self.seen.append(data)
        return self.out


class FakeDenoiser:
    def __init__(self) -> None:
        self.calls = 0

    def denoise(self, samples: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.zeros_like(samples)


def _speech(end: float = 1.0) -> Speech:
    return Speech(segments=(SpeechSegment(start_s=0.5, end_s=end),), score=0.9)


def test_suite_runs_image_perceivers_and_times_them() -> None:
    face = Face(box=(1, 2, 3, 4), score=0.9)
    obj = DetectedObject(label="Cat", box=(0, 0, 5, 5), score=0.8)
    ticks = iter(range(100))
    suite = PerceptionSuite(
        perceivers=[FakePerceiver("faces", "image", [face]),
                    FakePerceiver("objects", "image", [obj])],
        clock=lambda: float(next(ticks)),
    )
    result = suite.perceive(image=np.zeros((10, 10, 3), np.uint8))
    assert result.percepts == [face, obj]
    assert result.timings == {"decode_image": 1000.0, "faces": 1000.0, "objects": 1000.0}
    assert result.observed_bytes == 300 and result.transcript is None
    assert suite.names == ["faces", "objects"]


def test_vad_gates_audio_and_denoise_only_for_noisy_speech() -> None:
    words = Transcript(text="hello there", confidence=0.7)
    vad = FakePerceiver("vad", "audio", [])
    asr = FakePerceiver("asr", "audio", [words])
    den = FakeDenoiser()
    suite = PerceptionSuite(perceivers=[vad, asr], denoiser=den)
    silent = suite.perceive(audio=np.zeros(16_000, np.float32))
    assert silent.percepts == [] and not asr.seen

    vad.out = [_speech(1.5)]
    clip = np.zeros(32_000, np.float32)
    clip[8_000:24_000] = np.sin(np.arange(16_000) / 5)  # clean: silence around speech
    clean = suite.perceive(audio=clip)
    assert clean.transcript == "hello there" and den.calls == 0
    noisy = clip + np.random.default_rng(0).normal(0, 0.3, clip.shape).astype(np.float32)
    suite.perceive(audio=noisy)
    assert den.calls == 1 and not asr.seen[-1].any()  # ASR heard the denoised signal


def test_wake_word_hears_raw_audio_and_snr_estimate() -> None:
    wake = WakeWord(name="Alexa", score=0.99, at_s=0.4)
    ww = FakePerceiver("wakeword", "audio", [wake])
    suite = PerceptionSuite(perceivers=[FakePerceiver("vad", "audio", [_speech()]), ww])
    clip = np.ones(20_000, np.float32) * 0.1
    assert suite.perceive(audio=clip).percepts[-1] == wake
    assert np.array_equal(ww.seen[0], clip)
    quiet = np.zeros(32_000, np.float32)
    quiet[8_000:16_000] = 0.5
    assert estimate_snr_db(quiet, _speech()) == 120.0
    assert estimate_snr_db(quiet[:9_000], _speech()) is None  # too little background


def test_build_perceivers_rejects_unknown_names(tmp_path: Path) -> None:
    catalog = Catalog(store=tmp_path)
    with pytest.raises(ConfigError, match="unknown perceiver"):
        build_perceivers(get_profile("glasses"), catalog=catalog, names=["xray"])
    assert build_perceivers(get_profile("glasses"), catalog=catalog, names=[]).names == []


def test_percept_rows_have_the_cli_shape() -> None:
    rows: list[dict[str, Any]] = [percept_row(p) for p in (
        Face(box=(1, 2, 3, 4), score=0.5),
        DetectedObject(label="Cat", box=(0, 0, 1, 1), score=0.7),
        TextLine(text="出口", box=(0, 0, 1, 1), score=0.9),
        WakeWord(name="Alexa", score=0.99, at_s=0.8),
        Transcript(text="hi", confidence=0.3),
        _speech(),
    )]
    assert [set(r) for r in rows] == [
        {"kind", "score", "box"}, {"kind", "score", "box", "label"},
        {"kind", "score", "box", "text"}, {"kind", "score", "label", "at_s"},
        {"kind", "score", "text"}, {"kind", "score", "segments"},
    ]


def test_concurrent_calls_are_serialised() -> None:
    import threading
    import time

    class Slow(FakePerceiver):
        active = 0
        overlap = False

        def perceive(self, data: np.ndarray) -> list[Percept]:
            Slow.active += 1
            Slow.overlap |= Slow.active > 1
            time.sleep(0.01)
            Slow.active -= 1
            return []

    suite = PerceptionSuite(perceivers=[Slow("faces", "image", [])])
    img = np.zeros((10, 10, 3), np.uint8)
    threads = [threading.Thread(target=lambda: suite.perceive(image=img)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not Slow.overlap


def test_non_strict_build_skips_missing_models(tmp_path: Path) -> None:
    from edgesdk.errors import ModelNotFetched

    catalog = Catalog(store=tmp_path)  # empty store: nothing fetched
    with pytest.raises(ModelNotFetched, match="edgesdk models fetch"):
        build_perceivers(get_profile("watch"), catalog=catalog)
    suite = build_perceivers(get_profile("watch"), catalog=catalog, strict=False)
    assert suite.names == [] and set(suite.skipped) == {"vad"}
    assert "edgesdk models fetch vad-silero" in suite.skipped["vad"]


def test_transcription_starts_after_the_wake_word() -> None:
    import numpy as np

    from edgesdk.local.perceive import WAKE_WORD_TAIL_S, after_wake_word
    from edgesdk.types import WakeWord

    samples = np.arange(16000 * 4, dtype=np.float32)
    assert after_wake_word(samples, []) is samples
    cut = after_wake_word(samples, [WakeWord(name="alexa", score=0.99, at_s=1.0)])
    assert cut[0] == int((1.0 + WAKE_WORD_TAIL_S) * 16000)
    # a wake word at the very end leaves nothing to transcribe: keep the whole clip
    late = after_wake_word(samples, [WakeWord(name="alexa", score=0.99, at_s=3.9)])
    assert late is samples
