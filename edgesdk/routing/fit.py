"""From labelled device-path outcomes to a shipped ``Calibration``.

Kept apart from ``calibrate.py`` (the numerics and the file format) because this is where the
modelling choices live: which signals, which per-kind interactions, how the prior is fitted and
how skills are scored. Inputs are plain values from ``edgesdk.types``, so the evaluation harness,
the CLI and the tests all fit the same way.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, TypeVar

import numpy as np

from edgesdk.routing import signals
from edgesdk.routing.calibrate import (
    Calibration,
    choose_l2,
    fit_probe,
    fit_scorer,
    quantiles_of,
)
from edgesdk.routing.history import (
    HISTORY_FEATURE,
    OWN_FEATURES,
    AnswerHistory,
    shareable_answers,
)
from edgesdk.routing.metrics import FloatArray, auroc, ece
from edgesdk.routing.neighbours import BANK_FEATURES, HASHED_ID, AnswerBank, fit_bank
from edgesdk.routing.peer import PEER_FEATURES, peer_features
from edgesdk.routing.plausibility import (
    PLAUSIBILITY_FEATURE,
    SOFT_FEATURE,
    PlausibilityGraph,
    soft_agreement,
)
from edgesdk.textnorm import question_key
from edgesdk.types import Generation, SkillResult

_Name = TypeVar("_Name", str, tuple[str, str])
KIND_FEATURES = tuple(f"kind_{k}" for k in signals.KINDS)
QUESTION_FEATURES = (*KIND_FEATURES, "q_words", "q_digits", "q_numbers", "q_zh",
                     "q_question_mark", "q_capitals", "q_quotes")
GENERATION_FEATURES = ("lp_mean", "lp_min", "lp_p10", "lp_first", "lp_sum", "ent_mean",
                       "ent_max", "ent_first", "mg_mean", "mg_min", "mg_first", "n_tokens",
                       "truncated", "empty", "rep_ratio", "copy_ratio", "ans_number",
                       "ans_yesno", "ans_words", "ans_zh", "ans_number_in_q")
REQUIRED = ("lp_mean", "lp_min", "ent_mean", "mg_mean")
"""Signals without which the combiner's score is meaningless (→ fail safe)."""
INTERACT_WITH = ("lp_mean", "lp_min", "lp_first", "ent_first", "mg_first", "n_tokens",
                 "copy_ratio", "ans_words", "truncated")
INTERACT_KINDS = ("kind_fact", "kind_yes_no", "kind_math_word", "kind_arithmetic")
PROBE_L2_GRID = (100.0, 300.0, 1000.0)
PEER_INTERACT_WITH = ("peer_agree", "peer_contain", "peer_jaccard", "peer_lp_mean",
                      "peer_lp_min")
PEER_CROSS = (("peer_agree", "peer_lp_mean"), ("peer_agree", "lp_mean"), ("peer_agree", "lp_min"))
PEER_L2_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
PRIOR_L2 = 3.0
MIN_KIND_SUPPORT = 20
"""LLM-answered examples a question kind needs before the router is fitted (and trusted) on
it: about what one weight (its indicator) needs. Arithmetic reaches the LLM only when the skill
could not parse it (1 of 1,216 in train+dev); commands and open-ended questions never (0)."""
MIN_INTERACTION_SUPPORT = 100
"""Examples a kind needs for its interactions (nine weights, ~10 examples each); below, only
its indicator is fitted."""
BANK_INTERACTIONS = tuple(("kind_fact", f) for f in BANK_FEATURES)
"""How often an answer is right for similar questions means most for short facts."""
OWN_INTERACTIONS = tuple(("kind_fact", f) for f in OWN_FEATURES)
PLAUSIBILITY_FOLDS = 5
"""Folds of the training questions for ``plaus_agree``: each question's value comes from a graph
without its fold (the bank pool repeats train and dev questions, so the row alone is not enough)."""
MIN_PLAUSIBILITY_VERDICTS = 10
"""LLM answers with a verdict (``plaus_agree`` ≠ 0) the fit needs before it reads the signal."""
SKIP_GRID = tuple(i / 100 for i in range(1, 11))
"""Prior thresholds the fit may choose for skipping local generation."""
SKIP_MAX_LOST = 0.01
"""Skipping may cost at most this share of the answers the model gets right (they go up and
the tier answers instead: a few more cloud calls, not wrong answers)."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One labelled request: what the device saw and produced, and whether it was right."""

    question: str
    generation: Generation | None
    skill: SkillResult | None
    correct: bool
    peer: Generation | None = None
    """The peer model's answer to the same question, when fitting with a peer."""
    answers: tuple[str, ...] = ()
    """The gold answers (for the answer-neighbour bank; see ``routing/neighbours.py``)."""
    same_as: str | None = None
    """The labelled question this one rewords (``evalrun.Item.same_as``): they share one bank
    row, so the leave-one-out features leave both out — a rewording's twin would otherwise be
    its nearest neighbour with the same gold answer, an answer key the run time never has."""


