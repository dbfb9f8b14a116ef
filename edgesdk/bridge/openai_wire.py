"""The OpenAI chat-completions wire format of the edge server, as pure functions.

The edge server (``openai_server.py``) lets a phone be the edge tier of a watch or glasses and
lets any OpenAI client use an on-device Assistant. Everything about the *format* lives here,
away from sockets and threads, so each rule is unit-testable on plain dicts:

* **request → question**: the last ``user`` message is the question. The ``system`` message is
  the upper-tier prompt a lower tier sends (``edgesdk.local.prompts.cloud_messages``) and is
  not used: the serving Assistant has its own prompts. Percepts arrive as text inside the user
  message ("What the device perceives: ... Question: ..."); its lines are joined into one, so
  completion-style prompts (Gemma's ``Q:``/``A:`` block) stay one question per line.
* **Answer → response**: ``model`` is the serving Assistant's local model id; ``usage`` is the
  answer's; an ``edgesdk`` extension object says which tier answered, how confident it was and
  why (plain OpenAI clients ignore unknown keys).
* **errors → body**: ``{"error": {"message", "type", "param", "code"}}``, the shape OpenAI SDKs
  parse; ``code`` is the SDK's stable error code, ``type`` the OpenAI category.

Unknown request fields are ignored (OpenAI clients send many); ``max_tokens`` and
``temperature`` are ignored too, because the device profile decides them. What cannot be served
honestly (``n`` > 1, images) is refused with a 400 that says what to send instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgesdk.bridge.statuses import status_for
from edgesdk.errors import EdgeSDKError, InputError, ToolError
from edgesdk.types import MODES, Answer, Mode

EXTENSION = "edgesdk"
"""Key of the extension object in responses (and, optionally, in requests)."""

MAX_DEADLINE_S = 600.0


class WireError(Exception):
    """A request the server refuses before the Assistant sees it (status, code, message)."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    """What the edge server takes from a chat-completions body."""

    question: str
    stream: bool = False
    mode: Mode | None = None
    deadline_s: float | None = None
    requested_model: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    """OpenAI-format tool definitions (empty, or ``tool_choice`` "none": answer in text)."""


def _invalid(message: str) -> WireError:
    return WireError(400, "invalid_request", message)


def _text_of(content: Any, index: int) -> str:
    """A message's text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise _invalid(
                    f"messages[{index}] has a content part of type {kind!r}; this edge tier "
                    "takes text only. Send what the device perceives as text in the user message")
            texts.append(str(part.get("text") or ""))
        return "\n".join(texts)
    if content is None:
        return ""
    raise _invalid(f"messages[{index}].content must be a string or a list of text parts")


