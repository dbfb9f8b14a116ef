"""Router quality metrics on (confidence, correct) pairs: AUROC, ECE, Brier, cloud-share curves.

Pure numpy and shared by the fit (model selection on cross-validated scores) and by the
evaluation report, so both measure the same thing the same way.

``cloud_share_at(q)`` answers the product question: escalating the lowest-confidence requests
first, what share must go to the cloud for the system to reach ``q`` × the cloud-only quality?
The cloud is taken as right unless per-item cloud correctness says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def auroc(scores: Sequence[float] | FloatArray, labels: Sequence[bool] | FloatArray) -> float:
    """Area under the ROC curve (ties count half); ``nan`` if one class is absent."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    # average 1-based ranks, ties sharing the mean of their positions (Mann-Whitney U)
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = mean_rank[inverse]
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def ece(probs: Sequence[float] | FloatArray, labels: Sequence[bool] | FloatArray,
        bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width confidence bins."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(labels, dtype=np.float64)
    if len(p) == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return float(total / len(p))


def reliability(probs: Sequence[float] | FloatArray, labels: Sequence[bool] | FloatArray,
                bins: int = 10) -> list[dict[str, float]]:
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(labels, dtype=np.float64)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            rows.append({"lo": b / bins, "hi": (b + 1) / bins, "n": float(mask.sum()),
                         "confidence": float(p[mask].mean()), "accuracy": float(y[mask].mean())})
    return rows


def brier(probs: Sequence[float] | FloatArray, labels: Sequence[bool] | FloatArray) -> float:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def quality_curve(scores: Sequence[float] | FloatArray, labels: Sequence[bool] | FloatArray,
                  cloud: Sequence[bool] | FloatArray | None = None
                  ) -> tuple[FloatArray, FloatArray]:
    """(cloud share, system accuracy) escalating the lowest scores first, from 0 to all.

    Ties are broken towards escalating the items listed first (stable), so a constant score
    behaves like a random order over a shuffled dataset.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    c = np.ones_like(y) if cloud is None else np.asarray(cloud, dtype=np.float64)
    n = len(s)
    order = np.argsort(s, kind="mergesort")
    gain = (c - y)[order]
    acc = (y.sum() + np.concatenate([[0.0], np.cumsum(gain)])) / max(n, 1)
    share = np.arange(n + 1, dtype=np.float64) / max(n, 1)
    return share, acc


def cloud_share_at(scores: Sequence[float] | FloatArray, labels: Sequence[bool] | FloatArray,
                   cloud: Sequence[bool] | FloatArray | None = None, *,
                   quality: float = 0.95) -> float:
    share, acc = quality_curve(scores, labels, cloud)
    c = np.ones(len(share) - 1) if cloud is None else np.asarray(cloud, dtype=np.float64)
    target = quality * (c.mean() if len(c) else 1.0)
    hit = np.flatnonzero(acc >= target - 1e-12)
    return float(share[hit[0]]) if hit.size else 1.0


def oracle_cloud_share_at(labels: Sequence[bool] | FloatArray,
                          cloud: Sequence[bool] | FloatArray | None = None, *,
                          quality: float = 0.95) -> float:
    y = np.asarray(labels, dtype=np.float64)
    c = np.ones_like(y) if cloud is None else np.asarray(cloud, dtype=np.float64)
    # escalate where the cloud gains most first: wrong-local & right-cloud, then ties.
    return cloud_share_at(y - c, y, c, quality=quality)


def random_cloud_share_at(labels: Sequence[bool] | FloatArray,
                          cloud: Sequence[bool] | FloatArray | None = None, *,
                          quality: float = 0.95, seed: int = 0, repeats: int = 50) -> float:
    y = np.asarray(labels, dtype=np.float64)
    rng = np.random.default_rng(seed)
    shares = [cloud_share_at(rng.random(len(y)), y, cloud, quality=quality)
              for _ in range(repeats)]
    return float(np.mean(shares))


def blind_cloud_share_at(labels: Sequence[bool] | FloatArray, blind: Sequence[bool] | FloatArray,
                         cloud: Sequence[bool] | FloatArray | None = None, *,
                         quality: float = 0.95, seed: int = 0, repeats: int = 200) -> float:
    """The cloud share of the best router that knows nothing about the ``blind`` items.

    It is perfect everywhere else and at chance inside the blind group: it escalates every
    other item the cloud would fix, then blind items in random order, then the rest — the
    best order when the blind items carry no signal. Averaged over ``repeats`` orders. Divided
    by the oracle's share this is the floor of the share ratio for a device whose models are
    at chance on that group: no confidence signal of theirs can go below it.
    """
    y = np.asarray(labels, dtype=np.float64)
    c = np.ones_like(y) if cloud is None else np.asarray(cloud, dtype=np.float64)
    b = np.asarray(blind, dtype=bool)
    gain = c - y  # > 0: the cloud fixes it; escalate first
    rng = np.random.default_rng(seed)
    shares = []
    for _ in range(repeats):
        # known items ranked by gain like the oracle's (fixable → -1, the rest ≥ 1), the blind
        # ones in between in random order
        scores = np.where(b, rng.random(len(y)) - 0.5, 1.0 - 2.0 * gain)
        shares.append(cloud_share_at(scores, y, c, quality=quality))
    return float(np.mean(shares))


def bootstrap_interval(statistic: Callable[[NDArray[np.intp]], float], n: int, *,
                       rounds: int = 1000, seed: int = 0, level: float = 0.95
                       ) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n`` items resampled with
    replacement; resamples where it is undefined (``nan``: one class absent) are skipped.

    Why: a 590-question test split moves AUROC by about ±0.02 and the share ratio by more, so a
    figure 0.002 under a target says little on its own; the report carries the interval."""
    if n == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, n)) for _ in range(rounds)]
    finite = np.array([v for v in values if math.isfinite(v)], dtype=np.float64)
    if not len(finite):
        return (math.nan, math.nan)
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return (float(lo), float(hi))
