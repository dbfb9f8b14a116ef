"""From labelled device-path outcomes to a ``Calibration``: the modelling choices live here.

The rule is out-of-distribution honesty. A router is used on questions from nowhere near its
training data, so when the labelled rows come from several sources (TriviaQA, HaluEval, GSM8K,
our natural-wording and Chinese items, …) the fit is judged the way it will be used:

- the out-of-fold scores are **leave-one-source-out** (one fold per source): the Platt map is
  fitted on scores of questions whose source the scorer never saw, so the shipped
  probabilities are calibrated for the next source, not the training ones;
- the L2 strength and whether the per-kind interactions are used are chosen by the mean
  per-source AUROC of those scores (``choose_recipe``), not by random folds, which reward
  learning each source's quirks;
- lookups are gated by closeness to their data (``signals/neighbours.py``) and their columns
  uncentred, so far from the data they add nothing.

With fewer than ``MIN_SOURCES`` sources it falls back to seeded random folds. Inputs are plain
values (``signal.LabelledRow``), so the evaluation harness, the CLI and the tests fit alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from edgesdk.errors import CalibrationError
from edgesdk.routing.calibration import Calibration, ScorerEntry
from edgesdk.routing.fitting.logistic import fit_scorer, quantiles_of
from edgesdk.routing.fitting.metrics import FloatArray, auroc, ece
from edgesdk.routing.kinds import KINDS, question_kind
from edgesdk.routing.signal import FitData, LabelledRow, Signal, signal_type
from edgesdk.routing.signals import GENERIC, evidence, percepts, surface
from edgesdk.routing.signals.surface import question_features

INTERACT_WITH = ("lp_mean", "lp_min", "lp_first", "ent_first", "mg_first", "n_tokens",
                 "copy_ratio", "ans_words", "truncated")
INTERACT_KINDS = ("fact", "yes_no", "math_word", "arithmetic")
CORE = ("lp_mean", "lp_min", "lp_p10", "lp_first", "ent_mean", "mg_mean", "mg_min",
        "n_tokens", "truncated", "empty", "copy_ratio", "ans_number", "ans_yesno", "ans_zh",
        "q_zh", "q_anaphora", "n_percepts", "percept_min", "percept_mean")
"""The generic features a compact recipe keeps (with the kind indicators and every lookup or
optional feature): the per-token evidence and the few surface facts that change its meaning.
The fit chooses it over all features when it ranks left-out sources better."""
MINIMAL = ("lp_mean", "lp_min", "q_zh")
"""The smallest recipe: the two naive log-prob statistics per kind (and the language), which
a left-out source's own best naive signal is one of."""
L2_GRID = (1.0, 10.0, 100.0)
PRIOR_L2 = 3.0
MIN_KIND_SUPPORT = 20
"""LLM-answered examples a question kind needs before the router is fitted (and trusted) on
it: about what one weight (its indicator) needs."""
MIN_INTERACTION_SUPPORT = 100
"""Examples a kind needs for its interactions (nine weights); below, only its indicator."""
MIN_SOURCES = 3
MIN_CLASS = 5
"""Right and wrong answers a source needs before its AUROC counts in the recipe choice."""
SKIP_GRID = tuple(i / 100 for i in range(1, 11))
SKIP_MAX_LOST = 0.01
"""Skipping generation may cost at most this share of the answers the model gets right."""


_GENERIC_FEATURES = frozenset((*evidence.FEATURES, *surface.FEATURES, *percepts.FEATURES))


def _supported(names: Sequence[Any], kinds: Sequence[str]) -> tuple[Any, ...]:
    """``names`` (features or interaction pairs) without those of a kind not in ``kinds``."""
    dropped = {f"kind_{k}" for k in KINDS if k not in kinds}
    return tuple(n for n in names
                 if not dropped.intersection((n,) if isinstance(n, str) else n))


def default_signals(*, embed: bool, peer: bool = False, probe: bool = False
                    ) -> tuple[str, ...]:
    return (*GENERIC, *(("neighbours",) if embed else ()), *(("peer",) if peer else ()),
            *(("probe",) if probe else ()))


def per_source_auroc(probs: Sequence[float] | FloatArray, labels: Sequence[bool],
                     sources: Sequence[str]) -> dict[str, float]:
    """AUROC of ``probs`` within each source with at least ``MIN_CLASS`` of each label."""
    out: dict[str, float] = {}
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(probs, dtype=np.float64)
    src = np.asarray(sources)
    for name in sorted(set(sources)):
        m = src == name
        if min(int(y[m].sum()), int((~y[m]).sum())) >= MIN_CLASS:
            out[name] = round(auroc(p[m], y[m]), 4)
    return out


