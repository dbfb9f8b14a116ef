"""Noise suppression with DeepFilterNet3 (ONNX), reimplementing libDF's signal path in numpy.

DeepFilterNet3 removes more noise than RNNoise (it predicts ERB-band gains *and* a short
complex filter over the low frequencies, where speech harmonics live) at ~2-3x the cost, so an
edge box or phone can prefer it while glasses keep RNNoise. The ONNX export has only the three
networks; the feature extraction and synthesis around them (libDF, Rust) are reproduced here:

* 48 kHz, 960-point STFT with a Vorbis window and 480-sample hop, spectra scaled by 1/960;
* ERB features: 32 bands (libDF's ``erb_fb`` widths), mean power in dB, exponential mean
  normalisation (alpha 0.99, initial -60..-90 dB), divided by 40;
* complex features: the first 96 bins divided by the square root of an exponential mean of
  their magnitude (alpha 0.99, initial 0.001..0.0001);
* both feature streams shifted 2 frames earlier (the model's convolution look-ahead);
* output: spectrum times the ERB gains, with the first 96 bins replaced by a 5-tap complex
  filter over frames t-2..t+2 of the noisy spectrum; overlap-add synthesis.

The clip is processed whole (the ONNX graphs take a whole sequence); 16 kHz audio is resampled
to 48 kHz and back.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from edgesdk.catalog import Catalog
from edgesdk.errors import InvalidAudio
from edgesdk.local.audio import SAMPLE_RATE, Samples, resample
from edgesdk.local.runtimes import OnnxModel, TensorModel

DFN_MODEL = "denoise-deepfilternet3"
SR, FFT, HOP, NB_ERB, NB_DF, ORDER, LOOKAHEAD, CONV_LOOKAHEAD = 48_000, 960, 480, 32, 96, 5, 2, 2
ALPHA = 0.99
C64 = npt.NDArray[np.complex64]


def erb_widths(sr: int = SR, fft: int = FFT, bands: int = NB_ERB, min_freqs: int = 2) -> list[int]:
    """Number of FFT bins per ERB band, as libDF's ``erb_fb``."""
    def f2e(f: float) -> float:
        return 9.265 * math.log1p(f / (24.7 * 9.265))

    def e2f(e: float) -> float:
        return 24.7 * 9.265 * (math.exp(e / 9.265) - 1)

    width = sr / fft
    low, high = f2e(0.0), f2e(sr / 2)
    step = (high - low) / bands
    widths, prev, over = [], 0, 0
    for i in range(1, bands + 1):
        fb = round(e2f(low + i * step) / width)
        n = fb - prev - over
        if n < min_freqs:
            over, n = min_freqs - n, min_freqs
        else:
            over = 0
        widths.append(n)
        prev = fb
    widths[-1] += 1
    widths[-1] -= sum(widths) - (fft // 2 + 1)
    return widths


def _window() -> npt.NDArray[np.float64]:
    n = np.arange(FFT)
    return np.sin(0.5 * np.pi * np.sin(np.pi * (n + 0.5) / FFT) ** 2)


class DeepFilterNet3:
    """Whole-clip DeepFilterNet3 denoiser over 16 kHz mono float samples."""

    name: ClassVar[str] = "denoise"

    def __init__(self, *, encoder: TensorModel, erb_decoder: TensorModel,
                 df_decoder: TensorModel) -> None:
        self.enc, self.erb_dec, self.df_dec = encoder, erb_decoder, df_decoder
        self._widths = erb_widths()
        self._band_of = np.repeat(np.arange(NB_ERB), self._widths)
        self._win = _window()

    @classmethod
    def load(cls, *, catalog: Catalog, threads: int = 2) -> DeepFilterNet3:
        return cls.from_dir(catalog.locate(DFN_MODEL), threads=threads)

    @classmethod
    def from_dir(cls, root: Path, *, threads: int = 2) -> DeepFilterNet3:
        d = root / "tmp" / "export"
        return cls(
            encoder=OnnxModel(path=d / "enc.onnx", threads=threads, extra="audio"),
            erb_decoder=OnnxModel(path=d / "erb_dec.onnx", threads=threads, extra="audio"),
            df_decoder=OnnxModel(path=d / "df_dec.onnx", threads=threads, extra="audio"),
        )

    # -------------------------------------------------------------- signal path

    def _analysis(self, x: npt.NDArray[np.float64]) -> C64:
        frames = len(x) // HOP
        padded = np.concatenate([np.zeros(FFT - HOP), x[: frames * HOP]])
        idx = np.arange(frames)[:, None] * HOP + np.arange(FFT)[None]
        spec: C64 = (np.fft.rfft(padded[idx] * self._win, axis=1) / FFT).astype(np.complex64)
        return spec

    def _synthesis(self, spec: C64) -> npt.NDArray[np.float64]:
        frames = np.fft.irfft(spec.astype(np.complex128), n=FFT, axis=1) * FFT * self._win
        out = np.zeros((len(spec) + 1) * HOP)
        for t, frame in enumerate(frames):
            out[t * HOP:t * HOP + FFT] += frame
        return out[: len(spec) * HOP]

    def _features(self, spec: C64) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        power = np.abs(spec) ** 2
        sums = np.add.reduceat(power, np.cumsum([0, *self._widths[:-1]]), axis=1)
        erb_db = 10 * np.log10(sums / np.asarray(self._widths) + 1e-10)
        state = np.linspace(-60.0, -90.0, NB_ERB)
        erb = np.empty_like(erb_db)
        for t in range(len(spec)):
            state = erb_db[t] * (1 - ALPHA) + state * ALPHA
            erb[t] = (erb_db[t] - state) / 40.0
        low = spec[:, :NB_DF]
        unit = np.empty_like(low)
        s = np.linspace(0.001, 0.0001, NB_DF)
        mag = np.abs(low)
        for t in range(len(spec)):
            s = mag[t] * (1 - ALPHA) + s * ALPHA
            unit[t] = low[t] / np.sqrt(s)
        return erb.astype(np.float32), np.stack([unit.real, unit.imag]).astype(np.float32)

    @staticmethod
    def _shift(x: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
        """Drop the first CONV_LOOKAHEAD frames along ``axis`` and append zero frames."""
        pad = [(0, 0)] * x.ndim
        pad[axis] = (0, CONV_LOOKAHEAD)
        return np.take(np.pad(x, pad), np.arange(CONV_LOOKAHEAD, x.shape[axis] + CONV_LOOKAHEAD),
                       axis=axis)

    def enhance48k(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        n = len(x)
        spec = self._analysis(np.concatenate([x, np.zeros(FFT)]))
        erb, cplx = self._features(spec)
        feat_erb = self._shift(erb, 0)[None, None]
        feat_spec = self._shift(cplx, 1)[None]
        enc = self.enc.run({"feat_erb": feat_erb, "feat_spec": feat_spec})
        mask = self.erb_dec.run({k: enc[k] for k in ("emb", "e3", "e2", "e1", "e0")})["m"]
        coefs = next(iter(self.df_dec.run({"emb": enc["emb"], "c0": enc["c0"]}).values()))
        gains = mask[0, 0][:, self._band_of]  # (T, F)
        out = spec * gains
        c = coefs[0].reshape(len(spec), NB_DF, ORDER, 2)
        c = c[..., 0] + 1j * c[..., 1]  # (T, F, ORDER)
        padded = np.pad(spec[:, :NB_DF], ((ORDER - 1 - LOOKAHEAD, LOOKAHEAD), (0, 0)))
        filtered = np.zeros((len(spec), NB_DF), dtype=np.complex64)
        for k in range(ORDER):
            filtered += padded[k:k + len(spec)] * c[:, :, k]
        out[:, :NB_DF] = filtered
        y = self._synthesis(out.astype(np.complex64))
        d = FFT - HOP
        return y[d:d + n]

    def denoise(self, samples: Samples) -> Samples:
        """Denoise a whole 16 kHz clip; the result is aligned with (and as long as) the input."""
        if samples.ndim != 1:
            raise InvalidAudio("denoiser input must be 1-D mono samples at 16 kHz")
        if samples.size == 0:
            return np.zeros(0, dtype=np.float32)
        x48 = resample(samples.astype(np.float32), SAMPLE_RATE, SR).astype(np.float64)
        y = self.enhance48k(x48).astype(np.float32)
        out = resample(y, SR, SAMPLE_RATE)[: len(samples)]
        if len(out) < len(samples):
            out = np.pad(out, (0, len(samples) - len(out)))
        return np.ascontiguousarray(out, dtype=np.float32)
