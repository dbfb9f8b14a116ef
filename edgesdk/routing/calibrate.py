"""Fit, save and load the calibrated combiner: signals → P(the device's answer is right).

Why a logistic regression in numpy: it is a dot product at decision time (microseconds, no
dependency on the device), its JSON is a few kilobytes, and with per-kind interaction terms it
captures what matters here — the same log-prob means different things for a fact, a yes/no and
a sum. A GBM would fit the training questions more tightly but ships a bigger, more brittle
artefact for a gain we could not measure reliably on a few hundred questions.

Calibration: the regression's scores are cross-fitted (k folds, seeded) and a Platt scaling
(or isotonic, by choice) is fitted on those out-of-fold scores, so the shipped probabilities are
honest about unseen questions rather than the training ones. The file also keeps quantiles of
the out-of-fold confidences, from which the policy turns a target cloud share into a threshold,
and the skills' measured accuracy. Optional scorers for costlier signals (a hidden-state probe,
a peer model's answer) are stored beside the plain one, never instead of it, so a router that
lacks the costlier input still has a calibrated scorer to fall back on.

A calibration belongs to one model file: it records the model id and the GGUF's sha256, and
loading checks both (``CalibrationError`` otherwise).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import CalibrationError
from edgesdk.routing.history import OWN_FEATURES, AnswerHistory
from edgesdk.routing.metrics import FloatArray, auroc
from edgesdk.routing.neighbours import AnswerBank
from edgesdk.routing.plausibility import PLAUSIBILITY_FEATURE, SOFT_FEATURE, PlausibilityGraph

FORMAT_VERSION = 2
"""2: answer banks carry the rare-word index (``entities.py``); a format-1 file must be refit."""
CALIBRATION_DIR = Path(__file__).resolve().parent / "calibrations"
INLINE_BANK_MAX = 2000
"""Answer banks up to this many questions stay inside the calibration JSON."""


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


@dataclass(frozen=True, kw_only=True)
class Calibration:
    model_id: str
    model_sha256: str
    scorer: LinearScorer
    prior: LinearScorer | None
    skill_accuracy: float
    quantiles: tuple[float, ...]
    """101 quantiles of calibrated confidence over LLM-answered requests (out of fold)."""
    fit_info: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION
    probe: VectorProbe | None = None
    """Optional hidden-state probe; ``scorer_probe`` combines its logit with the signals."""
    scorer_probe: LinearScorer | None = None
    peer_model_id: str | None = None
    """The second local model whose answer ``scorer_peer`` expects (see ``routing/peer.py``)."""
    scorer_peer: LinearScorer | None = None
    quantiles_peer: tuple[float, ...] = ()
    """Like ``quantiles``, for the confidences of ``scorer_peer`` (out of fold)."""
    answer_bank: AnswerBank | None = None
    """Labelled-question neighbours (``routing/neighbours.py``); every scorer reads their
    ``nb_*`` features when it is set."""
    history: AnswerHistory | None = None
    """Which bank rows this model answered when fitted, whether right and (when shareable) its
    answer: the prior's ``prior_knn`` and every scorer's ``own_*`` signals
    (``routing/history.py``). Set only with ``answer_bank``."""
    skip_below: float | None = None
    """The prior below which the device skips local generation (``Router.skip_below``), chosen
    when fitted: the highest on ``fit.SKIP_GRID`` that would have skipped at most
    ``fit.SKIP_MAX_LOST`` of the answers the model got right (out of fold). ``None`` in files
    fitted before it: the router's ``DEFAULT_SKIP_BELOW``."""
    plausibility: PlausibilityGraph | None = None
    """Which names, actions and events belong together in the labelled plausibility sentences
    (``routing/plausibility.py``); every scorer reads its ``plaus_agree`` when it is set."""
    kinds: tuple[str, ...] = ()
    """The question kinds (``signals.KINDS``) the scorers were fitted on: those with enough
    LLM-answered examples. The router gives no confidence (fails safe) for any other kind.
    Empty in files fitted before this field existed: every kind is scored."""

    def fitted_on(self, kind: str) -> bool:
        """Whether the scorers were fitted on questions of ``kind`` (see ``kinds``)."""
        return not self.kinds or kind in self.kinds

    @property
    def wants_peer(self) -> bool:
        return self.peer_model_id is not None and self.scorer_peer is not None

    def threshold_for_share(self, share: float) -> float:
        """The confidence below which ``share`` of LLM-answered requests fall."""
        share = min(max(share, 0.0), 1.0)
        return float(np.interp(share * 100, np.arange(len(self.quantiles)), self.quantiles))

    def to_json(self) -> str:
        data = asdict(self)
        bank = self.answer_bank
        data["answer_bank"] = (None if bank is None else bank.to_dict() if bank.file is None
                               else {"file": bank.file, "sha256": bank.digest()})
        data["history"] = None if self.history is None else self.history.to_dict()
        data["plausibility"] = (None if self.plausibility is None
                                else self.plausibility.to_dict())
        if self.probe is not None:  # long vectors: keep the file small and diffable
            data["probe"] = {k: ([round(x, 6) for x in v] if isinstance(v, tuple) else v)
                             for k, v in data["probe"].items()}
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, bank_dirs: Sequence[Path] = ()
                  ) -> Calibration:
        """``bank_dirs``: where to look for an answer bank stored in its own file."""
        def scorer(d: Mapping[str, Any]) -> LinearScorer:
            return LinearScorer(
                features=tuple(d["features"]),
                interactions=tuple((str(a), str(b)) for a, b in d["interactions"]),
                mean=tuple(d["mean"]), scale=tuple(d["scale"]), weights=tuple(d["weights"]),
                bias=float(d["bias"]), platt=(float(d["platt"][0]), float(d["platt"][1])),
                isotonic_x=tuple(d.get("isotonic_x", ())),
                isotonic_y=tuple(d.get("isotonic_y", ())),
                low=tuple(d.get("low", ())), high=tuple(d.get("high", ())),
            )

        cal = cls(
            model_id=str(data["model_id"]), model_sha256=str(data["model_sha256"]),
            scorer=scorer(data["scorer"]),
            prior=scorer(data["prior"]) if data.get("prior") else None,
            skill_accuracy=float(data["skill_accuracy"]), quantiles=tuple(data["quantiles"]),
            fit_info=dict(data.get("fit_info", {})), format=int(data["format"]),
            probe=_probe(data["probe"]) if data.get("probe") else None,
            scorer_probe=scorer(data["scorer_probe"]) if data.get("scorer_probe") else None,
            peer_model_id=str(data["peer_model_id"]) if data.get("peer_model_id") else None,
            scorer_peer=scorer(data["scorer_peer"]) if data.get("scorer_peer") else None,
            quantiles_peer=tuple(data.get("quantiles_peer", ())),
            answer_bank=_bank(data["answer_bank"], bank_dirs) if data.get("answer_bank")
            else None,
            history=AnswerHistory.from_dict(data["history"]) if data.get("history") else None,
            plausibility=(PlausibilityGraph.from_dict(data["plausibility"])
                          if data.get("plausibility") else None),
            kinds=tuple(str(k) for k in data.get("kinds", ())),
            skip_below=(float(data["skip_below"]) if data.get("skip_below") is not None
                        else None),
        )
        if cal.history is not None:
            if cal.answer_bank is None:
                raise ValueError("it has an answer history but no answer bank")
            cal.history.check(cal.answer_bank)
        scorers = [s for s in (cal.scorer, cal.scorer_probe, cal.scorer_peer) if s is not None]

        def read(names: Sequence[str]) -> bool:
            return any(set(names) & set(s.features) for s in scorers)

        if read(OWN_FEATURES) and (cal.history is None or not cal.history.has_answers):
            raise ValueError("its scorer reads the model's own answers to similar questions "
                             "but its answer history stores none")
        if read((PLAUSIBILITY_FEATURE,)) and cal.plausibility is None:
            raise ValueError("its scorer reads plausibility verdicts but it stores no "
                             "plausibility graph")
        centroids = None if cal.plausibility is None else cal.plausibility.centroids
        if read((SOFT_FEATURE,)) and centroids is None:
            raise ValueError("its scorer reads soft plausibility verdicts but its plausibility "
                             "graph stores no group centroids")
        if centroids is not None and (cal.answer_bank is None
                                      or cal.answer_bank.embedder_id != centroids.embedder_id):
            raise ValueError(f"its plausibility centroids were embedded with "
                             f"'{centroids.embedder_id}', not with its answer bank's embedder")
        return cal


