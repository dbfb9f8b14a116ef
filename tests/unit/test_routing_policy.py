from __future__ import annotations

import math

import pytest

from edgesdk.devices import DeviceState, get_profile
from edgesdk.routing.policy import (
    Policy,
    PolicyState,
    threshold_for_quality,
    threshold_for_share,
)

QUANTILES = [i / 100 for i in range(101)]  # confidences uniform on [0, 1]


def decide(policy: Policy, conf: float | None, *, mode: str = "prefer-on-device",
           state: PolicyState | None = None, question: str = "The capital of Peru is"):  # type: ignore[no-untyped-def]
    return policy.decide(question=question, confidence=conf, mode=mode,  # type: ignore[arg-type]
                         state=state or PolicyState(), reasons=("kind fact",))


def test_threshold_from_share_and_quality() -> None:
    assert threshold_for_share(QUANTILES, 0.3) == pytest.approx(0.3)
    assert threshold_for_share(QUANTILES, 0.0) == 0.0
    # kept mean of uniform[t, 1] is (1 + t) / 2 ≥ 0.8 → t = 0.6
    assert threshold_for_quality(QUANTILES, 0.8) == pytest.approx(0.6, abs=0.011)
    # the watch keeps answers at >= 0.6 expected accuracy: (1 + t) / 2 >= 0.6 -> t = 0.2
    policy = Policy.for_profile(get_profile("watch"), quantiles=QUANTILES)
    assert get_profile("watch").target_device_accuracy == 0.6
    assert policy.threshold == pytest.approx(0.2, abs=0.011)


def test_stay_and_escalate_carry_reasons() -> None:
    policy = Policy(threshold=0.5)
    stay = decide(policy, 0.8)
    assert stay.action == "stay" and stay.reasons[0] == "kind fact"
    assert "confidence 0.80 >= threshold 0.50" in stay.reasons
    up = decide(policy, 0.2)
    assert up.action == "escalate" and "confidence 0.20 < threshold 0.50" in up.reasons


@pytest.mark.parametrize("bad", [None, math.nan, math.inf])
def test_fail_safe_escalates_when_allowed(bad: float | None) -> None:
    d = decide(Policy(threshold=0.5), bad)
    assert d.action == "escalate"
    assert any("fail safe" in r for r in d.reasons)
    assert not d.confidence_known and d.confidence == 0.0
    # offline, an answer with no confidence is shown as it is (flagged), not refused: refusing
    # claims it is probably wrong, and nothing measured says so (open-ended text, say)
    offline = decide(Policy(threshold=0.5, refuse_below=0.1), bad,
                     state=PolicyState(device=DeviceState(network="none")))
    assert offline.action == "stay" and not offline.confidence_known
    assert any("offline" in r for r in offline.reasons)


@pytest.mark.parametrize(("state", "reason"), [
    (PolicyState(device=DeviceState(network="none")), "offline"),
    (PolicyState(calls_left=0), "call budget"),
    (PolicyState(money_left=0.001, est_call_cost=0.01), "money budget"),
    (PolicyState(deadline_left_s=0.2, est_cloud_latency_s=1.0), "deadline"),
    (PolicyState(tier_available=False), "no upper tier"),
])
def test_blocks_keep_the_answer_on_device(state: PolicyState, reason: str) -> None:
    d = decide(Policy(threshold=0.5), 0.2, state=state)
    assert d.action == "stay"
    assert any(reason in r for r in d.reasons)


def test_budget_left_allows_escalation() -> None:
    d = decide(Policy(threshold=0.5), 0.2, state=PolicyState(calls_left=3, money_left=1.0,
                                                              est_call_cost=0.01))
    assert d.action == "escalate"


def test_private_topics_never_leave() -> None:
    policy = Policy(threshold=0.5, private_topics=(r"\bdiagnos\w*", "password"))
    d = decide(policy, 0.1, question="What is my diagnosis?")
    assert d.action == "stay"
    assert any("private topic" in r for r in d.reasons)
    d = decide(policy, 0.1, mode="only-cloud", question="my password is?")
    assert d.action == "stay"


def test_modes() -> None:
    policy = Policy(threshold=0.5, refuse_below=0.1)
    assert decide(policy, 0.9, mode="only-cloud").action == "escalate"
    assert decide(policy, 0.9, mode="prefer-cloud").action == "escalate"
    assert decide(policy, 0.3, mode="only-on-device").action == "stay"
    assert decide(policy, 0.05, mode="only-on-device").action == "refuse"


def test_metered_network_uses_its_threshold() -> None:
    policy = Policy(threshold=0.5, metered_threshold=0.3)
    d = decide(policy, 0.4, state=PolicyState(device=DeviceState(network="metered")))
    assert d.action == "stay" and d.threshold == 0.3


def test_profiles_default_to_a_target_device_accuracy() -> None:
    from edgesdk.devices import get_profile
    from edgesdk.routing.policy import Policy, threshold_for_quality, threshold_for_share

    quantiles = [i / 100 for i in range(101)]  # uniform held-out confidence
    phone = get_profile("phone")
    policy = Policy.for_profile(phone, quantiles=quantiles)
    assert policy.threshold == threshold_for_quality(quantiles, phone.target_device_accuracy)
    assert policy.metered_threshold is not None and policy.metered_threshold < policy.threshold
    shared = Policy.for_profile(phone, quantiles=quantiles, target_cloud_share=0.25)
    assert shared.threshold == threshold_for_share(quantiles, 0.25)
