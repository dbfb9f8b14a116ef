"""Conversations: ``assistant.session()`` keeps the turns and answers each question in context.

A follow-up ("and how tall is it?", "那第二个呢？") cannot be answered from its own words. The
session hands the assistant the recent turns: the device model sees the last few as context
lines, an escalated turn carries them (redacted) as earlier messages, and a question that
leans on them — a pronoun, "and …", "the second one" — is sent up rather than guessed at by
a small model that would have to resolve it (``depends_on_context``; offline or in
``only-on-device`` the device answers with the turns in its prompt).

The history is bounded by the device's budget: turns are kept newest first while they fit in
a quarter of the profile's context (counted with the local model's tokenizer) and at most
``max_turns``; older ones are dropped and the answer says how many. Upper tiers get the same
window, oldest first, so each request's prefix is the previous request plus its answer: the
part DeepSeek's context cache bills at the cache-hit price (``Answer.usage`` counts it).

A session is plain data (``to_json`` / ``Session.from_json``), so an app that is suspended can
save it and pick it up again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from edgesdk.errors import InputError
from edgesdk.types import Answer, Tier, ToolCall

if TYPE_CHECKING:
    from edgesdk.assistant import Assistant
    from edgesdk.async_assistant import AsyncAssistant

FORMAT_VERSION = 1
MAX_TURNS = 8
DEVICE_TURNS = 3
"""Turns the device model sees (a 135M-270M model loses the question in a longer context)."""
_FOLLOW_UP = re.compile(
    r"^\W*(and|also|what about|how about|then|so|but|or)\b|"
    r"\b(it|its|it's|that|this|those|these|they|them|their|he|him|his|she|her|there|"
    r"the (first|second|third|last|other|same) one|the former|the latter|one more|another)\b|"
    r"^\W*(why|how|when|where|who)\W*$|"
    r"^(那|还有|然后|另外|再)|它|他|她|他们|她们|这个|那个|那里|这里|第[一二三四五六七八九十]个|上一个|刚才",
    re.IGNORECASE)


def depends_on_context(question: str) -> bool:
    """Whether a question leans on earlier turns (a pronoun, "and …", "the second one")."""
    return bool(_FOLLOW_UP.search(question.strip()))


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    question: str
    answer: str
    tier: Tier = "device"
    tool_calls: list[ToolCall] = Field(default_factory=list)


class SessionState(BaseModel):
    """What a session saves: its turns, and how many it has dropped."""

    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT_VERSION
    turns: list[Turn] = Field(default_factory=list)
    dropped: int = 0


class _Window:
    """The recent turns that fit the budget, newest kept, oldest first in the result."""

    def __init__(self, assistant: Assistant, max_turns: int) -> None:
        self.count = assistant.llm.count_tokens
        self.budget = max(64, min(assistant.profile.n_ctx, assistant.llm.n_ctx) // 4)
        self.max_turns = max_turns

    def __call__(self, turns: Sequence[Turn]) -> tuple[list[Turn], int]:
        kept: list[Turn] = []
        used = 0
        for turn in reversed(turns):
            cost = self.count(turn.question) + self.count(turn.answer) + 8
            if len(kept) >= self.max_turns or used + cost > self.budget:
                break
            kept.append(turn)
            used += cost
        return kept[::-1], len(turns) - len(kept)


class Session:
    """One conversation with an ``Assistant``; ``ask`` takes the same options as its ``ask``."""

    def __init__(self, assistant: Assistant, *, state: SessionState | None = None,
                 max_turns: int = MAX_TURNS) -> None:
        self.assistant = assistant
        self.state = state or SessionState()
        self._window = _Window(assistant, max_turns)

    @property
    def turns(self) -> list[Turn]:
        return list(self.state.turns)

    def ask(self, question: str | None = None, **options: Any) -> Answer:
        if options.get("stream"):
            raise InputError("a session answers whole turns; call ask() without stream=True")
        history, dropped = self.window()
        answer = self.assistant.ask(question, history=history, **options)
        return self.record(answer, dropped)

    def window(self) -> tuple[list[Turn], int]:
        """The turns the next question is asked with, and how many older ones do not fit."""
        return self._window(self.state.turns)

    def record(self, answer: Answer, dropped: int) -> Answer:
        """Add ``answer`` as a turn (unless declined); say in it what the window dropped."""
        if dropped > self.state.dropped:
            note = (f"conversation: the {dropped} oldest turn(s) no longer fit the device's "
                    "budget and were dropped")
            answer = answer.model_copy(update={"reasons": [*answer.reasons, note]})
        self.state.dropped = max(self.state.dropped, dropped)
        if not answer.declined:
            self.state.turns.append(Turn(question=answer.question, answer=answer.text,
                                         tier=answer.tier, tool_calls=answer.tool_calls))
        return answer

    def to_json(self) -> str:
        return self.state.model_dump_json()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def from_json(cls, assistant: Assistant, text: str, **kwargs: Any) -> Session:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InputError(f"a saved session is not JSON ({exc}). Pass what "
                             "Session.to_json() wrote") from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_VERSION:
            raise InputError(f"a saved session must have format {FORMAT_VERSION}; this one "
                             f"has {raw.get('format') if isinstance(raw, dict) else None}")
        return cls(assistant, state=SessionState.model_validate(raw), **kwargs)

    @classmethod
    def load(cls, assistant: Assistant, path: str | Path, **kwargs: Any) -> Session:
        return cls.from_json(assistant, Path(path).read_text(encoding="utf-8"), **kwargs)


class AsyncSession:
    """The async twin: ``await session.ask(...)`` on an ``AsyncAssistant``."""

    def __init__(self, assistant: AsyncAssistant, *, state: SessionState | None = None,
                 max_turns: int = MAX_TURNS) -> None:
        self.assistant = assistant
        self._sync = Session(assistant.sync, state=state, max_turns=max_turns)

    @property
    def turns(self) -> list[Turn]:
        return self._sync.turns

    async def ask(self, question: str | None = None, **options: Any) -> Answer:
        history, dropped = self._sync.window()
        answer = await self.assistant.ask(question, history=history, **options)
        return self._sync.record(answer, dropped)

    def to_json(self) -> str:
        return self._sync.to_json()
