"""The perception seam: one ``Perceiver`` Protocol and the suite a device profile asks for.

The assistant should not know that faces come from BlazeFace or text from PP-OCR; it asks a
:class:`PerceptionSuite` to ``perceive(image=..., audio=...)`` and gets typed percepts back.
:func:`build_perceivers` turns a profile's perceiver names (``faces``, ``objects``, ``ocr``,
``vad``, ``wakeword``, ``denoise``, ``asr``) into loaded models *when the assistant is built*,
so a missing or corrupted model fails at start-up (``ModelNotFetched``/``ModelCorrupted``),
never in the middle of a request.

Audio runs cheapest-first: voice activity gates the rest, so silence costs one tiny network.
When speech is present, wake words are checked on the raw signal, and the recogniser hears the
denoised signal if the profile has a denoiser.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from edgesdk.catalog import Catalog
from edgesdk.config import load_settings
from edgesdk.devices import DeviceProfile, asr_model_for
from edgesdk.errors import ConfigError, MissingExtra, ModelError
from edgesdk.local.audio import (
    WAKE_WORDS,
    AudioInput,
    SileroVAD,
    WakeWordDetector,
    to_mono16k,
)
from edgesdk.local.deepfilter import DeepFilterNet3
from edgesdk.local.denoise import RNNoiseDenoiser
from edgesdk.local.images import ImageInput, image_nbytes, to_rgb
from edgesdk.local.ocr import TextReader
from edgesdk.local.vision import FaceDetector, ObjectDetector
from edgesdk.local.whisper import WhisperASR
from edgesdk.types import Percept, Speech, Transcript, WakeWord

PERCEIVER_NAMES: tuple[str, ...] = ("faces", "objects", "ocr", "vad", "wakeword", "denoise", "asr")


class Perceiver(Protocol):
    """Turns one decoded input (RGB ``HxWx3`` uint8, or 16 kHz mono float32) into percepts."""

    @property
    def name(self) -> str: ...

    @property
    def modality(self) -> Literal["image", "audio"]: ...

    def perceive(self, data: npt.NDArray[Any]) -> Sequence[Percept]: ...


class Denoiser(Protocol):
    def denoise(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class PerceptionResult:
    """What the suite found; ``timings`` are milliseconds per stage (decode and perceivers)."""

    percepts: list[Percept]
    transcript: str | None = None
    observed_bytes: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class PerceptionSuite:
    """The perceivers of one profile, run over an image and/or an audio clip."""

    def __init__(
        self,
        *,
        perceivers: Sequence[Perceiver] = (),
        denoiser: Denoiser | None = None,
        clock: Callable[[], float] = time.perf_counter,
        denoise_below_db: float = 25.0,
    ) -> None:
        self.image_perceivers = [p for p in perceivers if p.modality == "image"]
        audio = [p for p in perceivers if p.modality == "audio"]
        self.vad = next((p for p in audio if p.name == "vad"), None)
        self.audio_perceivers = [p for p in audio if p.name != "vad"]
        self.denoiser = denoiser
        self.denoise_below_db = denoise_below_db
        self.skipped: dict[str, str] = {}
        """Perceivers ``build_perceivers(strict=False)`` left out, with the reason."""
        self._lock = threading.Lock()  # VAD/ASR/LiteRT state is per instance, not thread-safe
        """Denoise before ASR only below this estimated SNR: RNNoise hurts clean speech."""
        self._clock = clock

    @property
    def names(self) -> list[str]:
        names = [p.name for p in self.image_perceivers]
        names += [self.vad.name] if self.vad else []
        names += [p.name for p in self.audio_perceivers]
        names += ["denoise"] if self.denoiser else []
        return list(dict.fromkeys(names))

    def perceive(
        self, *, image: ImageInput | None = None, audio: AudioInput | None = None
    ) -> PerceptionResult:
        """Decode the inputs (``InvalidImage``/``InvalidAudio`` on bad ones), run perceivers.

        Calls from several threads are serialised: the streaming models keep state.
        """
        with self._lock:
            return self._perceive(image, audio)

    def _perceive(self, image: ImageInput | None, audio: AudioInput | None) -> PerceptionResult:
        percepts: list[Percept] = []
        timings: dict[str, float] = {}
        observed = 0
        transcript: str | None = None
        if image is not None:
            rgb = self._timed("decode_image", timings, to_rgb, image)
            observed += image_nbytes(image)
            for p in self.image_perceivers:
                percepts += self._timed(p.name, timings, p.perceive, rgb)
        if audio is not None:
            samples = self._timed("decode_audio", timings, to_mono16k, audio)
            observed += _audio_nbytes(audio)
            speech: Speech | None = None
            if self.vad is not None:
                found = list(self._timed(self.vad.name, timings, self.vad.perceive, samples))
                percepts += found
                speech = next((f for f in found if isinstance(f, Speech)), None)
            if (speech is not None or self.vad is None) and self.audio_perceivers:
                heard = samples
                needs_clean = any(p.name == "asr" and getattr(p, "wants_denoised", True)
                                  for p in self.audio_perceivers)
                snr = estimate_snr_db(samples, speech) if speech is not None else None
                if (self.denoiser is not None and needs_clean
                        and (snr is None or snr < self.denoise_below_db)):
                    heard = self._timed("denoise", timings, self.denoiser.denoise, samples)
                # wake words (and anything else) first, on the raw signal; the recogniser
                # last, on what follows the wake word, so "Alexa" is not part of the question
                ordered = sorted(self.audio_perceivers, key=lambda p: p.name == "asr")
                for p in ordered:
                    data = heard if p.name == "asr" else samples
                    if p.name == "asr":
                        data = after_wake_word(data, percepts)
                    out = list(self._timed(p.name, timings, p.perceive, data))
                    percepts += out
                    for t in out:
                        if isinstance(t, Transcript) and t.text:
                            transcript = t.text
        return PerceptionResult(percepts=percepts, transcript=transcript,
                                observed_bytes=observed, timings=timings)

    def _timed(self, key: str, timings: dict[str, float], fn: Callable[[Any], Any],
               arg: Any) -> Any:
        start = self._clock()
        try:
            return fn(arg)
        finally:
            timings[key] = round(timings.get(key, 0.0) + (self._clock() - start) * 1000, 3)


WAKE_WORD_TAIL_S = -0.1
"""Where the question starts relative to the wake word's detection time. The detector's
windows end a little after the word, so starting 0.1 s *before* the detection transcribed best
(measured with PocketSphinx on espeak-ng 'Alexa. What is the capital of ...' clips)."""


def after_wake_word(samples: npt.NDArray[np.float32],
                    percepts: Sequence[Percept]) -> npt.NDArray[np.float32]:
    """The part of ``samples`` after the last detected wake word (all of it if none, or if
    nothing would be left)."""
    ends = [p.at_s for p in percepts if isinstance(p, WakeWord)]
    if not ends:
        return samples
    start = int((max(ends) + WAKE_WORD_TAIL_S) * 16000)
    return samples[start:] if len(samples) - start > 16000 // 2 else samples


def estimate_snr_db(samples: npt.NDArray[np.float32], speech: Speech) -> float | None:
    """Speech-to-background power ratio from the VAD's segments; None if either is missing."""
    voiced = np.zeros(len(samples), dtype=bool)
    for seg in speech.segments:
        voiced[int(seg.start_s * 16_000):int(seg.end_s * 16_000)] = True
    if voiced.sum() < 1600 or (~voiced).sum() < 1600:
        return None
    p_speech = float(np.mean(samples[voiced].astype(np.float64) ** 2))
    p_noise = float(np.mean(samples[~voiced].astype(np.float64) ** 2))
    if p_noise <= 1e-12:
        return 120.0
    return 10 * float(np.log10(max(p_speech - p_noise, 1e-12) / p_noise))


