"""The hidden-state probe signal: fitting, round trip, the router's use of it and its
fallback, and the on-disk cache of hidden states."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from edgesdk.devices import get_profile
from edgesdk.errors import CalibrationError
from edgesdk.routing import calibration as calibrate
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.hidden import CachedHiddenStates
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from edgesdk.routing.signal import LabelledRow, Request, RunTime
from edgesdk.routing.signals.probe import ProbeSignal
from tests.unit._routing_fakes import fake_calibration, gen, synthetic_outcomes

OUTCOMES = synthetic_outcomes(300, seed=3)
TRUTH = {o.question: o.correct for o in OUTCOMES}


class FakeHidden:
    """A 'hidden state' that leaks a noisy copy of the truth, as a good probe would find."""

    def __init__(self) -> None:
        self.calls = 0
        self.closed = 0

    def state(self, question: str, answer: str) -> Sequence[float]:
        self.calls += 1
        right = TRUTH.get(question, False)
        return [1.0 if right else -1.0, float(len(question) % 7), 0.5]

    def close(self) -> None:
        self.closed += 1


class BrokenHidden:
    def state(self, question: str, answer: str) -> Sequence[float]:
        raise RuntimeError("llama.cpp went away")


CAL = fit_calibration(OUTCOMES, model_id="fake-llm", model_sha256="a" * 64,
                      hidden=FakeHidden().state)


def _with_hidden(hidden: object, tmp_path: Path) -> calibrate.Calibration:
    """``CAL`` as a device loads it: from its file, with a hidden-state source."""
    path = calibrate.save(CAL, tmp_path / "c.json")
    return calibrate.load("fake-llm", path=path, runtime=RunTime(hidden=hidden))


def _router(hidden: object, tmp_path: Path, **kw: object) -> Router:
    return Router(calibration=_with_hidden(hidden, tmp_path), policy=Policy(threshold=0.5),
                  **kw)  # type: ignore[arg-type]


def test_probe_is_fitted_and_round_trips(tmp_path: Path) -> None:
    probe = CAL.signal("probe")
    assert isinstance(probe, ProbeSignal) and probe.role == "optional"
    assert list(CAL.optional) == ["probe"] and len(CAL.optional["probe"].quantiles) == 101
    assert "hs_logit" in CAL.optional["probe"].scorer.features
    assert "hs_logit" not in CAL.scorer.features
    assert CAL.fit_info["cv_auroc_with_probe"] > CAL.fit_info["cv_auroc"]
    back = calibrate.load("fake-llm", path=calibrate.save(CAL, tmp_path / "c.json"))
    assert back.to_json() == CAL.to_json()
    loaded = back.signal("probe")
    assert isinstance(loaded, ProbeSignal)
    assert loaded.probe.logit([1.0, 2.0, 0.5]) == pytest.approx(
        probe.probe.logit([1.0, 2.0, 0.5]), abs=1e-3)
    # without a hidden-state source it computes nothing (the base scorer decides)
    assert loaded.hidden is None
    assert math.isnan(loaded.compute(Request(question="q", generation=gen(" x", (-0.1,))),
                                     [])["hs_logit"])
    hidden = FakeHidden()
    with_source = calibrate.load("fake-llm", path=tmp_path / "c.json",
                                 runtime=RunTime(hidden=hidden)).signal("probe")
    assert isinstance(with_source, ProbeSignal) and with_source.hidden is hidden


def test_probe_state_is_validated(tmp_path: Path) -> None:
    path = calibrate.save(CAL, tmp_path / "c.json")
    data = json.loads(path.read_text())
    data["signals"]["probe"]["weights"] = data["signals"]["probe"]["weights"][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="differ in length"):
        calibrate.load("fake-llm", path=path)


def test_router_uses_the_probe(tmp_path: Path) -> None:
    hidden = FakeHidden()
    router = _router(hidden, tmp_path, optional_policies={"probe": Policy(threshold=0.4)})
    o = next(o for o in OUTCOMES if not o.correct and "capital" in o.question)
    conf, why = router.confidence(question=o.question, generation=o.generation, skill=None)
    assert hidden.calls == 1 and any("hidden-state probe" in w for w in why)
    plain = Router(calibration=CAL, policy=Policy(threshold=0.5))  # fitted: no source
    conf_plain, why_plain = plain.confidence(question=o.question, generation=o.generation,
                                             skill=None)
    assert not any("hidden-state probe" in w for w in why_plain)
    assert conf is not None and conf_plain is not None and conf < conf_plain
    assert router.decide(question=o.question, generation=o.generation,
                         skill=None).threshold == pytest.approx(0.4)
    assert plain.decide(question=o.question, generation=o.generation,
                        skill=None).threshold == pytest.approx(0.5)


def test_probe_failure_falls_back_to_signals(tmp_path: Path) -> None:
    router = _router(BrokenHidden(), tmp_path,
                     optional_policies={"probe": Policy(threshold=0.4)})
    question, g = "The capital of Peru is", gen(" Lima", (-0.1,))
    conf, why = router.confidence(question=question, generation=g, skill=None)
    assert conf is not None and any("probe failed" in w for w in why)
    base, _ = Router(calibration=CAL, policy=Policy(threshold=0.5)).confidence(
        question=question, generation=g, skill=None)
    assert conf == pytest.approx(base)
    # and the base policy decides
    assert router.decide(question=question, generation=g,
                         skill=None).threshold == pytest.approx(0.5)


def test_for_model_with_hidden_uses_the_probe_and_closes_it(tmp_path: Path) -> None:
    path = calibrate.save(CAL, tmp_path / "c.json")
    hidden = FakeHidden()
    router = Router.for_model("fake-llm", profile=get_profile("watch"), path=path,
                              check_model_file=False, hidden=hidden)
    assert set(router.optional_policies) == {"probe"}
    o = next(o for o in OUTCOMES if "capital" in o.question)
    _, why = router.confidence(question=o.question, generation=o.generation, skill=None)
    assert hidden.calls == 1 and any("hidden-state probe logit" in w for w in why)
    router.close()
    assert hidden.closed == 1
    # the same file without a source: the probe is never asked
    plain = Router.for_model("fake-llm", profile=get_profile("watch"), path=path,
                             check_model_file=False)
    _, why = plain.confidence(question=o.question, generation=o.generation, skill=None)
    assert not any("hidden-state probe" in w for w in why)


def test_probe_needs_a_probe_calibration(tmp_path: Path) -> None:
    path = calibrate.save(fake_calibration(), tmp_path / "c.json")
    with pytest.raises(CalibrationError, match="no hidden-state probe"):
        Router.for_model("fake-llm", profile=get_profile("watch"), path=path,
                         check_model_file=False, hidden=FakeHidden())
    assert Router.for_model("fake-llm", profile=get_profile("watch"), path=path,
                            check_model_file=False).calibration.signal("probe") is None


def test_a_peer_answer_takes_precedence_over_the_probe(tmp_path: Path) -> None:
    rows = [LabelledRow(question=o.question, generation=o.generation, skill=None,
                        correct=o.correct, peer=gen(" Lima" if o.correct else " Quito", (-0.3,)))
            for o in OUTCOMES]
    cal = fit_calibration(rows, model_id="fake-llm", model_sha256="a" * 64,
                          hidden=FakeHidden().state, peer_model_id="fake-peer")
    assert list(cal.optional) == ["peer", "probe"]
    hidden = FakeHidden()
    path = calibrate.save(cal, tmp_path / "both.json")
    router = Router(calibration=calibrate.load("fake-llm", path=path,
                                               runtime=RunTime(hidden=hidden)),
                    policy=Policy(threshold=0.5),
                    optional_policies={"peer": Policy(threshold=0.4),
                                       "probe": Policy(threshold=0.3)})
    o = rows[0]
    d = router.decide(question=o.question, generation=o.generation, skill=None, peer=o.peer)
    assert d.threshold == pytest.approx(0.4) and hidden.calls == 0
    d = router.decide(question=o.question, generation=o.generation, skill=None)
    assert d.threshold == pytest.approx(0.3) and hidden.calls == 1


def test_cached_hidden_states(tmp_path: Path) -> None:
    source = FakeHidden()
    cache = CachedHiddenStates(source=source, path=tmp_path / "h.npz")
    first = cache.state("q", "a")
    cache.state("q", "a")
    assert source.calls == 1
    cache.save()
    again = CachedHiddenStates(source=None, path=tmp_path / "h.npz")
    assert again.get("q", "a") == pytest.approx(first)
    with pytest.raises(KeyError):
        again.state("other", "a")
