from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from edgesdk.errors import CalibrationError
from edgesdk.routing import calibrate
from edgesdk.routing.fit import fit_calibration
from edgesdk.routing.hidden import CachedHiddenStates
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from tests.unit._routing_fakes import fake_calibration, gen, synthetic_outcomes

OUTCOMES = synthetic_outcomes(300, seed=3)
TRUTH = {o.question: o.correct for o in OUTCOMES}


class FakeHidden:
    """A 'hidden state' that leaks a noisy copy of the truth, as a good probe would find."""

    def __init__(self) -> None:
        self.calls = 0

    def state(self, question: str, answer: str) -> Sequence[float]:
        self.calls += 1
        right = TRUTH.get(question, False)
        return [1.0 if right else -1.0, float(len(question) % 7), 0.5]


class BrokenHidden:
    def state(self, question: str, answer: str) -> Sequence[float]:
        raise RuntimeError("llama.cpp went away")


def _cal() -> calibrate.Calibration:
    hidden = FakeHidden()
    return fit_calibration(OUTCOMES, model_id="fake-llm", model_sha256="a" * 64,
                           hidden=hidden.state)


def test_probe_is_fitted_and_round_trips(tmp_path: Path) -> None:
    cal = _cal()
    assert cal.probe is not None and cal.scorer_probe is not None
    assert cal.fit_info["cv_auroc_with_probe"] > cal.fit_info["cv_auroc"]
    back = calibrate.load("fake-llm", path=calibrate.save(cal, tmp_path / "c.json"))
    assert back.probe is not None
    assert back.probe.logit([1.0, 2.0, 0.5]) == pytest.approx(cal.probe.logit([1.0, 2.0, 0.5]),
                                                              abs=1e-3)


def test_router_uses_the_probe() -> None:
    cal = _cal()
    hidden = FakeHidden()
    router = Router(calibration=cal, policy=Policy(threshold=0.5), hidden=hidden)
    o = next(o for o in OUTCOMES if not o.correct and "capital" in o.question)
    conf, why = router.confidence(question=o.question, generation=o.generation, skill=None)
    assert hidden.calls == 1 and any("hidden-state probe" in w for w in why)
    plain = Router(calibration=cal, policy=Policy(threshold=0.5))
    conf_plain, _ = plain.confidence(question=o.question, generation=o.generation, skill=None)
    assert conf is not None and conf_plain is not None and conf < conf_plain


def test_probe_failure_falls_back_to_signals() -> None:
    router = Router(calibration=_cal(), policy=Policy(threshold=0.5), hidden=BrokenHidden())
    conf, why = router.confidence(question="The capital of Peru is",
                                  generation=gen(" Lima", (-0.1,)), skill=None)
    assert conf is not None and any("probe failed" in w for w in why)


def test_probe_needs_a_probe_calibration() -> None:
    with pytest.raises(CalibrationError, match="no hidden-state probe"):
        Router(calibration=fake_calibration(), policy=Policy(threshold=0.5),
               hidden=FakeHidden())


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