def supported(names: Sequence[_Name], kinds: Sequence[str]) -> tuple[_Name, ...]:
    """``names`` (features, or interaction pairs) without those of a kind not in ``kinds``."""
    dropped = {f"kind_{k}" for k in signals.KINDS if k not in kinds}

    def keep(name: _Name) -> bool:
        parts = (name,) if isinstance(name, str) else name
        return not dropped.intersection(parts)

    return tuple(n for n in names if keep(n))


def default_interactions() -> tuple[tuple[str, str], ...]:
    return tuple((k, f) for k in INTERACT_KINDS for f in INTERACT_WITH)


def peer_interactions() -> tuple[tuple[str, str], ...]:
    """The plain interactions, agreement × kind (agreeing on a yes/no is a coin flip, on a
    fact it is strong evidence) and agreement × both models' sureness."""
    return (*default_interactions(),
            *((k, f) for k in INTERACT_KINDS for f in PEER_INTERACT_WITH), *PEER_CROSS)


def fit_calibration(
    outcomes: Sequence[Outcome],
    *,
    model_id: str,
    model_sha256: str,
    method: str = "platt",
    seed: int = 0,
    dataset: str = "",
    hidden: Callable[[str, str], Sequence[float]] | None = None,
    peer_model_id: str | None = None,
    embed: Callable[[Sequence[str]], Any] | None = None,
    embedder_id: str | None = None,
    bank_pool: Sequence[tuple[str, Sequence[str]]] = (),
) -> Calibration:
    """Fit the combiner, its calibration and the prior; with ``hidden``, also the probe; with
    ``peer_model_id`` (and ``Outcome.peer`` set), also the scorer that reads the peer's answer;
    with ``embed`` (question texts → vectors of ``embedder_id``) and ``Outcome.answers``, the
    answer-neighbour bank whose features every scorer then reads; ``bank_pool`` adds labelled
    (question, gold answers) pairs to the bank only (no generation needed: never test items).
    """
    answered = [o for o in outcomes if o.skill is None and o.generation is not None]
    skilled = [o for o in outcomes if o.skill is not None]
    support = Counter(signals.question_kind(o.question) for o in answered)
    kinds = tuple(k for k in signals.KINDS if support[k] >= MIN_KIND_SUPPORT)
    rich = tuple(k for k in kinds if support[k] >= MIN_INTERACTION_SUPPORT)
    # a kind with a handful of examples would get weights fitted to them and extrapolate
    # wildly (standardised, a lone example sits 35 standard deviations out): the router fails
    # safe on those kinds instead, so they are left out of every fit
    llm = [o for o in answered if signals.question_kind(o.question) in kinds]
    if len(llm) < 50:
        from edgesdk.errors import CalibrationError

        raise CalibrationError(f"only {len(llm)} LLM-answered examples; fitting a router "
                               "needs at least 50. Use a bigger --dataset")
    rows = [signals.extract(o.question, o.generation) for o in llm]
    labels = [o.correct for o in llm]
    features: tuple[str, ...] = (*supported(QUESTION_FEATURES, kinds), *GENERATION_FEATURES)
    inter = supported(default_interactions(), rich)
    bank = None
    history: AnswerHistory | None = None
    knn: list[float] = []
    if embed is not None:
        if not embedder_id:
            raise ValueError("fit_calibration(embed=...) needs embedder_id: the router loads "
                             "the same question representation by that id (neighbours.HASHED_ID "
                             "for HashedWords)")
        bank, positions, projected = _neighbour_rows(outcomes, llm, rows, embed=embed,
                                                     embedder_id=embedder_id, pool=bank_pool)
        history, knn = _history(bank, llm, positions, projected)
        for o, row, p, v in zip(llm, rows, positions, projected, strict=True):
            assert o.generation is not None
            row.update(history.own(bank.vectors @ v.astype(np.float32), o.question,
                                   o.generation.text, exclude_row=p))
        features = (*features, *BANK_FEATURES, *OWN_FEATURES)
        inter = (*inter, *supported((*BANK_INTERACTIONS, *OWN_INTERACTIONS), rich))
    # the soft verdict reads a sentence model's embeddings; hashed words carry no sport
    sentence_embed = embed if embed is not None and embedder_id != HASHED_ID else None
    plausibility, verdicts, soft = _plausibility(outcomes, llm, bank_pool, embed=sentence_embed,
                                                 embedder_id=embedder_id)
    soft_verdicts = sum(v != 0.0 for v in soft)
    if plausibility is not None:
        for row, value in zip(rows, verdicts, strict=True):
            row[PLAUSIBILITY_FEATURE] = value
        features = (*features, PLAUSIBILITY_FEATURE)
        if soft_verdicts < MIN_PLAUSIBILITY_VERDICTS:
            plausibility = replace(plausibility, centroids=None)
        if plausibility.centroids is not None:
            for row, value in zip(rows, soft, strict=True):
                row[SOFT_FEATURE] = value
            features = (*features, SOFT_FEATURE)
    l2 = choose_l2(rows, labels, features=features, interactions=inter, seed=seed)
    scorer, probs = fit_scorer(rows, labels, features=features, interactions=inter, l2=l2,
                               seed=seed, method=method)
    # the prior is asked only after the skills declined, so it learns from LLM answers only
    prior_rows = [signals.question_features(o.question) for o in llm]
    question_features = supported(QUESTION_FEATURES, kinds)
    prior, prior_probs = fit_scorer(prior_rows, labels, features=question_features,
                                    l2=PRIOR_L2, seed=seed)
    prior_info = {"prior_cv_auroc": round(auroc(prior_probs, labels), 4)}
    if bank is not None:
        for row, value in zip(prior_rows, knn, strict=True):
            row[HISTORY_FEATURE] = value
        question_only = prior_info["prior_cv_auroc"]
        prior, prior_probs = fit_scorer(prior_rows, labels,
                                        features=(*question_features, HISTORY_FEATURE),
                                        l2=PRIOR_L2, seed=seed)
        prior_info = {"prior_cv_auroc": round(auroc(prior_probs, labels), 4),
                      "prior_cv_auroc_question_only": question_only}
    skip_below, skip_info = choose_skip_below(prior_probs, labels)
    prior_info.update(skip_info)
    skill_right = sum(o.correct for o in skilled)
    # Laplace-smoothed with a strong prior that parsed skills are right.
    skill_accuracy = (skill_right + 19.0) / (len(skilled) + 20.0)
    cal = Calibration(
        model_id=model_id,
        model_sha256=model_sha256,
        scorer=scorer,
        prior=prior,
        skill_accuracy=float(skill_accuracy),
        quantiles=quantiles_of(np.asarray(probs)),
        answer_bank=bank,
        history=history,
        kinds=kinds,
        skip_below=skip_below,
        plausibility=plausibility,
        fit_info={
            "dataset": dataset,
            "n_llm": len(llm),
            "llm_answers_by_kind": {k: support[k] for k in signals.KINDS},
            "n_skill": len(skilled),
            "l2": l2,
            "method": method,
            "seed": seed,
            "cv_auroc": round(auroc(probs, labels), 4),
            "cv_ece": round(ece(probs, labels), 4),
            **prior_info,
            "answer_bank": (None if bank is None else
                            {"n": len(bank.answers), "k": bank.k,
                             "dim": int(bank.basis.shape[1]), "embedder_id": embedder_id}),
            "llm_accuracy": round(float(np.mean(labels)), 4),
            "plausibility": (None if plausibility is None else
                             {"nodes": len(plausibility.keys),
                              "large_groups": plausibility.large_groups,
                              "llm_verdicts": sum(v != 0.0 for v in verdicts),
                              "llm_soft_verdicts": soft_verdicts}),
            "fitted_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    if peer_model_id is not None:
        cal = _with_peer(cal, llm, rows, labels, peer_model_id=peer_model_id, seed=seed,
                         method=method, base=features, base_inter=inter, rich=rich)
    if hidden is None:
        return cal
    vectors = np.array([hidden(o.question, o.generation.text) for o in llm  # type: ignore[union-attr]
                        ], dtype=np.float64)
    best: tuple[float, float] | None = None  # (cv auroc, l2) of the probe alone
    for probe_l2 in PROBE_L2_GRID:
        _, oof = fit_probe(vectors, labels, l2=probe_l2, seed=seed)
        score = auroc(oof, labels)
        if best is None or score > best[0] + 1e-4:
            best = (score, probe_l2)
    assert best is not None
    probe, oof = fit_probe(vectors, labels, l2=best[1], seed=seed)
    rows_hs = [{**row, "hs_logit": float(z)} for row, z in zip(rows, oof, strict=True)]
    scorer_probe, probs_hs = fit_scorer(rows_hs, labels, features=(*features, "hs_logit"),
                                        interactions=inter, l2=l2, seed=seed, method=method)
    info = {**cal.fit_info, "probe_cv_auroc": round(auroc(oof, labels), 4), "probe_l2": best[1],
            "cv_auroc_with_probe": round(auroc(probs_hs, labels), 4),
            "cv_ece_with_probe": round(ece(probs_hs, labels), 4)}
    return replace(cal, probe=probe, scorer_probe=scorer_probe, fit_info=info)


def choose_skip_below(prior_probs: Sequence[float] | FloatArray, labels: Sequence[bool]
                      ) -> tuple[float, dict[str, float]]:
    """The highest ``SKIP_GRID`` threshold whose out-of-fold skips lose at most
    ``SKIP_MAX_LOST`` of the right answers (the lowest one if none does), and what it skips.

    Why per model: the same threshold means different things for different priors — at 0.03
    Gemma 3 270M skipped 3% of its LLM questions (31 of 175 word problems) and SmolLM2 15%,
    while Gemma at 0.08 skips 15% for 0.9% of its right answers."""
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


def _bank_question(outcome: Outcome) -> str:
    """The question whose bank row ``outcome`` is: its own, or the one it rewords."""
    return outcome.same_as or outcome.question


def _neighbour_rows(outcomes: Sequence[Outcome], llm: Sequence[Outcome],
                    rows: Sequence[dict[str, float]], *,
                    embed: Callable[[Sequence[str]], Any], embedder_id: str,
                    pool: Sequence[tuple[str, Sequence[str]]]
                    ) -> tuple[AnswerBank, list[int | None], list[FloatArray]]:
    """Fit the bank on every labelled question (one row per distinct question text, gold
    answers merged; a rewording shares its ``same_as`` question's row) and add each LLM row's
    ``nb_*`` features leave-one-out: the row of the same question is never its own neighbour.
    Also returns each LLM question's bank row (``None`` without gold answers) and its vector in
    the bank's space (a rewording's own, as at run time)."""
    golds: dict[str, tuple[str, set[str]]] = {}
    for question, answers in [*((_bank_question(o), o.answers) for o in outcomes), *pool]:
        if answers:
            key = question_key(question)
            golds.setdefault(key, (question, set()))[1].update(a for a in answers if a.strip())
    if len(golds) < 50:
        from edgesdk.errors import CalibrationError

        raise CalibrationError(f"only {len(golds)} labelled questions carry gold answers; the "
                               "answer bank needs at least 50 (Outcome.answers or bank_pool)")
    keys = list(golds)
    vectors = np.asarray(embed([golds[k][0] for k in keys]), dtype=np.float64)
    bank = fit_bank([golds[k][0] for k in keys], vectors, [sorted(golds[k][1]) for k in keys],
                    embedder_id=embedder_id)
    position = {k: i for i, k in enumerate(keys)}
    missing = [o.question for o in llm
               if o.same_as or question_key(o.question) not in position]
    extra = dict(zip(missing, np.asarray(embed(missing), dtype=np.float64), strict=True)
                 ) if missing else {}
    positions: list[int | None] = []
    projected: list[FloatArray] = []
    for o, row in zip(llm, rows, strict=True):
        assert o.generation is not None
        i = position.get(question_key(_bank_question(o)))
        vec = extra[o.question] if o.same_as or i is None else vectors[i]
        row.update(bank.features(vec, o.question, o.generation.text, exclude=i))
        positions.append(i)
        projected.append(bank.project(vec))
    return bank, positions, projected


def _history(bank: AnswerBank, llm: Sequence[Outcome], positions: Sequence[int | None],
             projected: Sequence[FloatArray]) -> tuple[AnswerHistory, list[float]]:
    """The model's answer history over the bank, and each LLM row's ``prior_knn`` leave-one-
    out (every answer to the same question text left out, as at run time for a new one)."""
    kept = [(p, o) for o, p in zip(llm, positions, strict=True) if p is not None]
    answers = shareable_answers([o.generation.text if o.generation else "" for _, o in kept],
                                bank)
    history = AnswerHistory(rows=tuple(p for p, _ in kept),
                            right=tuple(o.correct for _, o in kept), answers=answers)
    knn = [history.rate(bank, v, exclude_row=p) for p, v in zip(positions, projected,
                                                                 strict=True)]
    base = float(np.mean([o.correct for o in llm]))
    return history, [v if math.isfinite(v) else base for v in knn]


def _plausibility(outcomes: Sequence[Outcome], llm: Sequence[Outcome],
                  pool: Sequence[tuple[str, Sequence[str]]], *,
                  embed: Callable[[Sequence[str]], Any] | None = None,
                  embedder_id: str | None = None,
                  ) -> tuple[PlausibilityGraph | None, list[float], list[float]]:
    """The plausibility graph over every labelled question (``routing/plausibility.py``) and
    each LLM row's ``plaus_agree`` and ``plaus_soft`` from a graph without that row's fold of
    the training questions; ``(None, [], [])`` when fewer than ``MIN_PLAUSIBILITY_VERDICTS``
    rows get a hard verdict (nothing to fit its weight on). With ``embed``, the graphs keep
    group centroids and the soft values are read from them; else the soft values are 0."""
    labelled: dict[str, tuple[str, Sequence[str]]] = {}
    for question, answers in [*pool, *((o.question, o.answers) for o in outcomes)]:
        if answers:
            labelled[question_key(question)] = (question, answers)

    def fold(key: str) -> int:
        return zlib.crc32(key.encode()) % PLAUSIBILITY_FOLDS

    cached = _memo(embed) if embed is not None else None
    training = {question_key(o.question) for o in outcomes}
    held_out = [PlausibilityGraph.fit((v for k, v in labelled.items()
                                       if k not in training or fold(k) != f),
                                      embed=cached, embedder_id=embedder_id)
                for f in range(PLAUSIBILITY_FOLDS)]
    values, soft = [], []
    for o in llm:
        assert o.generation is not None
        graph = held_out[fold(question_key(o.question))]
        values.append(graph.agreement(o.question, o.generation.text))
        p = None if cached is None else graph.soft_verdict(o.question, cached)
        soft.append(soft_agreement(p, o.generation.text))
    if sum(v != 0.0 for v in values) < MIN_PLAUSIBILITY_VERDICTS:
        return None, [], []
    graph = PlausibilityGraph.fit(labelled.values(), embed=cached, embedder_id=embedder_id)
    return graph, values, soft


def _memo(embed: Callable[[Sequence[str]], Any]) -> Callable[[Sequence[str]], Any]:
    """``embed`` that computes each distinct text once (the fold graphs share most texts)."""
    seen: dict[str, Any] = {}

    def cached(texts: Sequence[str]) -> Any:
        missing = [t for t in dict.fromkeys(texts) if t not in seen]
        if missing:
            seen.update(zip(missing, np.asarray(embed(missing)), strict=True))
        return np.stack([seen[t] for t in texts])

    return cached


def _with_peer(cal: Calibration, llm: Sequence[Outcome], rows: Sequence[dict[str, float]],
               labels: Sequence[bool], *, peer_model_id: str, seed: int, method: str,
               base: Sequence[str], base_inter: Sequence[tuple[str, str]],
               rich: Sequence[str]) -> Calibration:
    missing = sum(o.peer is None for o in llm)
    if missing > len(llm) // 10:
        from edgesdk.errors import CalibrationError

        raise CalibrationError(f"{missing} of {len(llm)} LLM-answered examples have no answer "
                               f"from the peer '{peer_model_id}'; run it over the dataset first")
    keep = [i for i, o in enumerate(llm) if o.peer is not None]
    peer_rows = [{**rows[i], **peer_features(llm[i].question, llm[i].generation, llm[i].peer)}
                 for i in keep]
    peer_labels = [labels[i] for i in keep]
    features = (*base, *PEER_FEATURES)
    own = supported(peer_interactions(), rich)
    inter = (*own, *(p for p in base_inter if p not in own))
    l2 = choose_l2(peer_rows, peer_labels, features=features, interactions=inter,
                   grid=PEER_L2_GRID, seed=seed)
    scorer, probs = fit_scorer(peer_rows, peer_labels, features=features, interactions=inter,
                               l2=l2, seed=seed, method=method)
    info = {**cal.fit_info, "peer_model_id": peer_model_id, "peer_l2": l2,
            "peer_n": len(keep), "cv_auroc_with_peer": round(auroc(probs, peer_labels), 4),
            "cv_ece_with_peer": round(ece(probs, peer_labels), 4)}
    return replace(cal, peer_model_id=peer_model_id, scorer_peer=scorer,
                   quantiles_peer=quantiles_of(np.asarray(probs)), fit_info=info)