def _bank(d: Mapping[str, Any], dirs: Sequence[Path]) -> AnswerBank:
    if "file" not in d:
        return AnswerBank.from_dict(d)
    found = next((p / d["file"] for p in dirs if (p / d["file"]).exists()), None)
    if found is None:
        raise ValueError(f"its answer bank {d['file']} is missing (looked in "
                         f"{', '.join(str(p) for p in dirs) or 'nowhere'})")
    stat = found.stat()
    return _load_bank(found.resolve(), stat.st_mtime_ns, stat.st_size, str(d["sha256"]))


@lru_cache(maxsize=4)
def _load_bank(path: Path, mtime_ns: int, size: int, sha256: str) -> AnswerBank:
    """One read (~60 ms) per bank file and version: every model's calibration shares the
    bank, so a second router, or a reloaded one, reuses it (nothing mutates a bank)."""
    bank = AnswerBank.load_npz(path)
    digest = bank.digest()
    if digest != sha256:
        raise ValueError(f"its answer bank {path} does not match (sha256 of the content "
                         f"{digest[:12]}…, expected {sha256[:12]}…)")
    return bank


def _probe(d: Mapping[str, Any]) -> VectorProbe:
    return VectorProbe(mean=tuple(d["mean"]), scale=tuple(d["scale"]),
                       weights=tuple(d["weights"]), bias=float(d["bias"]))


