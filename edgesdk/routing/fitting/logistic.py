"""The numerics of fitting: penalised logistic regression, Platt and isotonic calibration,
cross-fitted out-of-fold scores, and the L2 choice.

Calibration is honest about unseen questions: the regression's scores are cross-fitted (k
seeded folds) and the Platt (or isotonic) map is fitted on those out-of-fold scores, never on
the training fit's own. ``centred=False`` columns (a lookup's gated features) keep mean 0, so
their zero means "no contribution" at run time (``scorer.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict

import numpy as np

from edgesdk.routing.fitting.metrics import FloatArray, auroc
from edgesdk.routing.scorer import LinearScorer, VectorProbe


def _sigmoid_np(z: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))
    return out


def fit_logistic(x: FloatArray, y: FloatArray, *, l2: float, iters: int = 50
                 ) -> tuple[FloatArray, float]:
    """L2-penalised logistic regression by Newton's method (bias unpenalised)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    pen = np.full(d + 1, l2)
    pen[-1] = 0.0
    for _ in range(iters):
        p = _sigmoid_np(xb @ w)
        grad = xb.T @ (p - y) + pen * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_platt(z: FloatArray, y: FloatArray) -> tuple[float, float]:
    w, b = fit_logistic(z[:, None], y, l2=1e-3)
    return float(w[0]), b


def fit_isotonic(z: FloatArray, y: FloatArray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Pool-adjacent-violators on (z, y); returns breakpoints for ``np.interp``."""
    order = np.argsort(z, kind="mergesort")
    zs, ys = z[order], y[order]
    blocks: list[list[float]] = []  # [sum_y, count, z_mean_sum]
    for zi, yi in zip(zs, ys, strict=True):
        blocks.append([float(yi), 1.0, float(zi)])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c, zz = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
            blocks[-1][2] += zz
    xs = tuple(b[2] / b[1] for b in blocks)
    # shrink block means towards 0.5 a little so tiny blocks never claim certainty
    smoothed = np.maximum.accumulate([(b[0] + 0.5) / (b[1] + 1.0) for b in blocks])
    return xs, tuple(float(v) for v in smoothed)


def _design(rows: Sequence[Mapping[str, float]], features: Sequence[str],
            interactions: Sequence[tuple[str, str]]) -> FloatArray:
    probe = LinearScorer(features=tuple(features), interactions=tuple(interactions), mean=(),
                         scale=(), weights=(), bias=0.0)
    x = np.array([probe.design(r) for r in rows], dtype=np.float64)
    return np.nan_to_num(x, nan=0.0)


def fit_scorer(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    *,
    features: Sequence[str],
    interactions: Sequence[tuple[str, str]] = (),
    l2: float = 1.0,
    folds: int = 5,
    seed: int = 0,
    method: str = "platt",
    uncentred: Sequence[str] = (),
    groups: Sequence[int] | None = None,
) -> tuple[LinearScorer, FloatArray]:
    """Fit a scorer; returns it and its calibrated out-of-fold probabilities. ``uncentred``:
    features whose columns keep mean 0 (a lookup's gated features)."""
    x = _design(rows, features, interactions)
    y = np.asarray(labels, dtype=np.float64)
    keep = np.array([f in set(uncentred) for f in features] + [False] * len(interactions))
    mean, scale, w, b, oof = _standardised_logistic(x, y, l2=l2, folds=folds, seed=seed,
                                                    uncentred=keep, groups=groups)
    scorer = LinearScorer(features=tuple(features), interactions=tuple(interactions),
                          mean=tuple(mean.tolist()), scale=tuple(scale.tolist()),
                          weights=tuple(w.tolist()), bias=b,
                          low=tuple(x.min(axis=0).tolist()), high=tuple(x.max(axis=0).tolist()))
    if method == "isotonic":
        ix, iy = fit_isotonic(oof, y)
        scorer = LinearScorer(**{**asdict(scorer), "isotonic_x": ix, "isotonic_y": iy})
        probs = np.interp(oof, ix, iy)
    else:
        a, c = fit_platt(oof, y)
        scorer = LinearScorer(**{**asdict(scorer), "platt": (a, c)})
        probs = _sigmoid_np(a * oof + c)
    return scorer, probs


def choose_l2(rows: Sequence[Mapping[str, float]], labels: Sequence[bool], *,
              features: Sequence[str], interactions: Sequence[tuple[str, str]],
              grid: Sequence[float] = (0.3, 1.0, 3.0, 10.0, 30.0), seed: int = 0,
              uncentred: Sequence[str] = ()) -> float:
    """The L2 strength with the best cross-validated AUROC (train data only)."""
    best, best_auc = grid[0], -1.0
    for l2 in grid:
        _, probs = fit_scorer(rows, labels, features=features, interactions=interactions, l2=l2,
                              seed=seed, uncentred=uncentred)
        auc = auroc(probs, labels)
        if auc > best_auc + 1e-4:
            best, best_auc = l2, auc
    return best


def fit_probe(vectors: FloatArray, labels: Sequence[bool], *, l2: float = 300.0,
              folds: int = 5, seed: int = 0) -> tuple[VectorProbe, FloatArray]:
    """A ridge-penalised logistic probe and its out-of-fold logits (for the combiner)."""
    y = np.asarray(labels, dtype=np.float64)
    mean, scale, w, b, oof = _standardised_logistic(vectors, y, l2=l2, folds=folds, seed=seed)
    probe = VectorProbe(mean=tuple(mean.tolist()), scale=tuple(scale.tolist()),
                        weights=tuple(w.tolist()), bias=b)
    return probe, oof


def _standardised_logistic(x: FloatArray, y: FloatArray, *, l2: float, folds: int, seed: int,
                           uncentred: np.ndarray | None = None,
                           groups: Sequence[int] | None = None,
                           ) -> tuple[FloatArray, FloatArray, FloatArray, float, FloatArray]:
    """L2 logistic regression on standardised columns: (mean, scale, weights, bias) fitted on
    all rows, plus out-of-fold logits (for calibration on top) from ``folds`` seeded folds, or
    one fold per group with ``groups`` (a source: the out-of-fold scores are then
    leave-one-source-out). ``uncentred``: a mask of columns scaled but not centred."""
    if groups is not None:
        fold = np.asarray(groups, dtype=np.intp)
        folds = int(fold.max()) + 1
    else:
        fold = np.random.default_rng(seed).permutation(len(y)) % folds
    oof = np.zeros(len(y))

    def centre(rows: FloatArray) -> FloatArray:
        mean: FloatArray = rows.mean(0)
        if uncentred is not None and uncentred.any():
            mean = np.where(uncentred, 0.0, mean).astype(np.float64)
        return mean

    for k in range(folds):
        tr, te = fold != k, fold == k
        if not te.any():
            continue
        mean, scale = centre(x[tr]), x[tr].std(0) + 1e-6
        w, b = fit_logistic((x[tr] - mean) / scale, y[tr], l2=l2)
        oof[te] = ((x[te] - mean) / scale) @ w + b
    mean, scale = centre(x), x.std(0) + 1e-6
    w, b = fit_logistic((x - mean) / scale, y, l2=l2)
    return mean, scale, w, b, oof


def quantiles_of(probs: FloatArray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.quantile(probs, np.linspace(0, 1, 101)))