def flatten(text: str) -> str:
    """One line: the lines of a percept block joined by spaces."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def parse_chat_request(body: Any) -> ChatRequest:
    """Validate a decoded JSON body; raise :class:`WireError` (400) saying what is wrong."""
    if not isinstance(body, dict):
        raise _invalid("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("'messages' must be a non-empty list of {role, content} objects")
    question: str | None = None
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _invalid(f"messages[{index}] must be an object with a string 'role'")
        text = _text_of(message.get("content"), index)
        if message["role"] == "user":
            question = text
    if question is None:
        raise _invalid("no message with role 'user'; the last user message is the question")
    n = body.get("n", 1)
    if n not in (1, None):
        raise _invalid("'n' must be 1: the edge tier returns one answer per request")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _invalid("'stream' must be true or false")
    model = body.get("model")
    ext = body.get(EXTENSION) or {}
    if not isinstance(ext, dict):
        raise _invalid(f"'{EXTENSION}' must be an object with optional 'mode' and 'deadline_s'")
    mode = ext.get("mode")
    if mode is not None and mode not in MODES:
        raise _invalid(f"{EXTENSION}.mode must be one of: {', '.join(MODES)}")
    deadline = ext.get("deadline_s")
    if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, int | float)
                                 or not 0 < deadline <= MAX_DEADLINE_S):
        raise _invalid(f"{EXTENSION}.deadline_s must be a number in (0, {MAX_DEADLINE_S:g}]")
    tools = body.get("tools") or []
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise _invalid("'tools' must be a list of OpenAI-format tool definitions")
    if body.get("tool_choice") == "none":
        tools = []
    return ChatRequest(
        question=flatten(question), stream=stream, mode=mode,
        deadline_s=float(deadline) if deadline is not None else None,
        requested_model=model if isinstance(model, str) else None, tools=tuple(tools),
    )


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True, kw_only=True)
class Meta:
    """What every response and chunk of one completion repeats."""

    completion_id: str
    model: str
    created: int

    @classmethod
    def new(cls, model: str) -> Meta:
        return cls(completion_id=f"chatcmpl-{uuid.uuid4().hex}", model=model,
                   created=int(time.time()))


def finish_reason(answer: Answer) -> str:
    """``tool_calls`` for a call, ``length`` when the device model ran out of tokens (or
    time), else ``stop``."""
    if answer.tool_calls:
        return "tool_calls"
    if answer.source == "llm":
        for step in answer.trace:
            if step.step == "local_llm" and step.detail.get("finish") in ("length", "deadline"):
                return "length"
    return "stop"


def usage_of(answer: Answer) -> dict[str, int]:
    u = answer.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
        "prompt_cache_hit_tokens": u.prompt_cache_hit_tokens,
        "prompt_cache_miss_tokens": u.prompt_cache_miss_tokens,
    }


def extension_of(answer: Answer, *, profile: str | None) -> dict[str, Any]:
    """The ``edgesdk`` object: which tier of the *serving* device answered, and why."""
    return {
        "tier": answer.tier,
        "confidence": round(answer.confidence, 4),
        "confidence_known": answer.confidence_known,
        "escalated": answer.escalated,
        "declined": answer.declined,
        "reasons": list(answer.reasons),
        "source": answer.source,
        "answered_by": answer.model,
        "answer_id": answer.id,
        "latency_ms": round(answer.latency_ms, 1),
        "cost": answer.cost.model_dump(),
        "usage_estimated": answer.usage_estimated,
        "profile": profile,
    }


def completion_body(answer: Answer, *, meta: Meta, profile: str | None) -> dict[str, Any]:
    return {
        "id": meta.completion_id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": "edgesdk",
        "choices": [{
            "index": 0,
            "message": message_of(answer),
            "finish_reason": finish_reason(answer),
            "logprobs": None,
        }],
        "usage": usage_of(answer),
        EXTENSION: extension_of(answer, profile=profile),
    }


def message_of(answer: Answer) -> dict[str, Any]:
    """The assistant message: its text, or (for a call) no content and the ``tool_calls``."""
    if answer.tool_calls:
        return {"role": "assistant", "content": None,
                "tool_calls": [c.openai() for c in answer.tool_calls]}
    return {"role": "assistant", "content": answer.text}


def tool_call_deltas(answer: Answer) -> dict[str, Any]:
    """A stream's one delta carrying every call whole (name and arguments at once)."""
    return {"role": "assistant", "content": None,
            "tool_calls": [{"index": i, **c.openai()} for i, c in enumerate(answer.tool_calls)]}


def chunk_body(*, meta: Meta, delta: Mapping[str, Any], finish: str | None = None,
               answer: Answer | None = None, profile: str | None = None,
               declined: bool = False) -> dict[str, Any]:
    """One ``chat.completion.chunk``; the final one (``answer`` given) carries usage and the
    extension object. A delta that is a decline (``declined``) says so in the extension
    before its text, so the client can withhold it (``StreamAccumulator``)."""
    body: dict[str, Any] = {
        "id": meta.completion_id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": "edgesdk",
        "choices": [{"index": 0, "delta": dict(delta), "finish_reason": finish,
                     "logprobs": None}],
    }
    if answer is not None:
        body["usage"] = usage_of(answer)
        body[EXTENSION] = extension_of(answer, profile=profile)
    elif declined:
        body[EXTENSION] = {"declined": True}
    return body


def models_body(model: str, *, created: int | None = None) -> dict[str, Any]:
    return {"object": "list", "data": [{
        "id": model, "object": "model", "created": created or int(time.time()),
        "owned_by": "edgesdk",
    }]}


# --------------------------------------------------------------------------- errors

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 405: "invalid_request_error", 411: "invalid_request_error",
          413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error"}


def error_type(status: int) -> str:
    return _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type(status), "param": None,
                      "code": code}}


def status_of(exc: EdgeSDKError) -> int:
    """The bridge's status table, except input errors: 400, as OpenAI servers answer them."""
    return 400 if isinstance(exc, InputError | ToolError) else status_for(exc)
