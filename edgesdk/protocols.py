"""The seams the Assistant is wired through, as Protocols (layer 1: imports only ``types``).

Each capability (router, upper tiers, perception, curation) is handed to ``Assistant`` as an
object satisfying one of these, so tests use small fakes written against the Protocol and the
capabilities never import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from edgesdk.types import Cost, Generation, Mode, Percept, RouteDecision, SkillResult, Tier, Usage


@runtime_checkable
class ChatResultLike(Protocol):
    """What an upper tier returns (read-only, so frozen models satisfy it)."""

    @property
    def text(self) -> str: ...
    @property
    def reasoning(self) -> str | None: ...
    @property
    def model(self) -> str: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def cost(self) -> Cost: ...
    @property
    def finish_reason(self) -> str: ...
    @property
    def tool_calls(self) -> tuple[dict[str, Any], ...]: ...


@runtime_checkable
class TierClient(Protocol):
    """An upper tier: an OpenAI-compatible chat endpoint (edge gateway, DeepSeek, a cluster)."""

    name: str
    tier: Tier

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        deadline: float,
        on_delta: Callable[[str], None] | None = None,
        model: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> ChatResultLike: ...

    def close(self) -> None: ...


@runtime_checkable
class RouterLike(Protocol):
    """Every decision about where a request is answered (``routing.router.Router``): the
    Assistant asks it before generating and after, and never builds a decision itself."""

    @property
    def refuse_below(self) -> float | None:
        """Confidence below which an answer that cannot go up is declined; ``None``: never."""
        ...

    @property
    def peer_model_id(self) -> str | None:
        """The second local model whose answer ``decide(peer=...)`` reads, if any."""
        ...

    def prepare(self, question: str) -> bool:
        """Question-only work (an embedding) before generating; False if some failed."""
        ...

    def heard(self, question: str, percepts: Sequence[Percept]) -> RouteDecision | None:
        """A refusal (ask the user again) for a spoken question heard too unsurely, else
        ``None``; decided before any skill, model or tier answers it."""
        ...

    def before_generation(self, *, question: str, skill: SkillResult | None,
                          percepts: Sequence[Percept], mode: Mode, state: Any = None,
                          ) -> RouteDecision | None:
        """The decision when no local generation is needed (a skill answered, a request to
        act, a hopeless prior), else ``None``."""
        ...

    def decide_call(self, *, tool: str, features: Mapping[str, float], mode: Mode,
                    state: Any = None, command: str = "") -> RouteDecision:
        """Stay with, escalate or refuse the device's call of an app's tool."""
        ...

    def overflowed(self) -> RouteDecision:
        """The decision for a question too long for the device model."""
        ...

    def decide(
        self,
        *,
        question: str,
        generation: Generation | None,
        skill: SkillResult | None,
        percepts: Sequence[Percept],
        mode: Mode,
        state: Any = None,
        peer: Generation | None = None,
    ) -> RouteDecision: ...

    def blocked(self, question: str, mode: Mode, state: Any = None) -> str | None:
        """Why ``question`` may not be escalated now, or ``None``."""
        ...

    def observe(self, *, question: str, generation: Generation | None, agreed: bool) -> bool:
        """A free label after a cloud answer (online recalibration); whether it was used."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Embedder(Protocol):
    """Sentence vectors, L2-normalised rows: ``edgesdk.local.embed.MiniLMEmbedder``, or the
    router's built-in ``routing.neighbours.HashedWords``. Curation and the router share it."""

    dim: int

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@runtime_checkable
class DocumentReader(Protocol):
    """Scores how well each passage answers a question (higher is better), for the languages
    it reads: ``edgesdk.local.rerank.CrossEncoderReader``."""

    languages: frozenset[str]

    def score(self, question: str, passages: Sequence[str]) -> NDArray[np.float32]: ...


class PerceptionResultLike(Protocol):
    @property
    def percepts(self) -> Sequence[Percept]: ...
    @property
    def transcript(self) -> str | None: ...


@runtime_checkable
class PerceptionLike(Protocol):
    def perceive(self, *, image: Any = None, audio: Any = None) -> PerceptionResultLike: ...


@runtime_checkable
class TextRedactor(Protocol):
    """Strips personal data (e-mails, phones, cards, ID numbers, keys) from text."""

    def redact_text(self, text: str) -> str: ...


@runtime_checkable
class CuratorLike(Protocol):
    def consider(self, answer: Any, *, image: bytes | None = None) -> Any: ...

    def feedback(self, answer_id: str, *, good: bool, correction: str | None = None) -> Any: ...
