"""Fakes written against edgesdk's Protocols (no models, no network)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgesdk.devices import DEFAULT_REFUSE_BELOW
from edgesdk.errors import CloudError
from edgesdk.local.llm import GenerationStream, Prompt
from edgesdk.routing.actions import decide_call, load_call_calibration
from edgesdk.routing.policy import Policy, PolicyState
from edgesdk.routing.router import Router
from edgesdk.types import (
    Cost,
    Generation,
    GenerationEvidence,
    Mode,
    Percept,
    RouteDecision,
    SkillResult,
    Usage,
)


class FakeLLM:
    """Answers from a table (question substring -> (text, per-token log-prob))."""

    prompt_style = "completion"

    def __init__(self, answers: Mapping[str, tuple[str, float]] | None = None, *,
                 model_id: str = "fake-llm", n_ctx: int = 512) -> None:
        self.answers = dict(answers or {})
        self.model_id = model_id
        self.n_ctx = n_ctx
        self.prompts: list[Prompt] = []
        self.grammars: list[str | None] = []

    def _pick(self, prompt: Prompt) -> tuple[str, float]:
        text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
        last = text.rsplit("Q:", 1)[-1]
        for key, value in self.answers.items():
            if key in last:
                return value
        return ("I do not know", -3.0)

    def stream(self, prompt: Prompt, *, max_tokens: int, stop: Sequence[str] = (),
               temperature: float = 0.0, deadline: float | None = None, evidence: bool = True,
               seed: int | None = None, grammar: str | None = None) -> GenerationStream:
        self.prompts.append(prompt)
        self.grammars.append(grammar)
        text, logprob = self._pick(prompt)
        words = text.split(" ")[:max_tokens]

        def chunks():
            for i, word in enumerate(words):
                yield word if i == 0 else " " + word
            yield Generation(
                text=" ".join(words), model_id=self.model_id, prompt_tokens=20,
                completion_tokens=len(words), finish_reason="stop",
                evidence=GenerationEvidence(logprobs=tuple([logprob] * len(words)),
                                            entropies=tuple([0.5] * len(words)),
                                            margins=tuple([1.0] * len(words))),
            )
        return GenerationStream(chunks())

    def generate(self, prompt: Prompt, **kwargs: object) -> Generation:
        return self.stream(prompt, **kwargs).result()

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class FakeRouter:
    """A ``RouterLike`` with a fixed threshold on exp(min log-prob) and an optional prior."""

    skip_below = 0.0
    refuse_below: float | None = DEFAULT_REFUSE_BELOW
    """The built-in profiles' floor, as ``Router.for_model`` would take it from them."""
    call_threshold: float | None = None
    """Keep the device's tool calls at or above this P(right) (None: the shipped one)."""
    peer_model_id: str | None = None

    def __init__(self, threshold: float = 0.5, prior: float | None = None,
                 refuse_below: float | None = DEFAULT_REFUSE_BELOW) -> None:
        self.threshold = threshold
        self._prior = prior
        self.refuse_below = refuse_below
        self.calls = 0
        self.prepared: list[str] = []

    def decide_call(self, *, tool: str, features: Mapping[str, float], mode: Mode,
                    state: Any = None, command: str = "") -> RouteDecision:
        """The shipped call scorer under this fake's policy (threshold, refusal floor)."""
        policy = Policy(threshold=self.threshold, refuse_below=self.refuse_below)
        return decide_call(policy, load_call_calibration(), tool=tool,
                           features=features or {"score": -9.0}, mode=mode,
                           state=state or PolicyState(), command=command,
                           threshold=self.call_threshold)

    def prior(self, question: str) -> float | None:
        return self._prior

    def prepare(self, question: str) -> bool:
        self.prepared.append(question)
        return True

    # the real router's rules before and around generation, over this fake's prior,
    # thresholds and floor (they read only prior, blocked, decide and the two floors)
    before_generation = Router.before_generation
    overflowed = staticmethod(Router.overflowed)

    def observe(self, *, question: str, generation: Generation | None, agreed: bool) -> bool:
        return False

    def close(self) -> None:
        return None

    def heard(self, question: str, percepts: Sequence[Percept]) -> RouteDecision | None:
        from edgesdk.routing.policy import Policy

        return Policy(threshold=self.threshold).heard(question, percepts)

    def blocked(self, question: str, mode: Mode, state: object = None) -> str | None:
        from edgesdk.routing.policy import Policy, PolicyState

        real = state if isinstance(state, PolicyState) else PolicyState()
        return Policy(threshold=self.threshold).blocked(question, mode, real)

    def decide(self, *, question: str, generation: Generation | None, skill: SkillResult | None,
               percepts: Sequence[Percept], mode: Mode, state: object = None,
               peer: Generation | None = None) -> RouteDecision:
        self.calls += 1
        self.last_state = state
        import math
        conf = math.exp(min(generation.evidence.logprobs)) if generation else 0.0
        return RouteDecision(action="stay" if conf >= self.threshold else "escalate",
                             confidence=conf, threshold=self.threshold,
                             reasons=(f"conf {conf:.2f}",))


@dataclass
class FakeResult:
    text: str
    model: str = "fake-cloud"
    reasoning: str | None = None
    usage: Usage = field(default_factory=lambda: Usage(prompt_tokens=30, completion_tokens=5,
                                                       prompt_cache_hit_tokens=0,
                                                       prompt_cache_miss_tokens=30))
    cost: Cost = field(default_factory=lambda: Cost(amount=0.0001, currency="USD"))
    finish_reason: str = "stop"
    usage_estimated: bool = False
    tier_declined: bool = False
    tool_calls: tuple[dict[str, Any], ...] = ()


class FakeTier:
    def __init__(self, name: str = "cloud", *, text: str = "Paris", error: CloudError | None = None,
                 tier: str = "cloud", usage_estimated: bool = False,
                 declined: bool = False, declined_shown: bool = False,
                 tool_calls: Sequence[dict[str, Any]] = ()) -> None:
        self.name = name
        self.tool_calls = tuple(tool_calls)
        self.declined = declined
        # an edgesdk edge tier marks a decline before its text (the client withholds it); a
        # tier that says so only at the end has shown its text already
        self.declined_shown = declined_shown
        self.usage_estimated = usage_estimated
        self.tier = tier
        self.text = text
        self.error = error
        self.calls: list[Sequence[Mapping[str, Any]]] = []
        self.models: list[str | None] = []
        self.tools: list[Sequence[Mapping[str, Any]] | None] = []
        self.closed = False

    def chat(self, messages: Sequence[Mapping[str, Any]], *, deadline: float,
             on_delta: Callable[[str], None] | None = None,
             model: str | None = None, tools: Sequence[Mapping[str, Any]] | None = None,
             tool_choice: Any = None, response_format: Any = None) -> FakeResult:
        self.calls.append(messages)
        self.tools.append(tools)
        self.models.append(model)
        if self.error is not None:
            raise self.error
        if on_delta is not None and (not self.declined or self.declined_shown):
            for word in self.text.split(" "):
                on_delta(word + " ")
        return FakeResult(text=self.text, usage_estimated=self.usage_estimated,
                          tier_declined=self.declined,
                          tool_calls=self.tool_calls if tools else ())

    def close(self) -> None:
        self.closed = True
