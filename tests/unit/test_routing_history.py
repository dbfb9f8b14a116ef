"""The model's answer history (``routing/history.py``): how precise *this* answer of the model
has been on similar labelled questions (the ``neighbours`` signal's ``own_*`` features, gated by
closeness like the rest of the lookup). The pre-generation prior reads the question's surface
only, never the history."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from edgesdk.routing import calibration as calibrate
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.history import (
    OWN_FEATURES,
    AnswerHistory,
    shareable_answers,
)
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from edgesdk.routing.signal import LabelledRow as Outcome
from edgesdk.routing.signal import RunTime
from edgesdk.routing.signals import surface
from edgesdk.routing.signals.neighbours import NeighbourSignal
from tests.unit._routing_fakes import assert_refused, gen
from tests.unit.test_routing_neighbours import HashEmbedder, bank_of, labelled


def capitals_or_colours(n: int = 400) -> list[Outcome]:
    """Two fact templates of the same shape (same words, digits, length): the model knows
    capitals (90% right) and not favourite colours (10%). The question's surface cannot tell
    them apart; the history of similar questions could, but the prior does not read it."""
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


class Broken:
    def embed(self, texts: object) -> np.ndarray:
        raise RuntimeError("no embedding model")


def _fit(data: list[Outcome]) -> calibrate.Calibration:
    return fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                           embed=HashEmbedder().embed, embedder_id="hash")


def _reload(cal: calibrate.Calibration, tmp_path: Path, embedder: object = None
            ) -> calibrate.Calibration:
    """``cal`` saved and loaded again, reading questions with ``embedder`` (a fresh
    ``HashEmbedder`` by default: the bank's embedder id "hash" is no model edgesdk knows)."""
    path = calibrate.save(cal, tmp_path / "fake-llm.json")
    runtime = RunTime(embedder=embedder if embedder is not None else HashEmbedder())  # type: ignore[arg-type]
    return calibrate.load("fake-llm", path=path, runtime=runtime)


def lookup(cal: calibrate.Calibration) -> NeighbourSignal:
    signal = cal.signal("neighbours")
    assert isinstance(signal, NeighbourSignal)
    return signal


def test_the_prior_reads_the_question_only_with_or_without_a_history() -> None:
    data = capitals_or_colours()
    with_history = _fit(data)
    plain = fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64)
    assert plain.signal("neighbours") is None
    assert lookup(with_history).history is not None
    for cal in (with_history, plain):
        assert cal.prior is not None
        assert "prior_knn" not in cal.prior.features
        assert set(cal.prior.features) <= set(surface.FEATURES)
        assert "prior_cv_auroc_question_only" not in cal.fit_info
    # the history changes nothing before generating: the same prior, fitted on the same rows
    assert with_history.prior == plain.prior
    assert with_history.fit_info["prior_cv_auroc"] == plain.fit_info["prior_cv_auroc"]
    # so the two templates, which only the history tells apart, get the same prior
    router = Router(calibration=with_history, policy=Policy(threshold=0.5))
    capital = router.prior("The capital city of country 9001 is")
    assert capital is not None and capital == router.prior("The favourite colour of person 9002 is")


def test_the_prior_needs_no_question_vector(tmp_path: Path) -> None:
    cal = _fit(capitals_or_colours())
    broken = Router(calibration=_reload(cal, tmp_path, Broken()), policy=Policy(threshold=0.5))
    q = "The favourite colour of person 9002 is"
    assert not broken.prepare(q)  # the lookup cannot embed the question...
    prior = broken.prior(q)  # ...and the prior, reading the wording only, does not care
    assert prior is not None
    assert prior == Router(calibration=cal, policy=Policy(threshold=0.5)).prior(q)


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
    state = data["signals"]["neighbours"]
    state["history"] = AnswerHistory(rows=(10**6,), right=(True,)).to_dict()
    assert_refused(path, data, "bank row")
    del state["bank"]  # a history is read on its bank's rows: no bank, no lookup
    assert_refused(path, data, "bank")


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma3-270m"])
def test_shipped_calibrations_read_generic_signals_only(model: str) -> None:
    # the lookup did not earn its place out of distribution (docs/router.md): none ships
    cal = calibrate.load(model)
    assert [s.name for s in cal.base_signals()] == ["evidence", "surface", "percepts"]
    assert not set(OWN_FEATURES) & set(cal.scorer.features)
    # before generating, only the question's wording
    assert cal.prior is not None and set(cal.prior.features) <= set(surface.FEATURES)
    assert cal.skip_below is not None and cal.fit_info["prior_skip_right_lost"] <= (
        0.01 * cal.fit_info["n_llm"])


def test_own_answers_rank_what_the_gold_answers_cannot(tmp_path: Path) -> None:
    cal = _fit(eye_colours())
    history = lookup(cal).history
    assert history is not None and history.has_answers
    assert set(history.answers) == {"blue", "brown"}
    assert set(OWN_FEATURES) <= set(cal.scorer.features)
    # 0.5 without them; 0.67 at best if they were read on every row, but the gate closes on
    # the quarter of the training questions least like the others (GATE_QUANTILES)
    assert cal.fit_info["cv_auroc"] > 0.6

    loaded = _reload(cal, tmp_path)
    assert lookup(loaded).history == history
    router = Router(calibration=loaded, policy=Policy(threshold=0.5))
    q = "The eye colour of person 9001 is"
    brown, why = router.confidence(question=q, generation=gen("Brown", (-0.3, -0.2)),
                                   skill=None)
    blue, _ = router.confidence(question=q, generation=gen("Blue", (-0.3, -0.2)), skill=None)
    assert brown is not None and blue is not None and brown > blue + 0.15
    assert any("near labelled questions" in w for w in why), why


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


def test_a_history_must_hold_one_answer_per_row(tmp_path: Path) -> None:
    path = calibrate.save(_fit(eye_colours(200)), tmp_path / "fake-llm.json")
    data = json.loads(path.read_text())
    data["signals"]["neighbours"]["history"]["answers"] = ["blue"]
    assert_refused(path, data, "answers")


def test_without_a_question_vector_the_own_signals_fail_safe(tmp_path: Path) -> None:
    router = Router(calibration=_reload(_fit(eye_colours(200)), tmp_path, Broken()),
                    policy=Policy(threshold=0.5))
    q = "The eye colour of person 9001 is"
    assert not router.prepare(q)
    conf, why = router.confidence(question=q, generation=gen("Brown", (-0.3, -0.2)),
                                  skill=None)
    assert conf is None and any("non-finite" in w for w in why), why
    assert any("question embedding unavailable" in w for w in why), why


def test_the_skip_threshold_is_chosen_to_lose_at_most_one_percent_of_right_answers() -> None:
    from edgesdk.routing.fitting.fit import SKIP_GRID, SKIP_MAX_LOST, choose_skip_below

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
