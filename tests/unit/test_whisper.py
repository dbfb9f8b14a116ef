"""The Whisper recogniser's own logic, over a fake CTranslate2 model and a fake VAD.

Gating by voice activity, the joined-speech timeline, language choice (``auto`` restricted to
English and Chinese), simplified Chinese, the calibrated confidence, streaming, typed errors;
and the router's decision on an unsure transcript, through the Assistant. The real models are
exercised in ``tests/integration/test_perception_audio.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from edgesdk.errors import ConfigError, InvalidAudio
from edgesdk.local.whisper import (
    FEATURES,
    TranscriptCalibration,
    WhisperASR,
    _join,
    evidence_features,
)
from edgesdk.types import Speech, SpeechSegment, Transcript, TranscriptEvidence

SR = 16_000


@dataclass
class Word:
    word: str
    start: float
    end: float
    probability: float


@dataclass
class Segment:
    text: str
    start: float
    end: float
    avg_logprob: float = -0.2
    no_speech_prob: float = 0.05
    compression_ratio: float = 1.1
    tokens: list[int] = field(default_factory=lambda: [1, 2, 3])
    words: list[Word] | None = None


class FakeModel:
    """Records what it was asked to decode; answers with scripted segments."""

    def __init__(self, segments: Sequence[Segment], languages: Sequence[tuple[str, float]] = ()):
        self.segments = list(segments)
        self.languages = list(languages)
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: np.ndarray, **kw: Any) -> tuple[Any, Any]:
        self.calls.append({"samples": audio.size, **kw})
        return iter(self.segments), None

    def detect_language(self, audio: np.ndarray) -> tuple[str, float, list[tuple[str, float]]]:
        return self.languages[0][0], self.languages[0][1], self.languages


class FakeVAD:
    def __init__(self, segments: Sequence[tuple[float, float]]) -> None:
        self.segments = segments

    def speech(self, samples: np.ndarray) -> Speech:
        return Speech(segments=tuple(SpeechSegment(start_s=a, end_s=b)
                                     for a, b in self.segments), score=0.9)


CAL = TranscriptCalibration(model_id="m", mean=(0.0,) * 6, scale=(1.0,) * 6,
                            weights=(4.0, -2.0, 0.0, 0.0, 0.0, 0.0), bias=1.0)


def asr(model: FakeModel, *, model_id: str = "asr-whisper-base", language: str = "auto",
        vad: FakeVAD | None = None) -> WhisperASR:
    return WhisperASR(model=model, model_id=model_id, calibration=CAL,
                      language=language, vad=vad)  # type: ignore[arg-type]


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_only_the_speech_is_decoded_and_times_map_back_to_the_clip() -> None:
    model = FakeModel([Segment(" What is the capital", 0.0, 1.2,
                               words=[Word(" What", 0.1, 0.3, 0.9), Word(" capital", 1.6, 1.9,
                                                                        0.8)])])
    r = asr(model, language="en", vad=FakeVAD([(1.0, 2.0), (5.0, 6.0)]))
    t = r.transcribe(tone(8.0))
    # two padded pieces ([0.75, 2.25] and [4.75, 6.25]) run together: 3 s decoded, not 8
    assert model.calls[0]["samples"] == 3 * SR and model.calls[0]["language"] == "en"
    assert model.calls[0]["temperature"] == 0.0 and model.calls[0]["vad_filter"] is False
    words = t.segments[0].words
    assert words[0].start_s == pytest.approx(0.85)  # 0.75 + 0.1
    assert words[1].start_s == pytest.approx(4.75 + 1.6 - 1.5)  # in the second piece
    assert t.text == "What is the capital" and t.language == "en" and t.model == r.model_id


def test_the_timeline_of_joined_pieces() -> None:
    joined, timeline = _join(tone(10.0), [(1.0, 2.0), (4.0, 4.5)])
    assert joined.size == int(1.5 * SR)
    assert timeline.at(0.5) == 1.5 and timeline.at(1.2) == pytest.approx(4.2)


def test_no_speech_costs_no_decoding() -> None:
    model = FakeModel([Segment(" You", 0.0, 1.0)])
    t = asr(model, vad=FakeVAD([])).transcribe(tone(3.0))
    assert t.text == "" and t.confidence == 0.0 and model.calls == []
    silent = asr(model).transcribe(np.zeros(SR, dtype=np.float32))  # no VAD: silence check
    assert silent.text == "" and model.calls == []


def test_auto_chooses_between_english_and_chinese_only() -> None:
    # on short clips the unrestricted detector says Thai for English
    model = FakeModel([Segment(" hello", 0, 1)], languages=[("th", 0.8), ("en", 0.15),
                                                            ("zh", 0.05)])
    t = asr(model).transcribe(tone(1.0))
    assert model.calls[0]["language"] == "en" and t.language == "en"
    assert t.evidence is not None and t.evidence.language_probability == pytest.approx(0.75)


def test_chinese_comes_out_in_simplified_characters_without_spaces() -> None:
    model = FakeModel([Segment("我們學習漢語", 0, 1, words=[Word("我們", 0, 0.5, 0.9)]),
                       Segment("已經三年了", 1, 2)])
    t = asr(model, language="zh").transcribe(tone(2.0))
    assert t.text == "我们学习汉语已经三年了" and t.language == "zh"
    assert t.segments[0].words[0].text == "我们"


def test_english_only_model_is_english_and_refuses_chinese() -> None:
    model = FakeModel([Segment(" hi", 0, 1)])
    assert asr(model, model_id="asr-whisper-tiny-en", language="auto").language == "en"
    with pytest.raises(ConfigError, match="asr-whisper-base"):
        asr(model, model_id="asr-whisper-tiny-en", language="zh")
    with pytest.raises(ConfigError, match="en, zh, auto"):
        asr(model, language="fr")


def test_confidence_is_the_calibrated_probability_of_the_evidence() -> None:
    sure = asr(FakeModel([Segment(" a", 0, 1, avg_logprob=-0.1, no_speech_prob=0.01)]),
               language="en").transcribe(tone(1.0))
    unsure = asr(FakeModel([Segment(" a", 0, 1, avg_logprob=-1.5, no_speech_prob=0.7)]),
                 language="en").transcribe(tone(1.0))
    assert sure.confidence > 0.6 > 0.1 > unsure.confidence
    assert sure.evidence is not None
    assert sure.confidence == pytest.approx(CAL.probability(sure.evidence), abs=1e-4)
    assert len(evidence_features(sure.evidence)) == len(FEATURES)


def test_shipped_calibrations_load_and_rank_clear_above_garbled() -> None:
    clear = TranscriptEvidence(avg_logprob=-0.2, no_speech_prob=0.02, compression_ratio=1.1,
                               word_prob_mean=0.9, word_prob_min=0.6)
    garbled = TranscriptEvidence(avg_logprob=-1.4, no_speech_prob=0.5, compression_ratio=1.0,
                                 word_prob_mean=0.4, word_prob_min=0.02)
    for model_id in ("asr-whisper-tiny-en", "asr-whisper-base"):
        cal = TranscriptCalibration.load(model_id)
        assert cal.fitted_on and cal.probability(clear) > 0.5 > cal.probability(garbled)


def test_streaming_partials_are_throttled_and_finish_transcribes_all() -> None:
    model = FakeModel([Segment(" hello there", 0, 1)])
    r = asr(model, language="en", vad=FakeVAD([(0.0, 1.0)]))
    r.start()
    r.feed(tone(0.5))
    assert r.partial() == "" and model.calls == []  # less than a second of new audio
    r.feed(tone(0.6))
    assert r.partial() == "hello there" and model.calls[-1]["beam_size"] == 1
    assert r.partial() == "hello there" and len(model.calls) == 1  # nothing new: no decode
    assert not r.ended  # speech ended at 1.0 s of 1.1 s: not yet 0.7 s of silence
    r.feed(np.zeros(SR, dtype=np.float32))
    assert r.ended
    final = r.finish()
    assert final.text == "hello there" and model.calls[-1]["samples"] > 0


def test_bad_audio_is_a_typed_error() -> None:
    r = asr(FakeModel([]), language="en")
    with pytest.raises(InvalidAudio, match="1-D mono"):
        r.transcribe(np.zeros((2, SR), dtype=np.float32))
    with pytest.raises(InvalidAudio, match="empty"):
        r.transcribe(np.zeros(0, dtype=np.float32))
    with pytest.raises(InvalidAudio, match="NaN"):
        r.transcribe(np.full(SR, np.nan, dtype=np.float32))


def test_an_unsure_transcript_is_asked_again_not_answered(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from edgesdk.assistant import Assistant
    from edgesdk.config import Settings
    from edgesdk.local.perceive import PerceptionResult
    from tests.fakes import FakeLLM, FakeRouter, FakeTier

    class Heard:
        def __init__(self, text: str, confidence: float) -> None:
            self.transcript = Transcript(text=text, confidence=confidence, language="en",
                                         model="asr-whisper-tiny-en")

        def perceive(self, *, image: object = None, audio: object = None) -> PerceptionResult:
            return PerceptionResult(percepts=[self.transcript], transcript=self.transcript.text)

    cloud = FakeTier(text="Tokyo")
    for heard, expect_answer in ((Heard("the world's aldo and do a dance", 0.12), False),
                                 (Heard("What is the capital of Japan?", 0.93), True)):
        with Assistant(profile="glasses", settings=Settings(home=tmp_path), tiers=[cloud],
                       llm=FakeLLM(), router=FakeRouter(), perception=heard) as a:
            answer = a.ask(None, audio=b"RIFF....")
        if expect_answer:
            assert not answer.declined and answer.text == "Tokyo"
            assert answer.reasons[0] == ("heard (en, confidence 0.93, asr-whisper-tiny-en): "
                                         "\u201cWhat is the capital of Japan?\u201d")
            continue
        assert answer.declined and not answer.escalated and answer.tier == "device"
        assert answer.text == ("I'm not sure I heard you right: did you say \u201cthe world's "
                               "aldo and do a dance\u201d? Please say it again.")
        assert answer.reasons[0].startswith("transcript unsure: confidence 0.12 below 0.50")
        assert answer.percepts[0].kind == "transcript"
    assert len(cloud.calls) == 1  # the misheard question never reached the cloud