def _audio_nbytes(audio: AudioInput) -> int:
    if isinstance(audio, np.ndarray):
        return int(audio.nbytes)
    if isinstance(audio, (bytes, bytearray)):
        return len(audio)
    try:
        from pathlib import Path

        return Path(audio).stat().st_size
    except OSError:
        return 0


def build_perceivers(
    profile: DeviceProfile,
    *,
    catalog: Catalog,
    names: Iterable[str] | None = None,
    wake_words: Sequence[str] = tuple(WAKE_WORDS),
    strict: bool = True,
    denoiser: Literal["rnnoise", "deepfilternet3"] = "rnnoise",
    speech_language: Literal["en", "zh", "auto"] | None = None,
) -> PerceptionSuite:
    """Load the perceivers ``profile`` lists (or only ``names``), at the profile's threads.

    ``speech_language``: what the recogniser expects (default: ``EDGESDK_SPEECH_LANGUAGE``,
    else the profile's); Chinese or ``auto`` on an English-only profile loads Whisper base.

    ``strict`` (default): a model that is not fetched/corrupted or a missing extra raises
    (``ModelError``/``MissingExtra``). ``strict=False`` leaves such perceivers out and records
    why in ``suite.skipped`` (name -> message), for apps that run with what is installed.
    ``denoiser`` picks RNNoise (cheapest) or DeepFilterNet3 (~1.5 dB more SNR, ~2x the cost).
    """
    wanted = list(dict.fromkeys(profile.perceivers if names is None else names))
    unknown = [n for n in wanted if n not in PERCEIVER_NAMES]
    if unknown:
        raise ConfigError(
            f"unknown perceiver(s) {unknown}; choose from {', '.join(PERCEIVER_NAMES)}"
        )
    threads = profile.threads
    language = speech_language or load_settings().speech_language or profile.speech_language
    vad: list[SileroVAD] = []

    def load_vad() -> list[Any]:
        if not vad:
            vad.append(SileroVAD.load(catalog=catalog, threads=threads))
        return [vad[0]]

    def load_asr() -> list[Any]:
        model_id = asr_model_for(profile, language)
        if model_id is None:
            raise ConfigError(f"profile '{profile.name}' has no speech recogniser")
        gate = SileroVAD.load(catalog=catalog, threads=1)  # its own state: the suite's runs too
        return [WhisperASR.load(catalog=catalog, model_id=model_id, language=language,
                                threads=threads, vad=gate)]

    loaders: dict[str, Callable[[], list[Any]]] = {
        "faces": lambda: [FaceDetector.load(catalog=catalog, threads=threads)],
        "objects": lambda: [ObjectDetector.load(catalog=catalog, threads=threads)],
        "ocr": lambda: [TextReader.load(catalog=catalog, threads=threads)],
        "vad": load_vad,
        "wakeword": lambda: [WakeWordDetector.load(catalog=catalog, word=w, threads=threads)
                             for w in wake_words],
        "denoise": lambda: [
            RNNoiseDenoiser.load(catalog=catalog) if denoiser == "rnnoise"
            else DeepFilterNet3.load(catalog=catalog, threads=threads)
        ],
        "asr": load_asr,
    }
    perceivers: list[Perceiver] = []
    clean: Denoiser | None = None
    skipped: dict[str, str] = {}
    for name in wanted:
        try:
            loaded = loaders[name]()
        except (ModelError, MissingExtra) as exc:
            if strict:
                raise
            skipped[name] = str(exc)
            continue
        if name == "denoise":
            clean = loaded[0]
        else:
            perceivers += loaded
    suite = PerceptionSuite(perceivers=perceivers, denoiser=clean)
    suite.skipped = skipped
    return suite
