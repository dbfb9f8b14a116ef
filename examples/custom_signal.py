"""Plug your own signal into the router: questions that need fresh data go up a tier.

The shipped router turns the device's own evidence (token log-probs, entropy, the question's
kind) into a calibrated P(the device's answer is right). It cannot know what your app knows:
here, that an offline 135M model cannot answer "what is the weather today" however confident
its tokens are. ``SignalRouter`` extends the default router (anything satisfying
``edgesdk.protocols.RouterLike`` works with the Assistant): when one of your rules fires it
lowers the calibrated confidence, then lets the default policy decide as usual — so offline
mode, budgets and private topics still apply, and the reasons show your rule.

Rules need no labelled data. A signal you can label examples for belongs in the calibration
instead: one module with a ``edgesdk.routing.signal.BaseSignal`` subclass, ``register`` it, and
fit with ``edgesdk router fit --signals evidence,surface,percepts,yours`` (the fit weighs it
against the others and calibrates the result; ``tests/unit/test_routing_signal.py`` shows one).

The upper tier here is a stub written against the ``TierClient`` protocol, so the example runs
offline; use ``build_tier(...)`` for a real one (DeepSeek, or ``edgesdk serve-edge`` on a phone).

    python examples/custom_signal.py
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgesdk import Assistant
from edgesdk.devices import get_profile
from edgesdk.routing.policy import PolicyState
from edgesdk.routing.router import Router
from edgesdk.types import (
    Cost,
    Generation,
    Mode,
    Percept,
    RouteDecision,
    SkillResult,
    Tier,
    Usage,
)

# A rule: (question, local generation) -> why it fired, or None.
Rule = Callable[[str, Generation | None], str | None]

_FRESH = re.compile(r"\b(today|tonight|right now|currently|latest|this week|news|weather|"
                    r"score|stock price|exchange rate|open now)\b", re.IGNORECASE)


def needs_fresh_data(question: str, generation: Generation | None) -> str | None:
    match = _FRESH.search(question)
    return f"needs fresh data ('{match.group(0)}')" if match else None


def hedged_answer(question: str, generation: Generation | None) -> str | None:
    text = generation.text.lower() if generation is not None else ""
    hedges = ("i think", "maybe", "probably", "not sure", "i don't know")
    return next((f"the answer hedges ('{h}')" for h in hedges if h in text), None)


class SignalRouter(Router):
    """The calibrated router, with app rules that lower its confidence. Everything else
    (skills, the prior, commands, refusal, online learning) is the default router's."""

    def __init__(self, *, inner: Router, rules: Sequence[Rule], penalty: float = 0.2) -> None:
        super().__init__(calibration=inner.calibration, policy=inner.policy,
                         optional_policies=inner.optional_policies, state=inner.state,
                         online=inner.online, skip_below=inner.skip_below)
        self.rules = list(rules)
        self.penalty = penalty

    def decide(self, *, question: str, generation: Generation | None,
               skill: SkillResult | None, percepts: Sequence[Percept] = (),
               mode: Mode = "prefer-on-device", state: PolicyState | None = None,
               peer: Generation | None = None) -> RouteDecision:
        conf, why = self.confidence(question=question, generation=generation,
                                    skill=skill, percepts=percepts, peer=peer)
        fired = [reason for rule in self.rules if (reason := rule(question, generation))]
        if fired and conf is not None:
            alone = super().decide(question=question, generation=generation, skill=skill,
                                   percepts=percepts, mode=mode, state=state, peer=peer).action
            lowered = conf * self.penalty
            why = [*why, *fired, f"custom signals: confidence {conf:.2f} -> {lowered:.2f} "
                   f"(the default router alone would {alone})"]
            conf = lowered
        return self.policy.decide(question=question, confidence=conf, mode=mode,
                                  state=state or self.state, reasons=why)


@dataclass
class StubResult:
    text: str
    model: str = "stub-cloud"
    reasoning: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost: Cost = field(default_factory=Cost)
    finish_reason: str = "stop"


class StubCloud:
    """An upper tier that needs no network (satisfies ``edgesdk.protocols.TierClient``)."""

    name = "cloud"
    tier: Tier = "cloud"

    def chat(self, messages: Sequence[Mapping[str, Any]], *, deadline: float,
             on_delta: Callable[[str], None] | None = None,
             model: str | None = None, **options: Any) -> StubResult:
        return StubResult(text=f"[the cloud would answer: {messages[-1]['content']!r}]")

    def close(self) -> None:
        pass


def main() -> None:
    profile = get_profile("watch")
    router = SignalRouter(inner=Router.for_model(profile.llm, profile=profile),
                          rules=[needs_fresh_data, hedged_answer])
    with Assistant(profile=profile, router=router, tiers=[StubCloud()]) as assistant:
        # the second question's local answer is confident, but it asks about "currently":
        # the signal sends it up although the default router alone would keep it
        for question in ("What is the capital of France?",
                         "Which city is the capital of Italy currently?"):
            started = time.perf_counter()
            # a generous deadline: the policy stays on the device when too little time is left
            # for the cloud, and this example is about routing, not about a busy CPU
            answer = assistant.ask(question, deadline_s=120)
            print(f"Q: {question}\nA: {answer.text}")
            print(f"   tier={answer.tier} confidence={answer.confidence:.2f} "
                  f"({(time.perf_counter() - started) * 1000:.0f} ms)")
            print(f"   why: {'; '.join(answer.reasons)}\n")


if __name__ == "__main__":
    main()