def save(calibration: Calibration, path: Path | None = None) -> Path:
    """Write the calibration JSON; a large answer bank goes to its own ``.npz`` beside it
    (named by its content digest, so every model fitted on the same labelled questions shares
    one file; not written again when the shipped directory already has it)."""
    path = path or CALIBRATION_DIR / f"{calibration.model_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    bank = calibration.answer_bank
    if bank is not None and (bank.file is not None or len(bank.answers) > INLINE_BANK_MAX):
        name = f"answer-bank-{bank.digest()[:12]}.npz"
        if not (path.parent / name).exists() and not (CALIBRATION_DIR / name).exists():
            bank.save_npz(path.parent / name)
        calibration = replace(calibration, answer_bank=replace(bank, file=name))
    path.write_text(calibration.to_json() + "\n", encoding="utf-8")
    return path


def user_path(model_id: str, home: Path) -> Path:
    """Where ``edgesdk router fit`` writes a calibration fitted on the user's own data, and
    where ``load`` looks before the shipped one: ``$EDGESDK_HOME/calibrations/<model_id>.json``
    (never inside the installed package)."""
    return home / "calibrations" / f"{model_id}.json"


def resolve(model_id: str, *, home: Path | None = None) -> Path:
    """The file ``load`` reads without an explicit path: the user's fitted calibration under
    ``home`` (default ``$EDGESDK_HOME``) if it exists, else the shipped one."""
    from edgesdk.config import load_settings

    mine = user_path(model_id, home if home is not None else load_settings().home)
    return mine if mine.exists() else CALIBRATION_DIR / f"{model_id}.json"


def question_embedder(model_id: str, *, home: Path | None = None) -> str | None:
    """The question embedder the answer bank of ``model_id``'s calibration (as ``load`` would
    pick it) was fitted with, read from the file's ``fit_info`` without loading the bank, so a
    profile can budget its memory before anything loads; ``None`` without a calibration or a
    bank."""
    return _bank_embedder_of(resolve(model_id, home=home))


