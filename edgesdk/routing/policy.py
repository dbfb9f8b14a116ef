"""Escalation policy: a calibrated confidence plus the world's constraints → stay/escalate/refuse.

The confidence alone says whether escalating would *help*; the policy says whether it is
*allowed and affordable*: the mode, the network, the money and call budgets, privacy rules
(topics that never leave the device), and whether an upper tier could answer before the
deadline. Every decision lists the reasons that made it, in order, so an app can show or log
why a request went where it went.

Thresholds are set from data, like RouteLLM's calibration: a target cloud-call share maps to
the confidence quantile below which that share of LLM-answered requests fall (on held-out
scores), and a target quality maps to the lowest threshold whose expected kept-on-device
accuracy reaches it. Both use numbers stored in the calibration file, never guesses.

Fail safe: a confidence that is missing or not a finite number escalates when escalating is
allowed, and otherwise stays with the reason spelled out (or refuses under a refusal floor).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from edgesdk.devices import DeviceProfile, DeviceState
from edgesdk.types import Mode, Percept, RouteDecision, Transcript

UNSURE_TRANSCRIPT = "transcript unsure"
"""How a decision to ask again starts its reason (the Assistant words its answer by it)."""


@dataclass(frozen=True, kw_only=True)
class PolicyState:
    """What the policy must know about this moment; all numbers, no clients."""

    device: DeviceState = field(default_factory=DeviceState)
    tier_available: bool = True
    """Whether any upper tier is configured (and its circuit is not open)."""
    calls_left: int | None = None
    """Cloud calls left in the current budget window; ``None`` = unlimited."""
    money_left: float | None = None
    """Money left in the budget (same currency as ``est_call_cost``); ``None`` = unlimited."""
    est_call_cost: float = 0.0
    deadline_left_s: float | None = None
    """Seconds left before the request's deadline; ``None`` = no deadline."""
    est_cloud_latency_s: float = 1.5


