"""Per-token evidence math and the streaming helpers of the llama.cpp runtime (no model)."""

from __future__ import annotations

import numpy as np

from edgesdk.local.llm import EvidenceMeter, GenerationStream, _common_prefix, _find_stop
from edgesdk.types import Generation


def test_evidence_matches_a_naive_softmax() -> None:
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal(50_000) * 3).astype(np.float32)
    token = 123
    lp, entropy, margin = EvidenceMeter(logits.size).measure(logits, token)
    x = logits.astype(np.float64)
    p = np.exp(x - x.max())
    p /= p.sum()
    assert abs(lp - np.log(p[token])) < 1e-4
    assert abs(entropy - float(-(p * np.log(p)).sum())) < 1e-3
    top2 = np.sort(x)[-2:]
    assert abs(margin - (top2[1] - top2[0])) < 1e-5


def test_evidence_on_a_peaked_distribution() -> None:
    logits = np.full(1000, -10.0, dtype=np.float32)
    logits[7] = 10.0
    lp, entropy, margin = EvidenceMeter(1000).measure(logits, 7)
    assert lp > -1e-3 and entropy < 1e-3 and abs(margin - 20.0) < 1e-5


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


def test_large_logits_take_the_shifted_path_and_agree() -> None:
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal(5000) * 3).astype(np.float32)
    meter = EvidenceMeter(logits.size)
    small = meter.measure(logits, 10)
    big = meter.measure(logits + 200.0, 10)  # would overflow exp without the shift
    assert all(abs(a - b) < 1e-3 for a, b in zip(small, big))
    top = int(logits.argmax())
    assert meter.measure(logits, top, top=top) == meter.measure(logits, top)