def shipped_question_embedder(model_id: str) -> str | None:
    """Like ``question_embedder``, for the calibration shipped with the package (what
    ``edgesdk router fit --bank-embedder auto`` follows)."""
    return _bank_embedder_of(CALIBRATION_DIR / f"{model_id}.json")


def _bank_embedder_of(path: Path) -> str | None:
    try:
        bank = json.loads(path.read_text(encoding="utf-8"))["fit_info"]["answer_bank"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    value = bank.get("embedder_id") if isinstance(bank, dict) else None
    return str(value) if value else None


def load(model_id: str, *, model_sha256: str | None = None, path: Path | None = None,
         home: Path | None = None) -> Calibration:
    """The calibration of ``model_id``: ``path`` if given, else the one fitted on the user's
    own data under ``home`` (default ``$EDGESDK_HOME``) if there is one, else the shipped one.
    Checks model id, model file and format."""
    path = path or resolve(model_id, home=home)
    fix = f"Fit one with: edgesdk router fit --dataset TRAIN.jsonl --model {model_id}"
    if not path.exists():
        raise CalibrationError(f"no router calibration for model '{model_id}' at {path}. {fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data.get("format") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:  # before parsing: older formats may not parse at all
            raise CalibrationError(f"router calibration {path} has format {version}, this "
                                   f"edgesdk reads format {FORMAT_VERSION}. {fix}")
        cal = Calibration.from_dict(data, bank_dirs=(path.parent, CALIBRATION_DIR))
    except (ValueError, KeyError, TypeError) as exc:
        raise CalibrationError(f"router calibration {path} is unreadable ({exc}). {fix}") from exc
    if cal.model_id != model_id:
        raise CalibrationError(f"router calibration {path} was fitted for '{cal.model_id}', "
                               f"not '{model_id}'. {fix}")
    if model_sha256 is not None and cal.model_sha256 != model_sha256:
        raise CalibrationError(f"router calibration {path} was fitted on another file of "
                               f"'{model_id}' (sha256 {cal.model_sha256[:12]}…, the model store "
                               f"has {model_sha256[:12]}…). {fix}")
    return cal


# --------------------------------------------------------------------------- fitting


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


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
) -> tuple[LinearScorer, FloatArray]:
    """Fit a scorer; returns it and its calibrated out-of-fold probabilities."""
    x = _design(rows, features, interactions)
    y = np.asarray(labels, dtype=np.float64)
    mean, scale, w, b, oof = _standardised_logistic(x, y, l2=l2, folds=folds, seed=seed)
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
              grid: Sequence[float] = (0.3, 1.0, 3.0, 10.0, 30.0), seed: int = 0) -> float:
    """The L2 strength with the best cross-validated AUROC (train data only)."""
    best, best_auc = grid[0], -1.0
    for l2 in grid:
        _, probs = fit_scorer(rows, labels, features=features, interactions=interactions, l2=l2,
                              seed=seed)
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


def _standardised_logistic(x: FloatArray, y: FloatArray, *, l2: float, folds: int, seed: int
                           ) -> tuple[FloatArray, FloatArray, FloatArray, float, FloatArray]:
    """L2 logistic regression on standardised columns: (mean, scale, weights, bias) fitted on
    all rows, plus out-of-fold logits from ``folds`` seeded folds (for calibration on top)."""
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    oof = np.zeros(len(y))
    for k in range(folds):
        tr, te = fold != k, fold == k
        mean, scale = x[tr].mean(0), x[tr].std(0) + 1e-6
        w, b = fit_logistic((x[tr] - mean) / scale, y[tr], l2=l2)
        oof[te] = ((x[te] - mean) / scale) @ w + b
    mean, scale = x.mean(0), x.std(0) + 1e-6
    w, b = fit_logistic((x - mean) / scale, y, l2=l2)
    return mean, scale, w, b, oof


def quantiles_of(probs: FloatArray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.quantile(probs, np.linspace(0, 1, 101)))
