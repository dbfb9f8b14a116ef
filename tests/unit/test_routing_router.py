from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from edgesdk.devices import DeviceState, get_profile
from edgesdk.errors import CalibrationError
from edgesdk.routing.calibration import Calibration
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.online import OnlineConfig, OnlineRecalibrator
from edgesdk.routing.policy import Policy, PolicyState
from edgesdk.routing.router import Router
from edgesdk.routing.signal import LabelledRow as Outcome
from edgesdk.routing.signal import RunTime
from edgesdk.types import DetectedObject, SkillResult
from tests.unit._routing_fakes import fake_calibration, gen, synthetic_outcomes

CAL = fake_calibration()


def router(**kw: object) -> Router:
    return Router(calibration=CAL, policy=Policy(threshold=0.5), **kw)  # type: ignore[arg-type]


def test_sure_fact_stays_word_problem_escalates() -> None:
    r = router()
    sure = r.decide(question="The capital of Peru is", generation=gen(" Lima", (-0.01, -0.02)),
                    skill=None, percepts=(), mode="prefer-on-device", state=PolicyState())
    assert sure.action == "stay" and sure.confidence > 0.5
    word = ("Tom has 5 apples and buys 3 bags with 4 apples in each bag. How many apples does "
            "he have now?")
    d = r.decide(question=word, generation=gen(" 12", (-0.1, -0.2)), skill=None, percepts=(),
                 mode="prefer-on-device", state=PolicyState())
    assert d.action == "escalate"
    assert any("kind math_word" in x for x in d.reasons)


def test_skill_uses_measured_accuracy() -> None:
    d = router().decide(question="What is 2 + 2?", generation=None,
                        skill=SkillResult(skill="arithmetic", text="4", value="4"), percepts=())
    assert d.action == "stay" and d.confidence == pytest.approx(CAL.skill_accuracy)


@pytest.mark.parametrize("generation", [None, gen("", ()), gen(" x", (math.nan, -0.1))])
def test_missing_signals_fail_safe(generation: object) -> None:
    d = router().decide(question="The capital of Peru is", generation=generation,  # type: ignore[arg-type]
                        skill=None, percepts=(), mode="prefer-on-device")
    assert d.action == "escalate"
    assert any("fail safe" in x for x in d.reasons)


def test_kinds_without_enough_labelled_examples_fail_safe() -> None:
    # the fake data has facts and word problems only; a lone arithmetic example must not
    # teach the scorer an arithmetic interaction it would extrapolate 35 sd out
    lone = Outcome(question="What is 17 * 23?", generation=gen(" 391", (-0.1,)), skill=None,
                   correct=True)
    # 30 yes/no answers: enough for the kind's indicator, too few for its nine interactions
    yes_no = [Outcome(question=f"Is country number {i} in Europe?", generation=gen(" Yes", (-0.3,)),
                      skill=None, correct=i % 2 == 0) for i in range(30)]
    cal = fit_calibration([*synthetic_outcomes(), lone, *yes_no], model_id="fake-llm",
                          model_sha256="a" * 64)
    assert cal.kinds == ("fact", "yes_no", "math_word")
    assert cal.fit_info["llm_answers_by_kind"]["arithmetic"] == 1
    assert not any("kind_arithmetic" in name for name in cal.scorer.features)
    assert not any("kind_arithmetic" in pair for pair in cal.scorer.interactions)
    assert "kind_yes_no" in cal.scorer.features
    assert not any("kind_yes_no" in pair for pair in cal.scorer.interactions)
    # interactions are a recipe the fit may choose; it tried them only for rich kinds
    assert any("+interactions" in name for name in cal.fit_info["recipes"])
    assert cal.prior is not None and "kind_open" not in cal.prior.features
    r = Router(calibration=cal, policy=Policy(threshold=0.5))
    sure = gen(" 4111 1111 1111 1111", (-0.01, -0.01, -0.01))
    for question in ("What is 17 * 23?", "Why is the sky blue?"):
        d = r.decide(question=question, generation=sure, skill=None, percepts=(),
                     mode="prefer-on-device", state=PolicyState())
        assert d.action == "escalate" and d.confidence == 0.0, question
        assert not d.confidence_known
        assert any("not fitted on such questions" in x for x in d.reasons)
        assert r.prior(question) is None  # never skips generation on a kind it cannot judge
    # a request to act is known to be beyond the device: confidence 0, not unknown
    d = r.decide(question="Turn off the lights", generation=sure, skill=None, percepts=(),
                 mode="prefer-on-device", state=PolicyState())
    assert d.action == "escalate" and d.confidence == 0.0 and d.confidence_known
    assert any("a request to act" in x for x in d.reasons)
    assert r.prior("Remind me to call mom") == 0.0  # skips generation when it can go up
    assert r.prior("The capital of country number 7 is") is not None
    # survives the file round trip; a file without the field scores every kind (older fits)
    again = Calibration.from_dict(json.loads(cal.to_json()), RunTime())
    assert again.kinds == cal.kinds and not again.fitted_on("open")
    legacy = {k: v for k, v in json.loads(cal.to_json()).items() if k != "kinds"}
    assert Calibration.from_dict(legacy, RunTime()).fitted_on("open")


def test_weak_percepts_lower_confidence() -> None:
    r = router()
    g = gen(" Lima", (-0.01, -0.02))
    plain = r.confidence(question="The capital of Peru is", generation=g, skill=None)[0]
    weak = r.confidence(question="The capital of Peru is", generation=g, skill=None,
                        percepts=[DetectedObject(label="Cat", box=(0, 0, 1, 1), score=0.25)])[0]
    assert plain is not None and weak is not None and weak < plain