@dataclass(frozen=True, kw_only=True)
class Policy:
    threshold: float
    """Escalate LLM answers whose calibrated confidence is below this."""
    refuse_below: float | None = None
    """When escalating is impossible, refuse rather than answer below this confidence."""
    private_topics: tuple[str, ...] = ()
    """Words or regexes (case-insensitive): questions matching any are never sent up."""
    metered_threshold: float | None = None
    """Threshold used on a metered network (lower = fewer calls); ``None`` = same."""
    transcript_floor: float | None = 0.5
    """A spoken question heard with less confidence than this is asked again, not answered."""

    @classmethod
    def for_profile(
        cls,
        profile: DeviceProfile,
        *,
        quantiles: Sequence[float],
        target_cloud_share: float | None = None,
        private_topics: Sequence[str] = (),
        refuse_below: float | None = None,
    ) -> Policy:
        share = profile.target_cloud_share if target_cloud_share is None else target_cloud_share
        if share is not None:
            threshold = threshold_for_share(quantiles, share)
            metered = threshold_for_share(quantiles, share * 0.75)
        else:  # target quality: on a metered network accept answers 10 points less sure
            threshold = threshold_for_quality(quantiles, profile.target_device_accuracy)
            metered = threshold_for_quality(quantiles, profile.target_device_accuracy - 0.1)
        return cls(threshold=threshold, metered_threshold=metered,
                   private_topics=tuple(private_topics), refuse_below=refuse_below,
                   transcript_floor=profile.transcript_floor)

    def heard(self, question: str, percepts: Sequence[Percept]) -> RouteDecision | None:
        """Before anything answers a spoken question: refuse it, so the user is asked to say it
        again, when the recogniser was unsure of it; else ``None``."""
        spoken = next((p for p in percepts if isinstance(p, Transcript)
                       and p.text.strip() and p.text.strip() == question.strip()), None)
        floor = self.transcript_floor
        if spoken is None or floor is None or spoken.confidence >= floor:
            return None
        return RouteDecision(
            action="refuse", confidence=spoken.confidence, threshold=floor,
            reasons=(f"{UNSURE_TRANSCRIPT}: confidence {spoken.confidence:.2f} below "
                     f"{floor:.2f} ({spoken.model or 'recogniser'}); asked to say it again",))

    def private_match(self, question: str) -> str | None:
        for topic in self.private_topics:
            if re.search(topic, question, flags=re.IGNORECASE):
                return topic
        return None

    def decide(self, *, question: str, confidence: float | None, mode: Mode,
               state: PolicyState, reasons: Sequence[str] = ()) -> RouteDecision:
        why = list(reasons)
        valid = confidence is not None and math.isfinite(confidence)
        conf = min(max(confidence, 0.0), 1.0) if valid and confidence is not None else 0.0
        threshold = self.threshold
        if state.device.network == "metered" and self.metered_threshold is not None:
            threshold = self.metered_threshold
            why.append(f"metered network: threshold {threshold:.2f}")
        if not valid:
            why.append("no usable confidence: fail safe")
        if mode == "only-cloud":
            want = True
            why.append("mode only-cloud")
        elif mode == "prefer-cloud":
            want = True
            why.append("mode prefer-cloud")
        elif not valid:
            want = True
        else:
            want = conf < threshold
            why.append(f"confidence {conf:.2f} {'<' if want else '>='} threshold {threshold:.2f}")
        if not want:
            return RouteDecision(action="stay", confidence=conf, threshold=threshold,
                                 reasons=tuple(why), confidence_known=valid)
        blocked = self.blocked(question, mode, state)
        if blocked is None:
            return RouteDecision(action="escalate", confidence=conf, threshold=threshold,
                                 reasons=tuple(why), confidence_known=valid)
        why.append(blocked)
        if valid and self.refuse_below is not None and conf < self.refuse_below:
            why.append(f"confidence below refusal floor {self.refuse_below:.2f}")
            return RouteDecision(action="refuse", confidence=conf, threshold=threshold,
                                 reasons=tuple(why))
        return RouteDecision(action="stay", confidence=conf, threshold=threshold,
                             reasons=tuple(why), confidence_known=valid)

    def blocked(self, question: str, mode: Mode, state: PolicyState) -> str | None:
        """Why escalating ``question`` is not possible or not allowed now, or ``None``."""
        if mode == "only-on-device":
            return "mode only-on-device: not escalating"
        topic = self.private_match(question)
        if topic is not None:
            return f"private topic '{topic}': never sent off the device"
        if state.device.network == "none":
            return "offline: no network"
        if not state.tier_available:
            return "no upper tier available"
        if state.calls_left is not None and state.calls_left <= 0:
            return "call budget exhausted"
        if state.money_left is not None and state.money_left < state.est_call_cost:
            return f"money budget exhausted ({state.money_left:.4f} left)"
        if state.deadline_left_s is not None and state.deadline_left_s < state.est_cloud_latency_s:
            return (f"deadline: {state.deadline_left_s:.2f}s left, the cloud needs about "
                    f"{state.est_cloud_latency_s:.2f}s")
        return None


def threshold_for_share(quantiles: Sequence[float], share: float) -> float:
    """Confidence below which ``share`` of held-out LLM-answered requests fall."""
    if not quantiles:
        return 0.5
    share = min(max(share, 0.0), 1.0)
    pos = share * (len(quantiles) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(quantiles) - 1)
    return quantiles[lo] + (quantiles[hi] - quantiles[lo]) * (pos - lo)


def threshold_for_quality(quantiles: Sequence[float], target_accuracy: float) -> float:
    """Lowest threshold whose kept requests have expected accuracy ≥ ``target_accuracy``.

    With calibrated confidences the expected accuracy of the requests kept on the device is the
    mean confidence above the threshold; ``quantiles`` stand in for the held-out distribution.
    """
    qs = sorted(quantiles)
    for i, t in enumerate(qs):
        kept = qs[i:]
        if sum(kept) / len(kept) >= target_accuracy:
            return t
    return 1.0
