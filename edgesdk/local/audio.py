"""On-device audio: decoding to 16 kHz mono, voice activity (Silero) and wake words (microWakeWord).

Glasses and watches hear all day; almost all of it is silence or noise and must never leave
the device. The cheapest networks run first, on 16 kHz mono frames as they arrive: Silero VAD
(32 ms frames, recurrent state) says *whether* someone speaks, microWakeWord (10 ms features)
says whether they addressed the device. Only then do the heavier steps run (noise suppression
in :mod:`edgesdk.local.denoise`, speech-to-text in :mod:`edgesdk.local.whisper`).

Input conventions (:func:`to_mono16k`), documented so nothing surprises a caller:

* WAV files/bytes (8/16/24/32-bit PCM) at any rate are mixed down to mono (channel mean) and
  resampled to 16 kHz; other formats (FLAC, MP3, OGG, M4A) go through PyAV (FFmpeg), which
  the ``audio`` extra installs;
* numpy arrays are taken to be 16 kHz already; 1-D float (-1..1) or int16; 2-D arrays raise
  :class:`~edgesdk.errors.InvalidAudio` (we cannot know which axis is time); NaN/inf raise;
* empty clips raise; clips longer than :data:`MAX_SECONDS` raise (split them and stream).
"""

from __future__ import annotations

import importlib
import io
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from edgesdk.catalog import Catalog
from edgesdk.errors import InvalidAudio, MissingExtra
from edgesdk.local.runtimes import LiteRTModel, OnnxModel, TensorModel
from edgesdk.types import Speech, SpeechSegment, WakeWord

SAMPLE_RATE = 16_000
MAX_SECONDS = 600.0
Samples = npt.NDArray[np.float32]
AudioInput = str | Path | bytes | bytearray | npt.NDArray[Any]

VAD_MODEL = "vad-silero"


# ---------------------------------------------------------------------- decoding


def to_mono16k(audio: AudioInput) -> Samples:
    """Decode/convert ``audio`` to float32 mono samples in [-1, 1] at 16 kHz."""
    if isinstance(audio, np.ndarray):
        return _check(_array_to_float(audio))
    if isinstance(audio, (bytes, bytearray)):
        if not audio:
            raise InvalidAudio("the audio is empty (0 bytes); pass a 16 kHz mono WAV")
        decode = _decode_wav if bytes(audio[:4]) == b"RIFF" else _decode_other
        return _check(decode(io.BytesIO(bytes(audio)), "audio bytes"))
    if isinstance(audio, (str, Path)):
        path = Path(audio)
        if not path.is_file():
            raise InvalidAudio(f"audio file {path} does not exist; check the path")
        with path.open("rb") as fh:
            if path.stat().st_size == 0:
                raise InvalidAudio(f"{path} is empty (0 bytes); record again")
            decode = _decode_wav if fh.read(4) == b"RIFF" else _decode_other
            fh.seek(0)
            return _check(decode(fh, str(path)))
    raise InvalidAudio(
        f"unsupported audio type {type(audio).__name__}; pass a WAV path, WAV bytes or a "
        "1-D float32/int16 numpy array at 16 kHz"
    )


