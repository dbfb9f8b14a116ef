from __future__ import annotations

import random
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from edgesdk.errors import StorageError
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.online import OnlineConfig, OnlineRecalibrator
from edgesdk.routing.online_store import OnlineLabelStore
from tests.unit._routing_fakes import fake_calibration, synthetic_outcomes


def test_inactive_until_min_samples() -> None:
    rec = OnlineRecalibrator(config=OnlineConfig(min_samples=20))
    for _ in range(19):
        rec.observe(0.9, False)
    assert not rec.active
    assert rec.adjust(0.9) == 0.9


def test_learns_overconfidence_but_guarded() -> None:
    cfg = OnlineConfig(min_samples=50, max_shift=0.15)
    rec = OnlineRecalibrator(config=cfg)
    rng = random.Random(0)
    for _ in range(400):  # shipped says 0.9; the cloud agrees only half the time
        rec.observe(0.9, rng.random() < 0.5)
    adjusted = rec.adjust(0.9)
    assert 0.9 - cfg.max_shift - 1e-9 <= adjusted < 0.9
    assert abs(rec.a - 1.0) <= cfg.max_slope_change + 1e-9
    assert abs(rec.b) <= cfg.max_offset + 1e-9


def test_bounded_memory_and_reset() -> None:
    rec = OnlineRecalibrator(config=OnlineConfig(capacity=64, min_samples=10))
    for i in range(1000):
        rec.observe(0.6, i % 2 == 0)
    assert len(rec) == 64
    rec.reset()
    assert len(rec) == 0 and rec.adjust(0.6) == 0.6


def test_calibrated_labels_barely_move_it() -> None:
    rec = OnlineRecalibrator(config=OnlineConfig(min_samples=50))
    rng = random.Random(1)
    for _ in range(500):
        p = rng.random()
        rec.observe(p, rng.random() < p)
    assert abs(rec.adjust(0.7) - 0.7) < 0.05


# ------------------------------------------------------------------ persistence across runs

def _store(path: Path, key: str = "m:aaaa", capacity: int = 512) -> OnlineLabelStore:
    return OnlineLabelStore(path, key=key, capacity=capacity)


def test_labels_survive_a_restart_and_the_fit_resumes(tmp_path: Path) -> None:
    db = tmp_path / "online.sqlite3"
    cfg = OnlineConfig(min_samples=50)
    first = OnlineRecalibrator(config=cfg, store=_store(db))
    rng = random.Random(2)
    for _ in range(120):  # overconfident: the cloud agrees a third of the time at 0.8
        first.observe(0.8, rng.random() < 0.33)
    learnt = first.adjust(0.8)
    first.close()

    second = OnlineRecalibrator(config=cfg, store=_store(db))
    assert len(second) == 120 and second.active
    assert second.adjust(0.8) == pytest.approx(learnt, abs=0.02) and learnt < 0.8
    second.close()


def test_store_keeps_only_the_newest_capacity_labels(tmp_path: Path) -> None:
    store = _store(tmp_path / "o.sqlite3", capacity=32)
    for i in range(100):
        assert store.add(float(i), 1.0)
    labels = store.labels()
    assert [z for z, _ in labels] == [float(i) for i in range(68, 100)]
    rows = store._db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    assert rows == 32  # trimmed on disk too, not only when read
    store.close()


def test_another_calibration_discards_the_old_labels(tmp_path: Path) -> None:
    db = tmp_path / "o.sqlite3"
    old = _store(db, key="m:old")
    for _ in range(10):
        old.add(1.0, 1.0)
    old.close()
    assert _store(db, key="m:new").labels() == []
    assert _store(db, key="m:old").labels() == []  # gone, not hidden


def test_reset_forgets_the_stored_labels(tmp_path: Path) -> None:
    db = tmp_path / "o.sqlite3"
    rec = OnlineRecalibrator(config=OnlineConfig(min_samples=5), store=_store(db))
    for _ in range(20):
        rec.observe(0.7, False)
    rec.reset()
    rec.close()
    assert _store(db).labels() == []


def test_unwritable_home_is_a_typed_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="EDGESDK_HOME"):
        _store(blocker / "online" / "m.sqlite3")


