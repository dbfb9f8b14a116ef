"""The model's answer history (``routing/history.py``): how often it was right on similar
labelled questions, known before it generates (the prior), and how precise *this* answer of its
has been on them (every scorer's ``own_*`` signals)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from edgesdk.routing import calibrate
from edgesdk.routing.fit import Outcome, fit_calibration
from edgesdk.routing.history import (
    HISTORY_FEATURE,
    OWN_FEATURES,
    AnswerHistory,
    shareable_answers,
)
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from tests.unit._routing_fakes import assert_refused, gen
from tests.unit.test_routing_neighbours import HashEmbedder, bank_of, labelled


def capitals_or_colours(n: int = 400) -> list[Outcome]:
    """Two fact templates of the same shape (same words, digits, length): the model knows
    capitals (90% right) and not favourite colours (10%). The question's surface cannot tell
    them apart; the history of similar questions can."""
    rng = random.Random(3)
    data = []
    for i in range(n):
        if i % 2:
            q, right = f"The capital city of country {i} is", rng.random() < 0.9
        else:
            q, right = f"The favourite colour of person {i} is", rng.random() < 0.1
        data.append(Outcome(question=q, generation=gen("Paris", (-0.3, -0.2)), skill=None,
                            correct=right, answers=("Paris" if right else "Blue",)))
    return data


def eye_colours(n: int = 600) -> list[Outcome]:
    """Half the people are brown-eyed, half blue-eyed. The model knows half of them and then
    answers right; for the rest it says "Blue". So the gold answers make "Blue" and "Brown"
    equally common (the bank cannot tell them apart) and the token evidence is the same, but
    the model's "Brown" is always right and its "Blue" two times in three."""
    rng = random.Random(5)
    data = []
    for i in range(n):
        gold = "Brown" if i % 2 else "Blue"
        answer = gold if rng.random() < 0.5 else "Blue"
        data.append(Outcome(question=f"The eye colour of person {i} is",
                            generation=gen(answer, (-0.3, -0.2)), skill=None,
                            correct=answer == gold, answers=(gold,)))
    return data


def _fit(data: list[Outcome]) -> calibrate.Calibration:
    return fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                           embed=HashEmbedder().embed, embedder_id="hash")


def test_the_prior_reads_the_history_and_ranks_what_the_surface_cannot(tmp_path: Path
                                                                        ) -> None:
    cal = _fit(capitals_or_colours())
    assert cal.history is not None and cal.prior is not None
    assert HISTORY_FEATURE in cal.prior.features
    info = cal.fit_info
    assert info["prior_cv_auroc_question_only"] < 0.65 < 0.85 < info["prior_cv_auroc"]

    loaded = calibrate.load("fake-llm", path=calibrate.save(cal, tmp_path / "fake-llm.json"))
    assert loaded.history == cal.history
    router = Router(calibration=loaded, policy=Policy(threshold=0.5),
                    embedder=HashEmbedder())  # type: ignore[arg-type]
    capital = router.prior("The capital city of country 9001 is")
    colour = router.prior("The favourite colour of person 9002 is")
    assert capital is not None and colour is not None
    assert capital > 0.7 and colour < 0.3


def test_without_a_question_vector_the_prior_skips_nothing() -> None:
    class Broken:
        def embed(self, texts: object) -> np.ndarray:
            raise RuntimeError("no embedding model")

    router = Router(calibration=_fit(capitals_or_colours()), policy=Policy(threshold=0.5),
                    embedder=Broken())  # type: ignore[arg-type]
    assert router.prior("The favourite colour of person 9002 is") is None


def test_without_a_bank_the_prior_reads_the_question_only() -> None:
    cal = fit_calibration(capitals_or_colours(), model_id="fake-llm", model_sha256="a" * 64)
    assert cal.history is None and cal.prior is not None
    assert HISTORY_FEATURE not in cal.prior.features
    assert "prior_cv_auroc_question_only" not in cal.fit_info


