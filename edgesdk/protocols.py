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


@runtime_checkable
class TierClient(Protocol):
    """An upper tier: an OpenAI-compatible chat endpoint (edge gateway, DeepSeek, a cluster)."""

    name: str
    tier: Tier

    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        deadline: float,
        on_delta: Callable[[str], None] | None = None,
        model: str | None = None,
    ) -> ChatResultLike: ...

    def close(self) -> None: ...


@runtime_checkable
class RouterLike(Protocol):
    """Decides, from the device's own evidence, whether its answer is good enough."""

    skip_below: float
    """Pre-generation priors below this skip local generation entirely."""

    def prior(self, question: str) -> float | None: ...

    def blocked(self, question: str, mode: Mode, state: Any = None) -> str | None:
        """Why ``question`` may not be escalated now, or ``None``. The assistant asks before
        letting a hopeless prior skip local generation: that shortcut must obey the same rules
        (private topics, network, budgets, deadline) as ``decide``."""
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


@runtime_checkable
class Embedder(Protocol):
    """Sentence vectors, L2-normalised rows: ``edgesdk.local.embed.MiniLMEmbedder``, or the
    router's built-in ``routing.neighbours.HashedWords``. Curation and the router share it."""

    dim: int

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@runtime_checkable
class QuestionPreparer(Protocol):
    """A router that reads a question embedding (the answer bank) and can compute it ahead
    of ``decide``: the Assistant calls this before local generation, so the decision itself
    stays a dot product. Raising is allowed; ``decide`` then fails safe."""

    def question_vector(self, question: str) -> Any: ...


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