def test_a_label_the_disk_refuses_is_logged_not_raised(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    store = _store(tmp_path / "o.sqlite3")
    rec = OnlineRecalibrator(store=store)
    store._db.close()  # any sqlite3 error on insert
    rec.observe(0.6, True)
    assert len(rec) == 1  # kept in memory
    assert "label not stored" in caplog.text


_WRITER = """
import os, signal, sys
from pathlib import Path
from edgesdk.routing.online import OnlineConfig, OnlineRecalibrator
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.online_store import OnlineLabelStore
from tests.unit._routing_fakes import fake_calibration, synthetic_outcomes
rec = OnlineRecalibrator(config=OnlineConfig(), store=OnlineLabelStore(
    Path(sys.argv[1]), key="m:k", capacity=512))
for i in range(int(sys.argv[2])):
    rec.observe(0.5 + i / 1000, i % 2 == 0)
print("written", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_labels_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "o.sqlite3"
    proc = subprocess.run([sys.executable, "-c", _WRITER, str(db), "75"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL and "written" in proc.stdout
    labels = _store(db, key="m:k").labels()
    assert [y for _, y in labels] == [1.0 if i % 2 == 0 else 0.0 for i in range(75)]


def _fitted_under(home: Path, model: str, seed: int = 0) -> Path:
    """A calibration of ``model`` fitted on the user's data, saved where ``Router.for_model``
    and ``edgesdk router online`` look first (so these tests do not depend on the calibration
    the package ships)."""
    from edgesdk.routing.calibration import save, user_path
    from edgesdk.routing.fitting.fit import fit_calibration

    cal = fit_calibration(synthetic_outcomes(seed=seed), model_id=model, model_sha256="a" * 64)
    return save(cal, user_path(model, home))


def test_router_for_model_persists_under_the_home(tmp_path: Path) -> None:
    from edgesdk.devices import get_profile
    from edgesdk.routing.calibration import load
    from edgesdk.routing.online_store import calibration_key, store_path
    from edgesdk.routing.router import Router

    model = "smollm2-135m-instruct"
    _fitted_under(tmp_path, model)
    key = calibration_key(load(model, home=tmp_path))
    a = Router.for_model(model, profile=get_profile("watch"), online=True,
                         check_model_file=False, home=tmp_path)
    assert a.online is not None and a.online.store is not None
    assert a.online.store.path == store_path(model, tmp_path) and a.online.store.key == key
    a.online.observe(0.9, False)
    a.online.close()
    b = Router.for_model(model, profile=get_profile("watch"), online=True,
                         check_model_file=False, home=tmp_path)
    assert b.online is not None and len(b.online) == 1
    b.online.close()
    c = Router.for_model(model, profile=get_profile("watch"),
                         online=OnlineConfig(persist=False), check_model_file=False,
                         home=tmp_path)
    assert c.online is not None and c.online.store is None and len(c.online) == 0
    # a refit is another calibration: its router starts from no labels
    _fitted_under(tmp_path, model, seed=1)
    d = Router.for_model(model, profile=get_profile("watch"), online=True,
                         check_model_file=False, home=tmp_path)
    assert d.online is not None and d.online.store is not None
    assert d.online.store.key != key and len(d.online) == 0
    d.online.close()


def test_calibration_key_covers_the_base_scorer_and_every_signal_state() -> None:
    from edgesdk.routing.online_store import calibration_key
    from edgesdk.routing.signals.peer import PeerSignal

    cal = fake_calibration()
    key = calibration_key(cal)
    assert key.startswith("fake-llm:") and key == calibration_key(fake_calibration())
    # what the stored logits do not depend on leaves the key alone
    assert calibration_key(replace(cal, skill_accuracy=0.5, fit_info={})) == key
    # another base scorer, or another state of any signal, is another key
    other = fit_calibration(synthetic_outcomes(seed=1), model_id="fake-llm",
                            model_sha256="a" * 64)
    assert calibration_key(other) != key
    peered = replace(cal, signals={**cal.signals, "peer": PeerSignal(model_id="peer-a")})
    assert calibration_key(peered) != key
    assert calibration_key(peered) != calibration_key(
        replace(cal, signals={**cal.signals, "peer": PeerSignal(model_id="peer-b")}))


def test_cli_shows_and_resets_what_was_learnt(edgesdk_home: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from edgesdk.cli import main
    from edgesdk.config import load_settings
    from edgesdk.devices import get_profile
    from edgesdk.routing.router import Router

    model = "smollm2-135m-instruct"
    home = load_settings().home  # the per-test $EDGESDK_HOME (conftest's edgesdk_home)
    assert home == edgesdk_home
    _fitted_under(home, model)
    r = Router.for_model(model, profile=get_profile("watch"), online=True,
                         check_model_file=False, home=home)
    assert r.online is not None
    for i in range(60):
        r.online.observe(0.8, i % 3 == 0)
    r.online.close()

    assert main(["router", "online", "--model", model]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["labels"] == 60 and shown["active"] is True
    assert shown["agreement_rate"] == pytest.approx(20 / 60) and shown["offset"] < 0
    assert main(["router", "online", "--model", model, "--reset"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == 0
    assert main(["router", "online", "--model", model]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == 0