def choose_recipe(rows: Sequence[dict[str, float]], labels: Sequence[bool], *,
                  features: Sequence[str], interactions: Sequence[tuple[str, str]],
                  uncentred: Sequence[str], groups: Sequence[int] | None,
                  sources: Sequence[str], seed: int
                  ) -> tuple[tuple[str, ...], float, bool, dict[str, Any]]:
    """(features, L2, use interactions, what was tried): the recipe whose out-of-fold scores
    (leave-one-source-out with ``groups``) beat each source's best naive signal (the minimum or
    mean token log-prob) by the most on average. (Minimising the average shortfall instead
    picked the minimal recipe, which held out on Natural Questions and the everyday mix ranked
    0.10 and 0.05 AUROC worse: docs/measurements/2026-12-06-router-ood.md.) All features,
    the compact ``CORE`` ones or the ``MINIMAL`` ones (each with the kind indicators and
    every lookup or optional feature), an L2 on ``L2_GRID``, with or without the per-kind
    interactions. Without source groups: the best cross-validated AUROC."""
    def keep(subset: Sequence[str]) -> tuple[str, ...]:
        return tuple(f for f in features if f in subset or f.startswith("kind_")
                     or f in uncentred or f not in _GENERIC_FEATURES)

    def column(name: str) -> dict[str, float]:
        values = np.nan_to_num([r.get(name, np.nan) for r in rows], nan=-1e9)
        return per_source_auroc(values, labels, sources)

    lp_min, lp_mean = column("lp_min"), column("lp_mean")
    naive = {s: max(lp_min.get(s, 0.5), lp_mean.get(s, 0.5)) for s in set(sources)}
    tried: dict[str, Any] = {}
    best: tuple[float, tuple[str, ...], float, bool] | None = None
    for label, names in (("all", tuple(features)), ("core", keep(CORE)),
                         ("minimal", keep(MINIMAL))):
        pairs = tuple(p for p in interactions if p[1] in names)
        for use in ((False, True) if pairs else (False,)):
            for l2 in L2_GRID:
                _, probs = fit_scorer(rows, labels, features=names,
                                      interactions=pairs if use else (), l2=l2, seed=seed,
                                      uncentred=uncentred, groups=groups)
                by_source = per_source_auroc(probs, labels, sources)
                lifts = [a - naive[s] for s, a in by_source.items()]
                score = (float(np.mean(lifts)) if groups is not None and lifts
                         else auroc(probs, labels))
                tried[f"{label} l2={l2:g}{' +interactions' if use else ''}"] = round(score, 4)
                if best is None or score > best[0] + 1e-4:
                    best = (score, names, l2, use)
    assert best is not None
    return best[1], best[2], best[3], tried


