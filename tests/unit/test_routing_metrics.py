from __future__ import annotations

import math

from edgesdk.routing.fitting import metrics


def test_auroc_known_values() -> None:
    assert metrics.auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert metrics.auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert metrics.auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5
    assert metrics.auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert math.isnan(metrics.auroc([0.1, 0.2], [1, 1]))


def test_ece_and_brier() -> None:
    assert metrics.ece([1.0, 1.0, 0.0, 0.0], [1, 1, 0, 0]) == 0.0
    assert abs(metrics.ece([0.75] * 4, [1, 1, 1, 0])) < 1e-12
    assert abs(metrics.ece([0.9] * 10, [1] * 5 + [0] * 5) - 0.4) < 1e-12
    assert metrics.brier([1.0, 0.0], [0, 0]) == 0.5


def test_cloud_share() -> None:
    labels = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]  # local 60%, cloud 100%: need 95% → 2 wrong fixed
    perfect = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert metrics.cloud_share_at(perfect, labels) == 0.4
    assert metrics.oracle_cloud_share_at(labels) == 0.4
    backwards = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert metrics.cloud_share_at(backwards, labels) == 1.0
    rnd = metrics.random_cloud_share_at(labels)
    assert 0.4 < rnd <= 1.0


def test_blind_cloud_share_is_the_floor_of_a_router_at_chance_on_a_group() -> None:
    # 10 known items (5 right, 5 wrong) + 10 blind coin flips (5 right, 5 wrong)
    labels = [1] * 5 + [0] * 5 + [1, 0] * 5
    blind = [False] * 10 + [True] * 10
    oracle = metrics.oracle_cloud_share_at(labels)
    assert oracle == 0.45  # 10 wrong, 1 may stay wrong (95% of 20 = 19 right)
    floor = metrics.blind_cloud_share_at(labels, blind)
    # the 5 known-wrong first (0.25), then blind items until 4 of their 5 wrong are escalated:
    # the 4th of 5 wrong among 10 sits at 4·11/6 = 7.33 on average → 0.25 + 7.33/20
    assert abs(floor - (0.25 + 4 * 11 / 6 / 20)) < 0.02
    assert floor == metrics.blind_cloud_share_at(labels, blind)  # seeded
    # nothing blind: the floor is the oracle; everything blind: a random router
    assert abs(metrics.blind_cloud_share_at(labels, [False] * 20) - oracle) < 1e-9
    everything = metrics.blind_cloud_share_at(labels, [True] * 20, repeats=400)
    assert abs(everything - metrics.random_cloud_share_at(labels, repeats=400)) < 0.03


def test_cloud_share_with_cloud_labels() -> None:
    labels = [1, 0, 0, 1]
    cloud = [1, 1, 0, 0]  # cloud-only accuracy 0.5; local already 0.5 ≥ 0.95·0.5
    assert metrics.cloud_share_at([0.1, 0.2, 0.3, 0.4], labels, cloud) == 0.0
    share, acc = metrics.quality_curve([0.9, 0.1, 0.5, 0.8], labels, cloud)
    assert list(share) == [0, 0.25, 0.5, 0.75, 1.0]
    assert acc[1] == 0.75  # escalating the second item (local wrong, cloud right)


def test_reliability_rows() -> None:
    rows = metrics.reliability([0.05, 0.95], [0, 1])
    assert [r["n"] for r in rows] == [1.0, 1.0]


def test_auroc_with_many_ties_matches_the_pairwise_definition() -> None:
    import itertools
    import random

    rng = random.Random(0)
    scores = [rng.choice([0.1, 0.2, 0.3, 0.5]) for _ in range(60)]
    labels = [rng.random() < 0.4 for _ in range(60)]
    pairs = [(a, b) for (a, la), (b, lb) in itertools.product(zip(scores, labels), repeat=2)
             if la and not lb]
    want = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    assert abs(metrics.auroc(scores, labels) - want) < 1e-12


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_more_data() -> None:
    import numpy as np

    rng = np.random.default_rng(0)

    def interval(n: int) -> tuple[float, float]:
        y = rng.random(n) < 0.5
        p = np.where(y, rng.random(n) * 0.7 + 0.3, rng.random(n) * 0.7)
        lo, hi = metrics.bootstrap_interval(lambda i: metrics.auroc(p[i], y[i]), n, rounds=300)
        assert lo <= metrics.auroc(p, y) <= hi
        return lo, hi

    small, large = interval(80), interval(2000)
    assert large[1] - large[0] < (small[1] - small[0]) / 2
    y = np.array([True, False, True])
    same = metrics.bootstrap_interval(lambda i: float(y[i].mean()), 3, rounds=50, seed=3)
    assert same == metrics.bootstrap_interval(lambda i: float(y[i].mean()), 3, rounds=50, seed=3)
    # a statistic undefined on every resample (one class only) has no interval
    ones = np.ones(5, dtype=bool)
    lo, hi = metrics.bootstrap_interval(lambda i: metrics.auroc(ones[i], ones[i]), 5, rounds=20)
    assert math.isnan(lo) and math.isnan(hi)
    assert all(map(math.isnan, metrics.bootstrap_interval(lambda i: 0.0, 0)))
