"""Who answers inside the stand-in server: a scripted responder, or a local GGUF model.

The stand-in speaks the wire protocol; a responder only decides the words. Tests want fixed,
known answers (``ScriptedResponder``); a demo or a soak test wants a real "bigger model" that
still runs offline (``GGUFResponder`` over llama-cpp-python). Any callable with the
:class:`Responder` signature works, so app developers can script their own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from edgesdk.errors import MissingExtra


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[Mapping[str, str], ...]
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: Any = None
    response_format: Mapping[str, Any] | None = None

    @property
    def question(self) -> str:
        """The last user message (what a scripted answer is keyed by)."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return str(m.get("content") or "")
        return ""

    @property
    def thinking(self) -> bool:
        return "reasoner" in self.model


@dataclass(frozen=True)
class Reply:
    text: str
    reasoning: str | None = None
    finish_reason: str = "stop"
    tool_calls: tuple[dict[str, Any], ...] = ()
    """OpenAI-shaped calls (``finish_reason`` "tool_calls")."""


class Responder(Protocol):
    def __call__(self, request: ChatRequest, /) -> Reply: ...


@dataclass
class ScriptedResponder:
    """Answers from a table (question -> answer, matched exactly then by substring), else from
    a list of replies in turn, else an echo. Reasoner models also get a short reasoning text."""

    answers: Mapping[str, str] = field(default_factory=dict)
    replies: Sequence[Reply | str] = ()
    _turn: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: ChatRequest) -> Reply:
        q = request.question
        reasoning = f"The user asks: {q[:80]}. Answer briefly." if request.thinking else None
        if q in self.answers:
            return Reply(text=self.answers[q], reasoning=reasoning)
        for key, answer in self.answers.items():
            if key.lower() in q.lower():
                return Reply(text=answer, reasoning=reasoning)
        if self.replies:
            with self._lock:
                r = self.replies[self._turn % len(self.replies)]
                self._turn += 1
            return r if isinstance(r, Reply) else Reply(text=r, reasoning=reasoning)
        return Reply(text=f"Stand-in answer to: {q}", reasoning=reasoning)


@dataclass
class ToolCallingResponder:
    """Function calling in front of another responder, as DeepSeek does it: when tools are
    offered and the last message is the user's, a command one of them does becomes a call
    (read with the device's own reader: no model, deterministic); a ``tool`` message gets a
    short final answer built from the results; anything else goes to ``inner``."""

    inner: Responder = field(default_factory=ScriptedResponder)

    def __call__(self, request: ChatRequest) -> Reply:
        last = request.messages[-1] if request.messages else {}
        if last.get("role") == "tool":
            results = [str(m.get("content") or "") for m in request.messages
                       if m.get("role") == "tool"]
            return Reply(text="Done: " + "; ".join(results))
        if request.tools and request.tool_choice != "none":
            from edgesdk.local.actions import ActionReader  # the reader is the stand-in's model
            from edgesdk.tools import Toolbox

            question = request.question.rsplit("Question: ", 1)[-1]
            reading = ActionReader(Toolbox(request.tools)).read(question)
            if reading.tool is not None:
                call = {"id": f"call_{abs(hash(question)) % 10**12:012d}", "type": "function",
                        "function": {"name": reading.tool,
                                     "arguments": json.dumps(reading.arguments,
                                                             ensure_ascii=False)}}
                return Reply(text="", tool_calls=(call,), finish_reason="tool_calls")
        return self.inner(request)


class GGUFResponder:
    """A local GGUF chat model (llama-cpp-python) as the stand-in's "bigger model"."""

    def __init__(self, *, model_path: Path | str, n_ctx: int = 2048, threads: int = 2,
                 default_max_tokens: int = 128) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise MissingExtra(module="llama_cpp", extra="llm",
                               purpose="the stand-in's GGUF responder") from exc
        self._llm: Any = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=threads,
                               verbose=False)
        self._lock = threading.Lock()  # one llama context cannot serve two requests at once
        self.default_max_tokens = default_max_tokens

    def __call__(self, request: ChatRequest) -> Reply:
        with self._lock:
            out = self._llm.create_chat_completion(
                messages=[dict(m) for m in request.messages],
                max_tokens=request.max_tokens or self.default_max_tokens,
                temperature=0.0 if request.temperature is None else request.temperature,
            )
        choice = out["choices"][0]
        return Reply(text=str(choice["message"].get("content") or ""),
                     finish_reason=str(choice.get("finish_reason") or "stop"))