def test_prior_separates_kinds() -> None:
    r = router()
    word = "Tom has 5 apples and buys 3 bags with 4 apples in each bag. How many does he have?"
    fact = r.prior("The capital of country number 7 is")
    hopeless = r.prior(word)
    assert fact is not None and hopeless is not None and hopeless < fact


def test_online_learning_is_opt_in_and_bounded() -> None:
    r = router(online=OnlineRecalibrator(config=OnlineConfig(min_samples=10, refit_every=1)))
    g = gen(" Lima", (-0.01, -0.02))
    before = r.confidence(question="The capital of Peru is", generation=g, skill=None)[0]
    for _ in range(60):
        r.observe(question="The capital of Peru is", generation=g, agreed=False)
    after = r.confidence(question="The capital of Peru is", generation=g, skill=None)[0]
    assert before is not None and after is not None
    assert before - 0.15 - 1e-9 <= after < before


def test_decision_is_fast() -> None:
    r = router()
    g = gen(" Lima", tuple(-0.1 * i for i in range(20)))
    t = time.perf_counter()
    for _ in range(200):
        r.decide(question="The capital of Peru is", generation=g, skill=None, percepts=())
    per = (time.perf_counter() - t) / 200
    assert per < 0.02  # generous: the report measures the real p50 (target ≤ 1 ms)


def test_for_model_without_calibration() -> None:
    with pytest.raises(CalibrationError):
        Router.for_model("no-such-model", profile=get_profile("watch"), check_model_file=False)


class _BrokenEmbedder:
    def embed(self, texts: object) -> object:
        raise RuntimeError("no embedding model")


def _bank_router(embedder: object, tmp_path: Path) -> Router:
    from edgesdk.routing.calibration import save
    from edgesdk.routing.fitting.fit import fit_calibration
    from tests.unit.test_routing_neighbours import HashEmbedder, piano_or_kazoo

    cal = fit_calibration(piano_or_kazoo(), model_id="fake-llm", model_sha256="a" * 64,
                          embed=HashEmbedder().embed, embedder_id="hash")
    path = save(cal, tmp_path / "fake-llm.json")
    return Router.for_model("fake-llm", profile=get_profile("phone"), path=path,
                            check_model_file=False, embedder=embedder)  # type: ignore[arg-type]


def test_answer_bank_reads_the_question_embedding_once_per_question(tmp_path: Path) -> None:
    from tests.unit.test_routing_neighbours import HashEmbedder

    emb = HashEmbedder()
    r = _bank_router(emb, tmp_path)
    q = "The instrument played by musician 5000 is"
    assert r.prepare(q) and emb.calls == 1
    d = r.decide(question=q, generation=gen("piano", (-0.3, -0.2)), skill=None)
    assert emb.calls == 1  # computed ahead (before generation), reused by the decision
    assert any("near labelled questions" in x for x in d.reasons)
    kazoo = r.decide(question=q, generation=gen("kazoo", (-0.3, -0.2)), skill=None)
    assert kazoo.confidence < d.confidence
    assert router().prepare(q)  # no lookup: nothing to prepare


def test_answer_bank_without_an_embedding_fails_safe(tmp_path: Path) -> None:
    r = _bank_router(_BrokenEmbedder(), tmp_path)
    assert not r.prepare("The instrument played by musician 1 is")
    d = r.decide(question="The instrument played by musician 1 is",
                 generation=gen("piano", (-0.01, -0.01)), skill=None)
    assert d.action == "escalate"
    assert any("question embedding unavailable" in x for x in d.reasons)
    assert any("fail safe" in x for x in d.reasons)


def test_refusal_needs_a_known_low_confidence() -> None:
    offline = PolicyState(device=DeviceState(network="none"))
    policy = Policy(threshold=0.5, refuse_below=0.05)
    low = policy.decide(question="q", confidence=0.01, mode="prefer-on-device", state=offline)
    assert low.action == "refuse" and any("refusal floor 0.05" in x for x in low.reasons)
    unknown = policy.decide(question="q", confidence=None, mode="prefer-on-device",
                            state=offline)  # e.g. open-ended text: shown as it is
    assert unknown.action == "stay" and not unknown.confidence_known
    sure = policy.decide(question="q", confidence=0.3, mode="prefer-on-device", state=offline)
    assert sure.action == "stay" and sure.confidence_known
    assert Policy(threshold=0.5).decide(question="q", confidence=0.01, mode="prefer-on-device",
                                        state=offline).action == "stay"  # no floor: show it


def test_routers_share_one_loaded_minilm() -> None:
    from edgesdk.local.embed import L3_MODEL_ID, MODEL_ID
    from edgesdk.routing.neighbours import HASHED_ID
    from edgesdk.routing.signals.neighbours import bank_embedder as _bank_embedder

    # ~100-160 MB each: a process with several routers (an app, an edge server) loads it once
    assert _bank_embedder(MODEL_ID) is _bank_embedder(MODEL_ID)
    assert _bank_embedder(L3_MODEL_ID) is _bank_embedder(L3_MODEL_ID)
    assert _bank_embedder(L3_MODEL_ID) is not _bank_embedder(MODEL_ID)
    assert _bank_embedder(L3_MODEL_ID).model_id == L3_MODEL_ID
    assert _bank_embedder(HASHED_ID) is not _bank_embedder(HASHED_ID)  # no state to share
