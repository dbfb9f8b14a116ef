"""DeepFilterNet3's signal path (no model needed): ERB bands, STFT round trip, look-ahead shift."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgesdk.local.deepfilter import FFT, HOP, DeepFilterNet3, erb_widths
from edgesdk.local.runtimes import TensorSpec


class NullModel:
    path = Path("null.onnx")
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()

    def run(self, feeds: object) -> dict[str, np.ndarray]:
        raise AssertionError("not used")

    def reset(self) -> None:
        return None


def _dfn() -> DeepFilterNet3:
    return DeepFilterNet3(encoder=NullModel(), erb_decoder=NullModel(), df_decoder=NullModel())


def test_erb_bands_cover_every_bin_like_libdf() -> None:
    widths = erb_widths()
    assert len(widths) == 32 and sum(widths) == FFT // 2 + 1
    assert widths[:13] == [2] * 13 and widths[-1] == 67  # min 2 bins, widening upwards


def test_stft_round_trip_is_exact_after_the_window_delay() -> None:
    dfn = _dfn()
    x = np.random.default_rng(0).normal(0, 0.1, 48_000)
    spec = dfn._analysis(np.concatenate([x, np.zeros(FFT)]))
    assert spec.shape == ((48_000 + FFT) // HOP, FFT // 2 + 1)
    y = dfn._synthesis(spec)[FFT - HOP:FFT - HOP + len(x)]
    assert np.abs(y - x).max() < 1e-5


def test_features_shapes_and_lookahead_shift() -> None:
    dfn = _dfn()
    spec = dfn._analysis(np.random.default_rng(1).normal(0, 0.1, 9_600))
    erb, cplx = dfn._features(spec)
    assert erb.shape == (20, 32) and cplx.shape == (2, 20, 96)
    x = np.arange(5.0)
    assert DeepFilterNet3._shift(x, 0).tolist() == [2.0, 3.0, 4.0, 0.0, 0.0]
