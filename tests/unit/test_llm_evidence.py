"""Per-token evidence math (both backends, every C kernel) and the runtime's streaming helpers."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from edgesdk.local.evidence import Backend, c_kernel_available
from edgesdk.local.llm import EvidenceMeter, GenerationStream, _common_prefix, _find_stop
from edgesdk.types import Generation

BACKENDS: list[Backend] = ["c", "numpy"]


def test_the_c_kernel_is_built() -> None:
    # setup builds it (a C compiler is installed); without it every token pays ~3 % more
    assert c_kernel_available(), "edgesdk.local._evidence missing: run pip install -e ."


@pytest.mark.parametrize("backend", BACKENDS)
def test_evidence_matches_a_naive_softmax(backend: Backend) -> None:
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal(50_003) * 3).astype(np.float32)  # odd size: the scalar tail
    token = 123
    lp, entropy, margin = EvidenceMeter(logits.size, backend=backend).measure(logits, token)
    x = logits.astype(np.float64)
    p = np.exp(x - x.max())
    p /= p.sum()
    assert abs(lp - np.log(p[token])) < 1e-4
    assert abs(entropy - float(-(p * np.log(p)).sum())) < 1e-3
    top2 = np.sort(x)[-2:]
    assert abs(margin - (top2[1] - top2[0])) < 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
def test_evidence_on_a_peaked_distribution(backend: Backend) -> None:
    logits = np.full(1000, -10.0, dtype=np.float32)
    logits[7] = 10.0
    lp, entropy, margin = EvidenceMeter(1000, backend=backend).measure(logits, 7)
    assert lp > -1e-3 and entropy < 1e-3 and abs(margin - 20.0) < 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
def test_masked_minus_infinity_logits_add_nothing(backend: Backend) -> None:
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal(4099) * 2).astype(np.float32)
    masked = logits.copy()
    masked[::3] = -np.inf
    meter = EvidenceMeter(logits.size, backend=backend)
    lp, entropy, margin = meter.measure(masked, 1)
    kept = np.delete(logits, np.s_[::3]).astype(np.float64)
    p = np.exp(kept - kept.max())
    p /= p.sum()
    assert np.isfinite([lp, entropy, margin]).all()
    assert abs(entropy - float(-(p * np.log(p)).sum())) < 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_pointer_and_array_paths_agree(backend: Backend) -> None:
    logits = (np.random.default_rng(3).standard_normal(70_000) * 4).astype(np.float32)
    meter = EvidenceMeter(logits.size, backend=backend)
    pointer = logits.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    assert meter.measure_pointer(pointer, 5) == meter.measure(logits, 5)
    top = int(logits.argmax())
    assert meter.measure_pointer(pointer, top, top=top) == meter.measure(logits, top)


def test_bad_rows_and_tokens_are_refused() -> None:
    meter = EvidenceMeter(10)
    with pytest.raises(ValueError, match="float32"):
        meter.measure(np.zeros(10, dtype=np.float64), 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside"):
        meter.measure(np.zeros(10, dtype=np.float32), 10)


_KERNEL_PROBE = """
import json, numpy as np
from edgesdk.local.evidence import EvidenceMeter
rng = np.random.default_rng(4)
rows = [(rng.standard_normal(262_147) * s).astype(np.float32) for s in (1.0, 5.0, 30.0)]
meter = EvidenceMeter(262_147, backend="c")
print(json.dumps({"kernel": meter.kernel, "values": [meter.measure(r, 9) for r in rows]}))
"""


@pytest.mark.parametrize("cap", ["generic", "avx2", "avx512"])
def test_every_c_kernel_matches_float64(cap: str) -> None:
    """Each vector width this CPU runs (capped by EDGESDK_EVIDENCE_ISA) against float64 math."""
    if not c_kernel_available():
        pytest.skip("C kernel not built")
    env = {**os.environ, "EDGESDK_EVIDENCE_ISA": cap}
    out = subprocess.run([sys.executable, "-c", _KERNEL_PROBE], env=env, check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out)
    rng = np.random.default_rng(4)
    for scale, (lp, entropy, _margin) in zip((1.0, 5.0, 30.0), result["values"]):
        x = (rng.standard_normal(262_147) * scale).astype(np.float32).astype(np.float64)
        p = np.exp(x - x.max())
        p /= p.sum()
        assert abs(lp - np.log(p[9])) < 1e-4, result["kernel"]
        assert abs(entropy - float(-(p * np.log(p, where=p > 0, out=np.zeros_like(p))).sum())
                   ) < 1e-3, result["kernel"]


def test_stop_search_and_prefix() -> None:
    assert _find_stop("Paris\nQ:", ("\n", "Q:"), 0) == 5
    assert _find_stop("Paris", ("\n",), 0) is None
    assert _common_prefix([1, 2, 3, 4], [1, 2, 9]) == 2
    assert _common_prefix([], [1]) == 0


def test_generation_stream_returns_the_final_generation() -> None:
    gen = Generation(text="ab", model_id="m", prompt_tokens=1, completion_tokens=2,
                     finish_reason="stop")
    stream = GenerationStream(iter(["a", "b", gen]))
    assert list(stream) == ["a", "b"]
    assert stream.generation == gen


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_logits_take_the_shifted_path_and_agree(backend: Backend) -> None:
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal(5000) * 3).astype(np.float32)
    meter = EvidenceMeter(logits.size, backend=backend)
    small = meter.measure(logits, 10)
    big = meter.measure(logits + 200.0, 10)  # would overflow exp without the shift
    assert all(abs(a - b) < 1e-3 for a, b in zip(small, big))
    top = int(logits.argmax())
    assert meter.measure(logits, top, top=top) == meter.measure(logits, top)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_all_nan_row_gives_nan_evidence_not_a_crash(backend: Backend) -> None:
    # the router treats non-finite evidence as missing and fails safe (escalates)
    lp, _entropy, _margin = EvidenceMeter(100, backend=backend).measure(
        np.full(100, np.nan, dtype=np.float32), 3)
    assert not np.isfinite(lp)
