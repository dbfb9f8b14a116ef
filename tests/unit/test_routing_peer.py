"""The peer-agreement signal: matching rules, fitting, the router's use of it and its fallback."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from edgesdk.errors import CalibrationError
from edgesdk.routing import calibration as calibrate
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.peer import PEER_FEATURES, agreement, peer_features
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from edgesdk.routing.signal import LabelledRow, Request, RunTime, Signal
from edgesdk.routing.signals.evidence import generation_features
from edgesdk.routing.signals.peer import PeerSignal
from edgesdk.routing.signals.percepts import PerceptSignal
from edgesdk.routing.signals.surface import question_features
from edgesdk.types import Generation
from tests.unit._routing_fakes import fake_calibration, gen, synthetic_outcomes

Q = "The capital of Peru is"


def generic(question: str, generation: Generation | None) -> dict[str, float]:
    """What the generic signals compute for a request without percepts (the base scorer's
    input), straight from the signal modules rather than through the router."""
    return {**generation_features(question, generation), **question_features(question),
            **PerceptSignal().compute(Request(question=question), [])}


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
    # the peer signal computes them from the request's peer answer, and only from it
    signal = PeerSignal(model_id="fake-peer")
    assert isinstance(signal, Signal) and signal.role == "optional"
    assert signal.features == PEER_FEATURES
    why: list[str] = []
    got = signal.compute(Request(question=Q, generation=gen(" Lima", (-0.1,)),
                                 peer=gen("Lima", (-0.2,))), why)
    assert set(got) == set(PEER_FEATURES) and got["peer_agree"] == 1.0
    assert any("peer fake-peer agreement 1.00" in w for w in why)
    missing = signal.compute(Request(question=Q, generation=gen(" Lima", (-0.1,))), why)
    assert set(missing) == set(PEER_FEATURES)
    assert all(math.isnan(v) for v in missing.values())
    assert any("no answer from peer fake-peer" in w for w in why)
    # the generic signals never read a peer
    assert not set(PEER_FEATURES) & set(generic(Q, gen(" Lima", (-0.1,))))


def test_peer_signal_state_is_the_peer_model() -> None:
    signal = PeerSignal(model_id="fake-peer")
    assert signal.state() == {"model_id": "fake-peer"}
    back = PeerSignal.from_state(signal.state(), RunTime())
    assert isinstance(back, PeerSignal) and back.model_id == "fake-peer"


def _with_peers(seed: int = 5) -> list[LabelledRow]:
    """The peer agrees with right answers, and with a few wrong ones."""
    rng = random.Random(seed)
    out = []
    for o in synthetic_outcomes(300, seed=seed):
        assert o.generation is not None
        agree = o.correct or rng.random() < 0.15
        text = o.generation.text if agree else " Quito"
        out.append(LabelledRow(question=o.question, generation=o.generation, skill=o.skill,
                               correct=o.correct, peer=gen(text, (-0.3, -0.5))))
    return out


OUTCOMES = _with_peers()
CAL = fit_calibration(OUTCOMES, model_id="fake-llm", model_sha256="a" * 64,
                      peer_model_id="fake-peer")


def test_fit_stores_both_scorers_and_round_trips(tmp_path: Path) -> None:
    assert list(CAL.signals) == ["evidence", "surface", "percepts", "peer"]
    assert isinstance(CAL.signal("peer"), PeerSignal) and list(CAL.optional) == ["peer"]
    entry = CAL.optional["peer"]
    assert len(entry.quantiles) == 101 and list(entry.quantiles) == sorted(entry.quantiles)
    # the peer scorer reads the base features and the peer's; the base one never the peer's
    assert set(PEER_FEATURES) <= set(entry.scorer.features)
    assert set(CAL.scorer.features) <= set(entry.scorer.features)
    assert not set(PEER_FEATURES) & set(CAL.scorer.features)
    assert CAL.fit_info["signals"] == ["evidence", "surface", "percepts", "peer"]
    assert CAL.fit_info["cv_auroc_with_peer"] > CAL.fit_info["cv_auroc"]
    back = calibrate.load("fake-llm", path=calibrate.save(CAL, tmp_path / "c.json"))
    assert back.to_json() == CAL.to_json()
    peer = back.signal("peer")
    assert isinstance(peer, PeerSignal) and peer.state() == {"model_id": "fake-peer"}
    assert back.optional["peer"].quantiles == pytest.approx(entry.quantiles)
    assert Router(calibration=back, policy=Policy(threshold=0.5)).peer_model_id == "fake-peer"
    plain = fake_calibration()
    assert not plain.optional and plain.signal("peer") is None
    back_plain = calibrate.load("fake-llm", path=calibrate.save(plain, tmp_path / "p.json"))
    assert Router(calibration=back_plain, policy=Policy(threshold=0.5)).peer_model_id is None


def test_fit_refuses_without_peer_answers() -> None:
    with pytest.raises(CalibrationError, match="no answer from the peer"):
        fit_calibration(synthetic_outcomes(), model_id="fake-llm", model_sha256="a" * 64,
                        peer_model_id="fake-peer")


def test_router_uses_the_peer_and_falls_back_without_it() -> None:
    router = Router(calibration=CAL, policy=Policy(threshold=0.5),
                    optional_policies={"peer": Policy(threshold=0.4)})
    assert router.peer_model_id == "fake-peer"
    o = next(o for o in OUTCOMES if o.correct and "capital" in o.question)
    w = next(o for o in OUTCOMES if not o.correct and "capital" in o.question
             and o.peer is not None and o.peer.text == " Quito")
    agree, why = router.confidence(question=o.question, generation=o.generation, skill=None,
                                   peer=o.peer)
    assert agree is not None and any("agreement 1.00" in x for x in why)
    extra = PeerSignal(model_id="fake-peer").compute(
        Request(question=o.question, generation=o.generation, peer=o.peer), [])
    assert agree == pytest.approx(CAL.optional["peer"].scorer.prob(
        {**generic(o.question, o.generation), **extra}))
    plain, why_plain = router.confidence(question=o.question, generation=o.generation,
                                         skill=None)
    assert plain == pytest.approx(CAL.scorer.prob(generic(o.question, o.generation)))
    assert any("no answer from peer fake-peer" in x for x in why_plain)
    disagree, _ = router.confidence(question=w.question, generation=w.generation, skill=None,
                                    peer=w.peer)
    assert disagree is not None and disagree < agree
    d = router.decide(question=o.question, generation=o.generation, skill=None, peer=o.peer)
    assert d.threshold == pytest.approx(0.4)
    d = router.decide(question=o.question, generation=o.generation, skill=None)
    assert d.threshold == pytest.approx(0.5)


def test_router_without_an_optional_policy_uses_the_base_one_for_the_peer() -> None:
    router = Router(calibration=CAL, policy=Policy(threshold=0.5))
    o = next(o for o in OUTCOMES if o.correct and "capital" in o.question)
    d = router.decide(question=o.question, generation=o.generation, skill=None, peer=o.peer)
    assert d.threshold == pytest.approx(0.5)
    assert any("agreement 1.00" in x for x in d.reasons)


def test_for_model_derives_a_peer_policy_from_the_peer_quantiles(tmp_path: Path) -> None:
    from edgesdk.devices import get_profile

    path = calibrate.save(CAL, tmp_path / "c.json")
    router = Router.for_model("fake-llm", profile=get_profile("watch"), path=path,
                              check_model_file=False, target_cloud_share=0.3)
    assert set(router.optional_policies) == {"peer"} and router.peer_model_id == "fake-peer"
    assert router.policy.threshold == pytest.approx(CAL.threshold_for_share(0.3))
    assert router.optional_policies["peer"].threshold == pytest.approx(
        CAL.optional["peer"].threshold_for_share(0.3))


def test_router_without_a_peer_scorer_ignores_a_peer() -> None:
    router = Router(calibration=fake_calibration(), policy=Policy(threshold=0.5))
    assert router.peer_model_id is None
    g = gen(" Lima", (-0.1, -0.2))
    with_peer, _ = router.confidence(question=Q, generation=g, skill=None,
                                     peer=gen("Quito", (-1.0,)))
    alone, _ = router.confidence(question=Q, generation=g, skill=None)
    assert with_peer is not None and with_peer == alone


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