def _decode_wav(fh: Any, name: str) -> Samples:
    try:
        with wave.open(fh, "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            if wav.getnframes() > MAX_SECONDS * rate:
                raise InvalidAudio(
                    f"{name} is longer than {MAX_SECONDS:.0f} s; split it and stream the parts"
                )
            raw = wav.readframes(wav.getnframes())
    except InvalidAudio:
        raise
    except (wave.Error, EOFError, OSError) as exc:
        if isinstance(exc, wave.Error) and "unknown format" in str(exc):
            fh.seek(0)  # float or extensible WAV: FFmpeg reads those
            return _decode_other(fh, name)
        raise InvalidAudio(f"{name} is not a readable PCM WAV file ({exc})") from exc
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
        data = (np.where(ints >= 1 << 23, ints - (1 << 24), ints) / float(1 << 23))
        data = data.astype(np.float32)
    elif width == 4:
        data = (np.frombuffer(raw, dtype="<i4") / float(1 << 31)).astype(np.float32)
    else:  # pragma: no cover - wave refuses other widths
        raise InvalidAudio(f"{name} has {width}-byte samples; use 16-bit PCM")
    usable = len(data) - len(data) % channels
    mono = data[:usable].reshape(-1, channels).mean(axis=1).astype(np.float32)
    return resample(mono, rate, SAMPLE_RATE)


def _decode_other(fh: Any, name: str) -> Samples:
    """FLAC, MP3, OGG, M4A, ... through PyAV (FFmpeg; installed with the ``audio`` extra as
    faster-whisper's dependency), mixed down and resampled to 16 kHz mono by FFmpeg."""
    try:
        import av
    except ImportError:
        raise InvalidAudio(f"{name} is not a WAV file; other formats (FLAC, MP3, OGG, M4A) "
                           "need PyAV: pip install 'edgesdk[audio]'") from None
    chunks: list[npt.NDArray[Any]] = []
    try:
        with av.open(fh, mode="r") as container:
            if not container.streams.audio:
                raise InvalidAudio(f"{name} has no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
                if sum(c.size for c in chunks) > MAX_SECONDS * SAMPLE_RATE:
                    raise InvalidAudio(f"{name} is longer than {MAX_SECONDS:.0f} s; split it "
                                       "and stream the parts")
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except InvalidAudio:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InvalidAudio(f"{name} is not audio FFmpeg can decode ({exc}); pass a WAV, "
                           "FLAC, MP3 or OGG file") from exc
    if not chunks:
        raise InvalidAudio(f"{name} holds no audio samples")
    return (np.concatenate(chunks).astype(np.float32) / 32768.0).astype(np.float32)


def _array_to_float(arr: npt.NDArray[Any]) -> Samples:
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InvalidAudio(
            f"audio array has shape {arr.shape}; pass 1-D mono samples at 16 kHz "
            "(mix stereo down with samples.mean(axis=1))"
        )
    if arr.dtype == np.int16:
        return (arr.astype(np.float32) / 32768.0).astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if not np.all(np.isfinite(out)):
            raise InvalidAudio("audio array contains NaN or infinity")
        return np.clip(out, -1.0, 1.0)
    raise InvalidAudio(f"audio array has dtype {arr.dtype}; pass float32 in [-1, 1] or int16")


def _check(samples: Samples) -> Samples:
    if samples.size == 0:
        raise InvalidAudio("the audio has no samples; pass at least 32 ms of 16 kHz audio")
    if samples.size > MAX_SECONDS * SAMPLE_RATE:
        raise InvalidAudio(f"audio longer than {MAX_SECONDS:.0f} s; split it and stream it")
    return np.ascontiguousarray(samples, dtype=np.float32)


def resample(samples: Samples, rate_in: int, rate_out: int) -> Samples:
    """Polyphase resampling (scipy) between integer rates; identity when they match."""
    if rate_in == rate_out:
        return samples
    if rate_in <= 0:
        raise InvalidAudio(f"invalid sample rate {rate_in}")
    try:
        signal = importlib.import_module("scipy.signal")
    except ImportError as exc:
        raise MissingExtra(module="scipy", extra="audio",
                           purpose=f"resampling {rate_in} Hz audio to {rate_out} Hz") from exc
    from math import gcd

    g = gcd(rate_in, rate_out)
    out: Samples = signal.resample_poly(samples, rate_out // g, rate_in // g).astype(np.float32)
    return out


def to_wav_bytes(samples: Samples, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono WAV encoding (for tests, demos and the CLI)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


# ---------------------------------------------------------------------- voice activity


class SileroVAD:
    """Silero VAD: probability of speech per 512-sample (32 ms) frame, streaming.

    ``process_frame`` keeps the recurrent state and the 64-sample context between calls, so a
    microphone loop can feed frames as they arrive; ``speech`` runs a whole clip and merges
    frames into segments with hysteresis (on at ``threshold``, off below ``threshold - 0.15``).
    """

    name: ClassVar[str] = "vad"
    modality: ClassVar[Literal["audio"]] = "audio"
    frame: ClassVar[int] = 512
    context: ClassVar[int] = 64

    def __init__(
        self,
        *,
        model: TensorModel,
        threshold: float = 0.5,
        min_speech_s: float = 0.25,
        min_silence_s: float = 0.1,
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.min_speech_s = min_speech_s
        self.min_silence_s = min_silence_s
        self.reset()

    @classmethod
    def load(cls, *, catalog: Catalog, threads: int = 1) -> SileroVAD:
        return cls(model=OnnxModel(path=catalog.locate(VAD_MODEL), threads=threads,
                                   extra="audio"))

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.context, dtype=np.float32)

    def process_frame(self, frame: Samples) -> float:
        """Speech probability of one 512-sample frame (shorter frames are zero-padded)."""
        if frame.ndim != 1 or frame.size > self.frame:
            raise InvalidAudio(f"VAD frames are 1-D with at most {self.frame} samples at 16 kHz")
        if frame.size < self.frame:
            frame = np.pad(frame, (0, self.frame - frame.size))
        x = np.concatenate([self._context, frame.astype(np.float32)])[None]
        out = self.model.run({"input": x, "state": self._state,
                              "sr": np.array(SAMPLE_RATE, dtype=np.int64)})
        self._state = out["stateN"].astype(np.float32)
        self._context = x[0, -self.context:]
        return float(out["output"].reshape(-1)[0])

    def probabilities(self, samples: Samples) -> Samples:
        self.reset()
        probs = [self.process_frame(samples[i:i + self.frame])
                 for i in range(0, len(samples), self.frame)]
        return np.asarray(probs, dtype=np.float32)

    def speech(self, samples: Samples) -> Speech:
        probs = self.probabilities(samples)
        step = self.frame / SAMPLE_RATE
        segments: list[SpeechSegment] = []
        start: float | None = None
        silence = 0.0
        for i, p in enumerate(probs):
            t = i * step
            if start is None:
                if p >= self.threshold:
                    start, silence = t, 0.0
                continue
            if p < self.threshold - 0.15:
                silence += step
                if silence >= self.min_silence_s:
                    end = t - silence + step
                    if end - start >= self.min_speech_s:
                        segments.append(SpeechSegment(start_s=round(start, 3), end_s=round(end, 3)))
                    start = None
            else:
                silence = 0.0
        if start is not None:
            end = len(samples) / SAMPLE_RATE
            if end - start >= self.min_speech_s:
                segments.append(SpeechSegment(start_s=round(start, 3), end_s=round(end, 3)))
        voiced = probs[probs >= self.threshold]
        score = float(voiced.mean()) if segments and voiced.size else float(probs.max(initial=0))
        return Speech(segments=tuple(segments), score=min(max(score, 0.0), 1.0))

    def perceive(self, samples: Samples) -> list[Speech]:
        speech = self.speech(samples)
        return [speech] if speech.segments else []


# ---------------------------------------------------------------------- wake word


@dataclass(frozen=True)
class WakeWordSpec:
    model_id: str
    name: str
    cutoff: float
    window: int = 5


WAKE_WORDS: dict[str, WakeWordSpec] = {
    "alexa": WakeWordSpec("wakeword-alexa", "Alexa", 0.9),
    "hey_jarvis": WakeWordSpec("wakeword-hey-jarvis", "Hey Jarvis", 0.97),
    "hey_mycroft": WakeWordSpec("wakeword-hey-mycroft", "Hey Mycroft", 0.95),
    "okay_nabu": WakeWordSpec("wakeword-okay-nabu", "Okay Nabu", 0.85),
}
"""The shipped microWakeWord models and the cut-offs from their JSON configs."""


def _frontend() -> Any:
    try:
        return importlib.import_module("pymicro_features").MicroFrontend()
    except ImportError as exc:
        raise MissingExtra(module="pymicro_features", extra="audio",
                           purpose="wake-word features") from exc


class WakeWordDetector:
    """microWakeWord: 40 log-mel features per 10 ms, an int8 streaming CNN every 30 ms.

    Feed 16 kHz audio of any length to :meth:`process`; it returns the smoothed probability
    (mean of the last ``window`` outputs) after each inference. The network keeps its own
    streaming state, so ``reset`` clears it between unrelated clips.
    """

    name: ClassVar[str] = "wakeword"
    modality: ClassVar[Literal["audio"]] = "audio"

    def __init__(self, *, model: TensorModel, spec: WakeWordSpec) -> None:
        self.model = model
        self.spec = spec
        inp, out = model.inputs[0], model.outputs[0]
        self._in, self._out = inp, out
        self._stride = inp.shape[1]
        self.reset()

    @classmethod
    def load(
        cls, *, catalog: Catalog, word: str = "alexa", threads: int = 1
    ) -> WakeWordDetector:
        spec = WAKE_WORDS[word]
        model = LiteRTModel(path=catalog.locate(spec.model_id), threads=threads, extra="audio")
        return cls(model=model, spec=spec)

    def reset(self) -> None:
        self.model.reset()
        self._frontend = _frontend()
        self._pending = b""
        self._features: list[list[float]] = []
        self._probs: deque[float] = deque(maxlen=self.spec.window)
        self._t = 0

    def process(self, samples: Samples) -> list[tuple[float, float]]:
        """Feed samples; return ``(time_s, smoothed probability)`` after each inference."""
        pcm = self._pending + (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        scores: list[tuple[float, float]] = []
        pos = 0
        while pos + 320 <= len(pcm):
            res = self._frontend.process_samples(pcm[pos:pos + 320])
            pos += res.samples_read * 2
            self._t += res.samples_read
            if not res.features:
                continue
            self._features.append(list(res.features))
            if len(self._features) < self._stride:
                continue
            scale, zero = self._in.quantization
            feats = np.asarray(self._features, dtype=np.float32)[None]
            q = np.clip(np.round(feats / scale + zero), -128, 127).astype(self._in.dtype)
            self._features.clear()
            raw = self.model.run({self._in.name: q})[self._out.name]
            oscale, ozero = self._out.quantization
            self._probs.append(float((raw.astype(np.float32).item() - ozero) * oscale))
            if len(self._probs) == self.spec.window:
                scores.append((self._t / SAMPLE_RATE, float(np.mean(self._probs))))
        self._pending = pcm[pos:]
        return scores

    def detect(self, samples: Samples) -> WakeWord | None:
        self.reset()
        scores = self.process(samples)
        if not scores:
            return None
        at, best = max(scores, key=lambda s: s[1])
        if best < self.spec.cutoff:
            return None
        return WakeWord(name=self.spec.name, score=min(best, 1.0), at_s=round(at, 3))

    def perceive(self, samples: Samples) -> list[WakeWord]:
        found = self.detect(samples)
        return [found] if found else []
