"""The Signal seam end to end with a toy signal: register it, fit a calibration that reads it,
save and load it (its state round-trips), route with it, and refuse a calibration naming a
signal this edgesdk does not know."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from edgesdk.errors import CalibrationError
from edgesdk.routing import calibration as calibrate
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.online_store import calibration_key
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from edgesdk.routing.signal import (
    _REGISTRY,
    BaseSignal,
    FitData,
    LabelledRow,
    Request,
    RunTime,
    Signal,
    register,
    registered,
    signal_type,
)
from tests.unit._routing_fakes import gen, synthetic_outcomes

SIGNALS = ("evidence", "surface", "shouting")


class Shouting(BaseSignal):
    """Toy generic signal: does the question shout? ``q_shouts`` is 1.0 when it has at least
    ``bangs`` exclamation marks; ``fit`` picks ``bangs`` (its state) from the labelled rows:
    the count that best splits right from wrong answers."""

    name: ClassVar[str] = "shouting"
    names: ClassVar[tuple[str, ...]] = ("q_shouts",)

    def __init__(self, *, bangs: int) -> None:
        self.bangs = bangs

    def compute(self, request: Request, why: list[str]) -> dict[str, float]:
        shouts = request.question.count("!") >= self.bangs
        if shouts:
            why.append(f"shouting ({self.bangs}+ '!')")
        return {"q_shouts": float(shouts)}

    def state(self) -> dict[str, Any]:
        return {"bangs": self.bangs}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], runtime: RunTime) -> Shouting:
        bangs = int(state["bangs"])
        if bangs < 1:
            raise ValueError(f"shouting: bangs must be at least 1, not {bangs}")
        return cls(bangs=bangs)

    @classmethod
    def fit(cls, data: FitData) -> tuple[Shouting, list[dict[str, float]]]:
        def gap(bangs: int) -> float:
            loud = [r.correct for r in data.llm_rows if r.question.count("!") >= bangs]
            calm = [r.correct for r in data.llm_rows if r.question.count("!") < bangs]
            if not loud or not calm:
                return 0.0
            return abs(sum(loud) / len(loud) - sum(calm) / len(calm))

        signal = cls(bangs=max((1, 2, 3), key=gap))
        return signal, [signal.compute(Request(question=r.question), []) for r in data.llm_rows]


@pytest.fixture
def shouting() -> Iterator[type[Shouting]]:
    """``Shouting`` registered for one test (the registry is module-global)."""
    assert "shouting" not in registered()
    register(Shouting)
    try:
        yield Shouting
    finally:
        _REGISTRY.pop("shouting", None)


def shouted_rows() -> list[LabelledRow]:
    """``synthetic_outcomes``, where two facts in three are shouted ("… is!!") and wrong,
    however sure the model was, and the third merely exclaims ("… is!") as before."""
    rows = []
    for i, o in enumerate(synthetic_outcomes(400, seed=7)):
        if "capital" in o.question and i % 2 == 0:
            o = replace(o, question=o.question + "!!", correct=False)
        elif "capital" in o.question:
            o = replace(o, question=o.question + "!")
        rows.append(o)
    return rows


def _fit() -> calibrate.Calibration:
    return fit_calibration(shouted_rows(), model_id="fake-llm", model_sha256="a" * 64,
                           signals=SIGNALS)


def test_registry_refuses_a_second_class_under_a_name(shouting: type[Shouting]) -> None:
    assert "shouting" in registered() and signal_type("shouting") is shouting
    assert register(shouting) is shouting  # registering the same class again is harmless
    assert isinstance(shouting(bangs=1), Signal)

    class Impostor(BaseSignal):
        name: ClassVar[str] = "shouting"

    class Evidence(BaseSignal):
        name: ClassVar[str] = "evidence"

    class Nameless(BaseSignal):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register(Impostor)
    with pytest.raises(ValueError, match="already registered"):
        register(Evidence)
    with pytest.raises(ValueError, match="needs a class attribute 'name'"):
        register(Nameless)
    assert signal_type("shouting") is shouting
    with pytest.raises(KeyError, match="no signal named 'whispering'"):
        signal_type("whispering")


def test_a_toy_signal_is_fitted_saved_loaded_and_routed_with(
        shouting: type[Shouting], tmp_path: Path) -> None:
    cal = _fit()
    fitted = cal.signal("shouting")
    assert isinstance(fitted, shouting) and fitted.bangs == 2  # "!!" splits right from wrong
    assert list(cal.signals) == list(SIGNALS) and cal.fit_info["signals"] == list(SIGNALS)
    assert not cal.optional
    # the base scorer reads the toy's feature, and shouting lowers the confidence
    assert "q_shouts" in cal.scorer.features
    weight = cal.scorer.weights[cal.scorer.features.index("q_shouts")]
    assert weight < 0 and math.isfinite(weight)

    path = calibrate.save(cal, tmp_path / "fake-llm.json")
    assert json.loads(path.read_text())["signals"]["shouting"] == {"bangs": 2}
    back = calibrate.load("fake-llm", model_sha256="a" * 64, path=path)
    loaded = back.signal("shouting")
    assert isinstance(loaded, shouting) and loaded is not fitted and loaded.bangs == 2
    assert back.to_json() == cal.to_json()
    assert calibration_key(back) == calibration_key(calibrate.load("fake-llm", path=path))
    # its state is part of what online labels are relative to
    assert calibration_key(replace(back, signals={**back.signals, "shouting": shouting(bangs=3)})
                           ) != calibration_key(back)

    router = Router(calibration=back, policy=Policy(threshold=0.5))
    sure = gen(" Lima", (-0.01, -0.01, -0.02))
    calm, why_calm = router.confidence(question="The capital of country number 8 is",
                                       generation=sure, skill=None)
    loud, why_loud = router.confidence(question="The capital of country number 8 is!!",
                                       generation=sure, skill=None)
    assert calm is not None and loud is not None and loud < calm - 0.2
    assert any("shouting (2+ '!')" in w for w in why_loud)
    assert not any("shouting" in w for w in why_calm)
    # one "!" is below the fitted state's two: the loaded state, not a default, decides
    one, _ = router.confidence(question="The capital of country number 8 is!",
                               generation=sure, skill=None)
    assert one == pytest.approx(calm)
    stay = router.decide(question="The capital of country number 8 is", generation=sure,
                         skill=None)
    shout = router.decide(question="The capital of country number 8 is!!", generation=sure,
                          skill=None)
    assert stay.action == "stay" and shout.action == "escalate"
    assert any("shouting" in r for r in shout.reasons)


def test_a_failing_toy_signal_fails_safe(shouting: type[Shouting]) -> None:
    class Hoarse(shouting):
        def compute(self, request: Request, why: list[str]) -> dict[str, float]:
            raise RuntimeError("lost its voice")

    cal = _fit()
    router = Router(calibration=replace(cal, signals={**cal.signals, "shouting": Hoarse(bangs=2)}),
                    policy=Policy(threshold=0.5))
    conf, why = router.confidence(question="The capital of country number 8 is",
                                  generation=gen(" Lima", (-0.01,)), skill=None)
    assert conf is None and any("signal shouting failed (RuntimeError)" in w for w in why)


def test_a_calibration_naming_an_unknown_signal_is_refused(
        shouting: type[Shouting], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = calibrate.save(_fit(), tmp_path / "fake-llm.json")
    data = json.loads(path.read_text())
    data["signals"]["shouting"] = {"bangs": 0}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="bangs must be at least 1"):
        calibrate.load("fake-llm", path=bad)
    monkeypatch.delitem(_REGISTRY, "shouting")  # an edgesdk that does not know the toy
    with pytest.raises(CalibrationError, match=r"'shouting'.*register it before loading"):
        calibrate.load("fake-llm", path=path)
    with pytest.raises(KeyError, match="shouting"):
        fit_calibration(shouted_rows(), model_id="fake-llm", model_sha256="a" * 64,
                        signals=SIGNALS)


def test_loading_keeps_the_fitted_signal_order_and_key(shouting: type[Shouting],
                                                       tmp_path: Path) -> None:
    cal = _fit()
    back = calibrate.load("fake-llm", path=calibrate.save(cal, tmp_path / "fake-llm.json"))
    assert list(back.signals) == list(cal.signals) == list(SIGNALS)
    assert calibration_key(back) == calibration_key(cal)


def test_a_failing_optional_signal_fails_safe(shouting: type[Shouting]) -> None:
    from edgesdk.routing.signals.peer import PeerSignal

    class Mute(PeerSignal):
        def compute(self, request: Request, why: list[str]) -> dict[str, float]:
            raise RuntimeError("the peer went away")

    rows = [replace(r, peer=gen(" Lima", (-0.2,))) for r in shouted_rows()]
    cal = fit_calibration(rows, model_id="fake-llm", model_sha256="a" * 64,
                          signals=(*SIGNALS, "peer"), peer_model_id="fake-peer")
    router = Router(calibration=replace(cal, signals={**cal.signals,
                                                      "peer": Mute(model_id="fake-peer")}),
                    policy=Policy(threshold=0.5))
    conf, _ = router.confidence(question="The capital of country number 8 is",
                                generation=gen(" Lima", (-0.01,)), skill=None,
                                peer=gen(" Lima", (-0.2,)))
    assert conf == router.confidence(question="The capital of country number 8 is",
                                     generation=gen(" Lima", (-0.01,)), skill=None)[0]
    assert any("signal peer failed (RuntimeError); base scorer" in w
               for w in router.confidence(question="The capital of country number 8 is",
                                          generation=gen(" Lima", (-0.01,)), skill=None,
                                          peer=gen(" Lima", (-0.2,)))[1])