def fit_calibration(
    rows: Sequence[LabelledRow],
    *,
    model_id: str,
    model_sha256: str,
    signals: Sequence[str] | None = None,
    method: str = "platt",
    seed: int = 0,
    dataset: str = "",
    embed: Callable[[Sequence[str]], Any] | None = None,
    embedder_id: str | None = None,
    bank_pool: Sequence[tuple[str, Sequence[str]]] = (),
    hidden: Callable[[str, str], Sequence[float]] | None = None,
    peer_model_id: str | None = None,
) -> Calibration:
    """Fit each named signal, the base scorer over the generic and lookup ones, one scorer per
    optional one (``peer``, ``probe``), the pre-generation prior and the skills' accuracy.
    ``signals=None``: the generic ones, ``neighbours`` with ``embed``, ``peer`` with
    ``peer_model_id``, ``probe`` with ``hidden``."""
    if signals is None:
        signals = default_signals(embed=embed is not None, peer=peer_model_id is not None,
                                  probe=hidden is not None)
    answered = [r for r in rows if r.skill is None and r.generation is not None]
    skilled = [r for r in rows if r.skill is not None]
    support = Counter(question_kind(r.question) for r in answered)
    kinds = tuple(k for k in KINDS if support[k] >= MIN_KIND_SUPPORT and k != "command")
    rich = tuple(k for k in kinds if support[k] >= MIN_INTERACTION_SUPPORT)
    llm = [r for r in answered if question_kind(r.question) in kinds]
    if len(llm) < 50:
        raise CalibrationError(f"only {len(llm)} LLM-answered examples; fitting a router "
                               "needs at least 50. Use a bigger --dataset")
    data = FitData(rows=rows, llm_rows=llm, embed=embed, embedder_id=embedder_id,
                   bank_pool=bank_pool, hidden=hidden, peer_model_id=peer_model_id, seed=seed)
    fitted: dict[str, Signal] = {}
    feats: list[dict[str, float]] = [{} for _ in llm]
    for name in dict.fromkeys(signals):
        signal, values = signal_type(name).fit(data)
        fitted[name] = signal
        for row, v in zip(feats, values, strict=True):
            row.update(v)
    labels = [r.correct for r in llm]
    sources = [r.source or "unknown" for r in llm]
    named = sorted(set(sources))
    groups = ([named.index(s) for s in sources] if len(named) >= MIN_SOURCES else None)
    base = [s for s in fitted.values() if s.role != "optional"]
    features = _supported(tuple(f for s in base for f in s.features), kinds)
    uncentred = tuple(f for s in base if s.role == "lookup" for f in s.features)
    inter = _supported(tuple((f"kind_{k}", f) for k in INTERACT_KINDS for f in INTERACT_WITH
                             if f in features), rich)
    features, l2, use_inter, tried = choose_recipe(
        feats, labels, features=features, interactions=inter, uncentred=uncentred,
        groups=groups, sources=sources, seed=seed)
    inter = tuple(p for p in inter if p[1] in features) if use_inter else ()
    scorer, probs = fit_scorer(feats, labels, features=features, interactions=inter, l2=l2,
                               seed=seed, method=method, uncentred=uncentred, groups=groups)
    prior, prior_probs = None, None
    if "surface" in fitted:  # the prior reads what is known before generating
        prior, prior_probs = fit_scorer([question_features(r.question) for r in llm], labels,
                                        features=_supported(fitted["surface"].features, kinds),
                                        l2=PRIOR_L2, seed=seed, groups=groups)
    info: dict[str, Any] = {
        "dataset": dataset, "signals": list(fitted), "n_llm": len(llm),
        "llm_answers_by_kind": {k: support[k] for k in KINDS}, "n_skill": len(skilled),
        "sources": dict(Counter(sources)), "folds": "by source" if groups else "random",
        "l2": l2, "interactions": bool(inter), "recipes": tried, "method": method,
        "seed": seed, "embedder_id": embedder_id if "neighbours" in fitted else None,
        "cv_auroc": round(auroc(probs, labels), 4), "cv_ece": round(ece(probs, labels), 4),
        "cv_auroc_by_source": per_source_auroc(probs, labels, sources),
        "llm_accuracy": round(float(np.mean(labels)), 4),
        "fitted_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    skip_below = None
    if prior_probs is not None:
        skip_below, skip_info = choose_skip_below(prior_probs, labels)
        info.update(skip_info, prior_cv_auroc=round(auroc(prior_probs, labels), 4))
    optional: dict[str, ScorerEntry] = {}
    for name, signal in fitted.items():
        if signal.role != "optional":
            continue
        keep = [i for i, row in enumerate(feats)
                if all(np.isfinite(row.get(f, np.nan)) for f in signal.features)]
        extra = _supported(signal.interactions(tuple(f"kind_{k}" for k in INTERACT_KINDS)),
                           rich)
        extra_inter = (*inter, *(p for p in extra if p not in inter))
        opt, opt_probs = fit_scorer([feats[i] for i in keep], [labels[i] for i in keep],
                                    features=(*features, *signal.features),
                                    interactions=extra_inter, l2=l2, seed=seed, method=method,
                                    uncentred=uncentred,
                                    groups=[groups[i] for i in keep] if groups else None)
        optional[name] = ScorerEntry(scorer=opt, quantiles=quantiles_of(np.asarray(opt_probs)))
        kept = [labels[i] for i in keep]
        info[f"cv_auroc_with_{name}"] = round(auroc(opt_probs, kept), 4)
        info[f"cv_ece_with_{name}"] = round(ece(opt_probs, kept), 4)
    return Calibration(
        model_id=model_id, model_sha256=model_sha256, signals=fitted,
        base=ScorerEntry(scorer=scorer, quantiles=quantiles_of(np.asarray(probs))),
        optional=optional, prior=prior,
        skill_accuracy=float((sum(r.correct for r in skilled) + 19.0) / (len(skilled) + 20.0)),
        kinds=kinds, skip_below=skip_below, fit_info=info)


def choose_skip_below(prior_probs: Sequence[float] | FloatArray, labels: Sequence[bool]
                      ) -> tuple[float, dict[str, float]]:
    """The highest ``SKIP_GRID`` threshold whose out-of-fold skips lose at most
    ``SKIP_MAX_LOST`` of the right answers (the lowest one if none does), and what it skips.
    Per model: the same threshold skips 3% of one model's questions and 15% of another's."""
    p = np.asarray(prior_probs, dtype=np.float64)
    right = np.asarray(labels, dtype=bool)
    allowed = SKIP_MAX_LOST * max(1, int(right.sum()))
    chosen = SKIP_GRID[0]
    for t in SKIP_GRID:
        if int((right & (p < t)).sum()) <= allowed:
            chosen = t
    skipped = p < chosen
    return chosen, {"prior_skip_below": chosen,
                    "prior_skip_share": round(float(skipped.mean()), 4),
                    "prior_skip_right_lost": int((skipped & right).sum())}
