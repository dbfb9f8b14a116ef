"""The scorer: a calibrated linear combination of named features (run time only).

Why a logistic regression: it is a dot product at decision time (microseconds, no dependency
on the device), its JSON is a few kilobytes, and with per-kind interaction terms it captures
what matters here: the same log-prob means different things for a fact, a yes/no and a sum. A
GBM would fit the training questions more tightly but ships a bigger, more brittle artefact,
and what it would fit tighter is the training sources, which is what the router must not do.

Columns of a lookup signal (``signal.py``: gated by closeness to its data) are fitted without
centring (their ``mean`` is 0), so a request far from the data, whose gated features are 0,
gets exactly the generic part of the score. Fitting lives in ``routing/fitting/``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, kw_only=True)
class LinearScorer:
    """Clip to the training range → standardise → logistic regression → Platt (``a·z + b``)
    or isotonic (breakpoints).

    The clip (``low``/``high``: each design column's minimum and maximum over the rows it was
    fitted on) keeps a linear model from extrapolating: Gemma's calibration scored the
    one-token answer "cheese" at log-prob −4 to *Is the moon made of cheese?* — lower than
    any yes/no answer it was fitted on — 0.79 without it (its weight on yes/no questions' mean
    log-prob is negative, so unseen lows read as confidence) and 0.10 with it. ``nan`` still
    passes through (fail safe)."""

    features: tuple[str, ...]
    interactions: tuple[tuple[str, str], ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    platt: tuple[float, float] = (1.0, 0.0)
    isotonic_x: tuple[float, ...] = ()
    isotonic_y: tuple[float, ...] = ()
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    """Per design column, the training range (empty: no clip, as in files fitted before it)."""

    def __post_init__(self) -> None:
        columns = len(self.features) + len(self.interactions)
        if (self.low or self.high) and not len(self.low) == len(self.high) == columns:
            raise ValueError(f"scorer: {len(self.low)} lows and {len(self.high)} highs for "
                             f"{columns} columns")

    def design(self, feats: Mapping[str, float]) -> list[float]:
        row = [feats.get(n, math.nan) for n in self.features]
        row += [feats.get(a, math.nan) * feats.get(b, math.nan) for a, b in self.interactions]
        return row

    def logit(self, feats: Mapping[str, float]) -> float:
        row = self.design(feats)
        if self.low:
            row = [lo if x < lo else hi if x > hi else x  # nan fails both: kept
                   for x, lo, hi in zip(row, self.low, self.high, strict=True)]
        z = self.bias
        for x, m, s, w in zip(row, self.mean, self.scale, self.weights, strict=True):
            z += w * (x - m) / s
        return z

    def calibrate_logit(self, z: float) -> float:
        if self.isotonic_x:
            return float(np.interp(z, self.isotonic_x, self.isotonic_y))
        a, b = self.platt
        return _sigmoid(a * z + b)

    def prob(self, feats: Mapping[str, float]) -> float:
        return self.calibrate_logit(self.logit(feats))


@dataclass(frozen=True, kw_only=True)
class VectorProbe:
    """Logistic probe on a hidden-state vector; its logit is the ``hs_logit`` signal."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def logit(self, vector: Sequence[float]) -> float:
        x = (np.asarray(vector, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(x @ np.asarray(self.weights) + self.bias)



def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def scorer_from_dict(d: Mapping[str, Any]) -> LinearScorer:
    return LinearScorer(
        features=tuple(d["features"]),
        interactions=tuple((str(a), str(b)) for a, b in d["interactions"]),
        mean=tuple(d["mean"]), scale=tuple(d["scale"]), weights=tuple(d["weights"]),
        bias=float(d["bias"]), platt=(float(d["platt"][0]), float(d["platt"][1])),
        isotonic_x=tuple(d.get("isotonic_x", ())), isotonic_y=tuple(d.get("isotonic_y", ())),
        low=tuple(d.get("low", ())), high=tuple(d.get("high", ())))
