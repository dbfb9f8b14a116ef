from __future__ import annotations

import random

from edgesdk.routing.online import OnlineConfig, OnlineRecalibrator


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