def test_rate_is_the_similarity_weighted_share_right_leaving_a_row_out() -> None:
    emb = HashEmbedder()
    data = labelled(40)
    bank = bank_of(data, emb)
    # rows 0 and 2 are instrument questions the model got right, 1 and 3 citizenship ones
    history = AnswerHistory(rows=(0, 1, 2, 3), right=(True, False, True, False), k=2)
    instrument, citizenship = (bank.project(v) for v in emb.embed([data[0].question,
                                                                   data[1].question]))
    assert history.rate(bank, instrument) == pytest.approx(1.0)
    assert history.rate(bank, citizenship) == pytest.approx(0.0, abs=1e-4)
    # leaving row 0 out: row 2 (right, more similar) and a citizenship row (wrong)
    assert 0.5 < history.rate(bank, instrument, exclude_row=0) < 1.0
    v = instrument
    lone = AnswerHistory(rows=(0,), right=(True,), k=5)
    assert np.isnan(lone.rate(bank, v, exclude_row=0))


def test_history_round_trips_and_bad_ones_are_refused(tmp_path: Path) -> None:
    h = AnswerHistory(rows=(5, 0, 17), right=(True, False, True), k=7)
    assert AnswerHistory.from_dict(json.loads(json.dumps(h.to_dict()))) == h
    with pytest.raises(ValueError, match="labels"):
        AnswerHistory(rows=(1, 2), right=(True,))
    with pytest.raises(ValueError, match="0 and 1"):
        AnswerHistory.from_dict({**h.to_dict(), "right": "10x"})

    cal = _fit(capitals_or_colours(120))
    path = calibrate.save(cal, tmp_path / "fake-llm.json")
    data = json.loads(path.read_text())
    data["history"] = AnswerHistory(rows=(10**6,), right=(True,)).to_dict()
    assert_refused(path, data, "bank row")
    data["answer_bank"] = None
    assert_refused(path, data, "no answer bank")


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma3-270m"])
def test_shipped_priors_read_the_history(model: str) -> None:
    cal = calibrate.load(model)
    assert cal.history is not None and cal.prior is not None
    assert HISTORY_FEATURE in cal.prior.features
    assert cal.history.has_answers and set(OWN_FEATURES) <= set(cal.scorer.features)
    assert cal.skip_below is not None and cal.fit_info["prior_skip_right_lost"] <= (
        0.01 * cal.fit_info["n_llm"])
    # the own record adds to the question-only prior: +0.006 (SmolLM2) and +0.026 (Gemma) CV
    # AUROC on the TriviaQA/HaluEval/GSM8K data of 2026-12-06 (it was over +0.03 on BIG-bench's
    # templated facts, where similar questions share answers far more often)
    assert cal.fit_info["prior_cv_auroc"] > cal.fit_info["prior_cv_auroc_question_only"]


def test_own_answers_rank_what_the_gold_answers_cannot(tmp_path: Path) -> None:
    cal = _fit(eye_colours())
    assert cal.history is not None and cal.history.has_answers
    assert set(cal.history.answers) == {"blue", "brown"}
    assert set(OWN_FEATURES) <= set(cal.scorer.features)
    assert cal.fit_info["cv_auroc"] > 0.62  # 0.67 is the best possible, 0.5 without them

    loaded = calibrate.load("fake-llm", path=calibrate.save(cal, tmp_path / "fake-llm.json"))
    assert loaded.history == cal.history
    router = Router(calibration=loaded, policy=Policy(threshold=0.5),
                    embedder=HashEmbedder())  # type: ignore[arg-type]
    q = "The eye colour of person 9001 is"
    brown, why = router.confidence(question=q, generation=gen("Brown", (-0.3, -0.2)),
                                   skill=None)
    blue, _ = router.confidence(question=q, generation=gen("Blue", (-0.3, -0.2)), skill=None)
    assert brown is not None and blue is not None and brown > blue + 0.15
    assert any("similar calibration questions, right" in w for w in why), why


