"""The peer-agreement signal: matching rules, fitting, the router's use of it and its fallback."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from edgesdk.errors import CalibrationError
from edgesdk.routing import calibrate, signals
from edgesdk.routing.fit import Outcome, fit_calibration
from edgesdk.routing.peer import PEER_FEATURES, agreement, peer_features
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from tests.unit._routing_fakes import fake_calibration, gen, synthetic_outcomes

Q = "The capital of Peru is"


@pytest.mark.parametrize(("a", "b", "key"), [
    ("Lima", "The capital of Peru is Lima.", "peer_contain"),
    (" Lima", "lima", "peer_same"),
    ("It is 42 apples", "42", "peer_num_same"),
    ("Yes, it is.", "yes", "peer_yn_same"),
])
def test_agreement_matches_like_the_evaluation(a: str, b: str, key: str) -> None:
    feats = agreement(Q, a, b)
    assert feats[key] == 1.0 and feats["peer_agree"] == 1.0


@pytest.mark.parametrize(("a", "b"), [
    ("Lima", "Cusco"),
    ("It is 42", "41"),
    ("Yes", "No, never"),
    ("The capital of Peru is", "The capital of Peru"),  # copying the question is no answer
])
def test_disagreement(a: str, b: str) -> None:
    assert agreement(Q, a, b)["peer_agree"] < 0.5


def test_jaccard_and_numbers_are_flagged_apart() -> None:
    f = agreement("How many legs has a spider?", "8 legs", "It has 6 legs")
    assert f["peer_num_diff"] == 1.0 and f["peer_agree"] == 0.0
    assert 0.0 < agreement(Q, "Lima city", "Lima town")["peer_jaccard"] < 1.0


def test_peer_features_missing_are_nan() -> None:
    feats = peer_features(Q, gen(" Lima", (-0.1,)), None)
    assert set(feats) == set(PEER_FEATURES) and all(math.isnan(v) for v in feats.values())
    full = peer_features(Q, gen(" Lima", (-0.1,)), gen("Lima", (-0.2, -0.4)))
    assert full["peer_lp_min"] == pytest.approx(-0.4) and full["peer_agree"] == 1.0
    assert "peer_agree" in signals.extract(Q, gen(" Lima", (-0.1,)), peer=gen("Lima", (-0.2,)))
    assert "peer_agree" not in signals.extract(Q, gen(" Lima", (-0.1,)))


def _with_peers(seed: int = 5) -> list[Outcome]:
    """The peer agrees with right answers, and with a few wrong ones."""
    rng = random.Random(seed)
    out = []
    for o in synthetic_outcomes(300, seed=seed):
        assert o.generation is not None
        agree = o.correct or rng.random() < 0.15
        text = o.generation.text if agree else " Quito"
        out.append(Outcome(question=o.question, generation=o.generation, skill=o.skill,
                           correct=o.correct, peer=gen(text, (-0.3, -0.5))))
    return out


OUTCOMES = _with_peers()
CAL = fit_calibration(OUTCOMES, model_id="fake-llm", model_sha256="a" * 64,
                      peer_model_id="fake-peer")


def test_fit_stores_both_scorers_and_round_trips(tmp_path: Path) -> None:
    assert CAL.wants_peer and CAL.scorer_peer is not None and len(CAL.quantiles_peer) == 101
    assert CAL.fit_info["cv_auroc_with_peer"] > CAL.fit_info["cv_auroc"]
    back = calibrate.load("fake-llm", path=calibrate.save(CAL, tmp_path / "c.json"))
    assert back.peer_model_id == "fake-peer" and back.scorer_peer is not None
    assert back.quantiles_peer == pytest.approx(CAL.quantiles_peer)
    plain = fake_calibration()
    assert not plain.wants_peer
    assert calibrate.load("fake-llm", path=calibrate.save(plain, tmp_path / "p.json")
                          ).peer_model_id is None


def test_fit_refuses_without_peer_answers() -> None:
    with pytest.raises(CalibrationError, match="no answer from the peer"):
        fit_calibration(synthetic_outcomes(), model_id="fake-llm", model_sha256="a" * 64,
                        peer_model_id="fake-peer")


def test_router_uses_the_peer_and_falls_back_without_it() -> None:
    router = Router(calibration=CAL, policy=Policy(threshold=0.5),
                    peer_policy=Policy(threshold=0.4))
    assert router.peer_model_id == "fake-peer"
    o = next(o for o in OUTCOMES if o.correct and "capital" in o.question)
    w = next(o for o in OUTCOMES if not o.correct and "capital" in o.question
             and o.peer is not None and o.peer.text == " Quito")
    agree, why = router.confidence(question=o.question, generation=o.generation, skill=None,
                                   peer=o.peer)
    assert agree is not None and any("agreement 1.00" in x for x in why)
    plain, why_plain = router.confidence(question=o.question, generation=o.generation,
                                         skill=None)
    assert plain == pytest.approx(CAL.scorer.prob(signals.extract(o.question, o.generation)))
    assert any("no answer from peer fake-peer" in x for x in why_plain)
    disagree, _ = router.confidence(question=w.question, generation=w.generation, skill=None,
                                    peer=w.peer)
    assert disagree is not None and disagree < agree
    d = router.decide(question=o.question, generation=o.generation, skill=None, peer=o.peer)
    assert d.threshold == pytest.approx(0.4)
    d = router.decide(question=o.question, generation=o.generation, skill=None)
    assert d.threshold == pytest.approx(0.5)


def test_router_without_a_peer_scorer_ignores_a_peer() -> None:
    router = Router(calibration=fake_calibration(), policy=Policy(threshold=0.5))
    assert router.peer_model_id is None
    g = gen(" Lima", (-0.1, -0.2))
    with_peer, why = router.confidence(question=Q, generation=g, skill=None, peer=gen("Quito",
                                                                                       (-1.0,)))
    assert with_peer == router.confidence(question=Q, generation=g, skill=None)[0]
    assert any("peer answer ignored" in x for x in why)


def test_peer_does_not_rescue_missing_signals() -> None:
    router = Router(calibration=CAL, policy=Policy(threshold=0.5))
    d = router.decide(question=Q, generation=gen("", ()), skill=None, peer=gen("Lima", (-0.1,)))
    assert d.action == "escalate" and any("fail safe" in x for x in d.reasons)


def test_the_matchers_quick_reject_never_changes_a_verdict() -> None:
    import itertools

    from edgesdk.routing.peer import AnswerMatcher, _agreement, _prepare, _question_words

    answers = ["Paris", "Paris, France", "the piano", "piano", "Yes", "no", "Not really", "42",
               "The answer is 42.", "41.9", "1,000", "1000", "A", "", "  ", "是的", "北京",
               "北京市", "Lima", "The capital of Peru is Lima", "Peru", "New York City",
               "York"]
    for question in ("The capital of Peru is", "Is Paris in France?", "北京是中国的首都吗？"):
        words = _question_words(question)
        for mine, other in itertools.product(answers, repeat=2):
            full = _agreement(_prepare(mine, words), _prepare(other, words))["peer_agree"]
            assert AnswerMatcher(question, mine).agrees(other) is (full >= 1.0), (mine, other)
