from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgesdk.errors import CalibrationError
from edgesdk.routing import calibration as calibrate
from edgesdk.routing.fitting import logistic
from edgesdk.routing.fitting.metrics import auroc
from edgesdk.routing.scorer import LinearScorer
from tests.unit._routing_fakes import (
    assert_refused,
    fake_calibration,
    features,
    synthetic_outcomes,
)

SHIPPED_DATASETS = "train.jsonl,dev.jsonl"
"""What the shipped calibrations were fitted on (docs/router.md, "Training rows")."""


def test_fit_learns_the_synthetic_rule() -> None:
    cal = fake_calibration()
    assert cal.fit_info["cv_auroc"] > 0.75
    outs = synthetic_outcomes(200, seed=1)
    probs = [cal.scorer.prob(features(o.question, o.generation)) for o in outs]
    assert auroc(probs, [o.correct for o in outs]) > 0.75
    word = [p for p, o in zip(probs, outs, strict=True) if "apples" in o.question]
    assert max(word) < 0.2
    assert len(cal.quantiles) == 101
    assert list(cal.quantiles) == sorted(cal.quantiles)


def test_round_trip(tmp_path: Path) -> None:
    cal = fake_calibration()
    path = calibrate.save(cal, tmp_path / "fake-llm.json")
    back = calibrate.load("fake-llm", model_sha256="a" * 64, path=path)
    assert back.to_json() == cal.to_json()
    assert list(back.signals) == ["evidence", "surface", "percepts"]
    feats = features(synthetic_outcomes(1)[0].question, synthetic_outcomes(1)[0].generation)
    assert back.scorer.prob(feats) == cal.scorer.prob(feats)


def test_load_checks_model_and_file(tmp_path: Path) -> None:
    path = calibrate.save(fake_calibration(), tmp_path / "x.json")
    with pytest.raises(CalibrationError, match="fitted for 'fake-llm'"):
        calibrate.load("other-llm", path=path)
    with pytest.raises(CalibrationError, match="another file"):
        calibrate.load("fake-llm", model_sha256="b" * 64, path=path)
    with pytest.raises(CalibrationError, match="router fit"):
        calibrate.load("fake-llm", path=tmp_path / "missing.json")
    data = json.loads(path.read_text())
    data["format"] = 99
    assert_refused(path, data, "format")


def test_isotonic_is_monotone() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=300)
    y = (rng.random(300) < 1 / (1 + np.exp(-2 * z))).astype(float)
    _xs, ys = logistic.fit_isotonic(z, y)
    assert list(ys) == sorted(ys)
    assert ys[0] > 0 and ys[-1] < 1


def test_logistic_recovers_slope() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 1))
    y = (rng.random(4000) < 1 / (1 + np.exp(-(1.5 * x[:, 0] - 0.5)))).astype(float)
    w, b = logistic.fit_logistic(x, y, l2=1e-3)
    assert abs(w[0] - 1.5) < 0.2 and abs(b + 0.5) < 0.15


def test_shipped_calibrations_load() -> None:
    from edgesdk.catalog import Catalog

    for path in calibrate.CALIBRATION_DIR.glob("*.json"):
        model_id = path.stem
        cal = calibrate.load(model_id, model_sha256=Catalog().manifest(model_id).sha256)
        assert cal.prior is not None
        assert 0.5 < cal.skill_accuracy <= 1.0
        # fitted leave-one-source-out on every source, the natural-wording ones included
        assert cal.fit_info["folds"] == "by source"
        assert {"triviaqa", "halueval", "gsm8k/test", "edgesdk/natural_en",
                "edgesdk/natural_zh", "edgesdk/commands", "edgesdk/followups"
                } <= set(cal.fit_info["sources"])
        # generic signals only (and the optional ones beside them, each with its own scorer):
        # no question embedder to hold, no bank file to ship
        assert [s.name for s in cal.base_signals()] == ["evidence", "surface", "percepts"]
        assert set(cal.optional) == {s.name for s in cal.signals.values()
                                     if s.role == "optional"} and "probe" in cal.optional
        assert calibrate.question_embedder(model_id) is None
        assert "command" not in cal.kinds and "fact" in cal.kinds
    assert not list(calibrate.CALIBRATION_DIR.glob("answer-bank-*.npz"))
    # SmolLM2's ships the peer scorer a device holding Gemma too may use
    peer = calibrate.load("smollm2-135m-instruct").signal("peer")
    assert peer is not None and peer.state() == {"model_id": "gemma3-270m"}


def test_a_calibration_fitted_on_the_users_data_is_found_before_the_shipped_one(
        tmp_path: Path) -> None:
    from dataclasses import replace

    from edgesdk.catalog import Catalog
    from edgesdk.config import Settings
    from edgesdk.devices import get_profile
    from edgesdk.routing.router import Router

    model = "smollm2-135m-instruct"
    shipped = calibrate.load(model, home=tmp_path)  # nothing under this home yet
    assert shipped.fit_info["dataset"] == SHIPPED_DATASETS
    mine = replace(shipped, fit_info={**shipped.fit_info, "dataset": "my-app.jsonl"})
    saved = calibrate.save(mine, calibrate.user_path(model, tmp_path))
    assert saved == tmp_path / "calibrations" / f"{model}.json"
    assert calibrate.load(model, home=tmp_path).fit_info["dataset"] == "my-app.jsonl"
    # the shared answer bank is found in the package, not copied next to the user's file
    assert not list(saved.parent.glob("answer-bank-*.npz"))
    # an explicit path still wins; other homes still get the shipped one
    assert calibrate.load(model, path=calibrate.CALIBRATION_DIR / f"{model}.json",
                          home=tmp_path).fit_info["dataset"] == SHIPPED_DATASETS
    assert calibrate.load(model, home=tmp_path / "other").fit_info["dataset"] != "my-app.jsonl"
    sha = Catalog(settings=Settings(home=tmp_path)).manifest(model).sha256
    router = Router.for_model(model, profile=get_profile("watch"), home=tmp_path)
    assert router.calibration.fit_info["dataset"] == "my-app.jsonl"
    assert router.calibration.model_sha256 == sha


def test_scores_are_clipped_to_the_range_the_scorer_was_fitted_on(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 0.0, 400)  # log-probs between -1 and 0; right more often when low
    rows = [{"lp": float(v)} for v in x]
    labels = [bool(rng.random() < 0.2 - 0.6 * v) for v in x]
    scorer, _ = logistic.fit_scorer(rows, labels, features=("lp",))
    assert scorer.low[0] == pytest.approx(x.min()) and scorer.high[0] == pytest.approx(x.max())
    edge = scorer.prob({"lp": float(x.min())})
    # far below anything seen: the edge of the data, not an extrapolated certainty
    assert scorer.prob({"lp": -4.0}) == pytest.approx(edge)
    assert scorer.prob({"lp": -0.5}) < edge
    assert np.isnan(scorer.prob({"lp": float("nan")}))  # missing still fails safe

    cal = fake_calibration()
    assert cal.scorer.low and len(cal.scorer.low) == len(cal.scorer.mean)
    back = calibrate.load("fake-llm", path=calibrate.save(cal, tmp_path / "fake-llm.json"))
    assert back.scorer == cal.scorer
    with pytest.raises(ValueError, match="lows"):
        LinearScorer(features=("lp",), interactions=(), mean=(0.0,), scale=(1.0,),
                               weights=(1.0,), bias=0.0, low=(0.0,), high=())