def test_own_counts_this_answer_among_the_nearest_answered_questions() -> None:
    emb = HashEmbedder()
    data = labelled(40)
    bank = bank_of(data, emb)
    # rows 0, 2, 4, 6: instrument questions; the model said piano twice (right once)
    history = AnswerHistory(rows=(0, 2, 4, 6), right=(True, False, True, True), k=4,
                            answers=("piano", "piano", "guitar", ""))
    q = "The instrument played by musician 1000 is"
    sims = bank.similarities(emb.embed([q])[0])
    piano = history.own(sims, q, "The instrument is the piano.")
    assert set(piano) == set(OWN_FEATURES)
    assert piano["own_rate"] == pytest.approx(0.5, abs=0.05)
    assert piano["own_count"] == pytest.approx(np.log1p(2))
    # one of two right, smoothed towards the neighbours' 3 in 4
    assert 0.5 < piano["own_precision"] < 0.75
    kazoo = history.own(sims, q, "kazoo")  # never given: the precision is the neighbours' rate
    assert kazoo["own_rate"] == 0.0 and kazoo["own_count"] == 0.0
    assert kazoo["own_precision"] == pytest.approx(0.75, abs=0.05)
    # leaving row 0 out (fitting on that very question): one piano left, and it was wrong
    assert history.own(sims, q, "piano", exclude_row=0)["own_precision"] < piano[
        "own_precision"]
    # an empty stored answer matches nothing, not even an empty-ish one
    assert history.own(sims, q, "")["own_count"] == 0.0
    bare = AnswerHistory(rows=(0, 2), right=(True, False))
    assert all(np.isnan(v) for v in bare.own(sims, q, "piano").values())


def test_only_shared_answers_are_stored() -> None:
    emb = HashEmbedder()
    bank = bank_of(labelled(40), emb)  # shared golds: piano, germany, ...
    kept = shareable_answers(["France", " france.", "Piano", "The Tale of a Unique Title",
                              "   "], bank)
    assert kept == ("france", "france", "piano", "", "")


def test_a_scorer_reading_own_answers_needs_them_in_the_history(tmp_path: Path) -> None:
    path = calibrate.save(_fit(eye_colours(200)), tmp_path / "fake-llm.json")
    data = json.loads(path.read_text())
    del data["history"]["answers"]  # as a file written before the answer features
    assert_refused(path, data, "stores none")
    data["history"]["answers"] = ["blue"]
    assert_refused(path, data, "answers")


def test_without_a_question_vector_the_own_signals_fail_safe() -> None:
    class Broken:
        def embed(self, texts: object) -> np.ndarray:
            raise RuntimeError("no embedding model")

    router = Router(calibration=_fit(eye_colours(200)), policy=Policy(threshold=0.5),
                    embedder=Broken())  # type: ignore[arg-type]
    conf, why = router.confidence(question="The eye colour of person 9001 is",
                                  generation=gen("Brown", (-0.3, -0.2)), skill=None)
    assert conf is None and any("non-finite" in w for w in why), why


def test_the_skip_threshold_is_chosen_to_lose_at_most_one_percent_of_right_answers() -> None:
    from edgesdk.routing.fit import SKIP_GRID, SKIP_MAX_LOST, choose_skip_below

    rng = np.random.default_rng(0)
    # 1,000 right answers with priors 0.05-0.9; 300 hopeless wrong ones at 0.01-0.09
    probs = np.concatenate([rng.uniform(0.05, 0.9, 1000), rng.uniform(0.01, 0.09, 300)])
    labels = [True] * 1000 + [False] * 300
    t, info = choose_skip_below(probs, labels)
    lost = int(((probs < t) & np.array(labels)).sum())
    assert lost <= SKIP_MAX_LOST * 1000 and t in SKIP_GRID
    assert info == {"prior_skip_below": t, "prior_skip_share": round(float((probs < t).mean()), 4),
                    "prior_skip_right_lost": lost}
    higher = [g for g in SKIP_GRID if g > t]
    assert all(((probs < g) & np.array(labels)).sum() > 10 for g in higher)
    # every threshold would cost right answers: the lowest one
    assert choose_skip_below([0.005] * 10, [True] * 10)[0] == SKIP_GRID[0]


def test_the_router_skips_below_the_calibrations_threshold_unless_told_otherwise(
        tmp_path: Path) -> None:
    from dataclasses import replace

    from edgesdk.routing.router import DEFAULT_SKIP_BELOW

    cal = _fit(capitals_or_colours(200))
    assert cal.skip_below is not None
    assert Router(calibration=cal, policy=Policy(threshold=0.5)).skip_below == cal.skip_below
    loaded = calibrate.load("fake-llm", path=calibrate.save(cal, tmp_path / "fake-llm.json"))
    assert loaded.skip_below == cal.skip_below
    mine = Router(calibration=cal, policy=Policy(threshold=0.5), skip_below=0.2)
    assert mine.skip_below == 0.2
    older = replace(cal, skip_below=None)  # a file fitted before the threshold was stored
    assert Router(calibration=older, policy=Policy(threshold=0.5)).skip_below == (
        DEFAULT_SKIP_BELOW)
