"""Sans-I/O parsing of the bytes a chat-completions server sends, streamed or not.

The sync and async clients feed these parsers the same bytes, so the quirks the real DeepSeek
API shows under load are handled once: ``: keep-alive`` SSE comments and blank lines while the
server queues the request, usage riding on the last chunk, ``reasoning_content`` (DeepSeek) or
``reasoning`` (vLLM >= 0.11), streams that end without ``data: [DONE]``, error objects inside a
stream, and a 200 whose body is empty or only blank lines. Nothing here does I/O or reads a
clock, which keeps it trivially testable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from edgesdk.errors import CloudError, CloudProtocolError, CloudUnavailable
from edgesdk.types import Usage


@dataclass
class SSEEvent:
    data: str
    event: str = "message"


class SSEDecoder:
    """Incremental Server-Sent-Events decoder (WHATWG rules that matter for chat streams)."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event = "message"

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buf += chunk
        events: list[SSEEvent] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            raw, self._buf = self._buf[:nl], self._buf[nl + 1:]
            ev = self._line(raw.rstrip(b"\r").decode("utf-8", errors="replace"))
            if ev is not None:
                events.append(ev)
        return events

    def flush(self) -> list[SSEEvent]:
        """Events left when the connection closed (a last line without its newline)."""
        events = []
        if self._buf:
            ev = self._line(self._buf.rstrip(b"\r").decode("utf-8", errors="replace"))
            self._buf = b""
            if ev is not None:
                events.append(ev)
        ev = self._line("")
        if ev is not None:
            events.append(ev)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            if not self._data:
                return None
            ev = SSEEvent(data="\n".join(self._data), event=self._event)
            self._data, self._event = [], "message"
            return ev
        if line.startswith(":"):
            return None  # comment, e.g. ": keep-alive"
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


def parse_usage(raw: Any) -> Usage:
    """Usage from DeepSeek fields, OpenAI/vLLM ``prompt_tokens_details``, or nothing."""
    if not isinstance(raw, dict):
        return Usage()
    prompt = int(raw.get("prompt_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    hit = raw.get("prompt_cache_hit_tokens")
    miss = raw.get("prompt_cache_miss_tokens")
    if hit is None:
        details = raw.get("prompt_tokens_details") or {}
        hit = details.get("cached_tokens") if isinstance(details, dict) else None
    hit_i = int(hit or 0)
    miss_i = int(miss) if miss is not None else max(0, prompt - hit_i)
    cdetails = raw.get("completion_tokens_details") or {}
    reasoning = int(cdetails.get("reasoning_tokens") or 0) if isinstance(cdetails, dict) else 0
    return Usage(prompt_tokens=prompt, completion_tokens=completion,
                 prompt_cache_hit_tokens=hit_i, prompt_cache_miss_tokens=miss_i,
                 reasoning_tokens=reasoning)


def _reasoning_of(part: dict[str, Any]) -> str | None:
    value = part.get("reasoning_content")
    if value is None:
        value = part.get("reasoning")
    return value if isinstance(value, str) else None


def _raise_embedded_error(obj: dict[str, Any]) -> None:
    err = obj.get("error")
    if err is None:
        return
    message = err.get("message", str(err)) if isinstance(err, dict) else str(err)
    raise CloudUnavailable(
        f"the server reported an error inside a 200 response: {message}. Retry later"
    )


@dataclass
class Completion:
    """What one response said, before pricing and timing are added."""

    text: str
    reasoning: str | None
    model: str
    finish_reason: str
    usage: Usage
    response_id: str
    saw_done: bool = True
    confidence: float | None = None
    """P(right) the tier reported for its own answer (edgesdk's ``serve-edge`` extension)."""
    confidence_known: bool = True
    """False when that tier said its ``confidence`` is a placeholder (``Answer``)."""
    declined: bool = False
    """The tier said it is not sure instead of answering (``edgesdk.declined``)."""
    tool_calls: tuple[dict[str, Any], ...] = ()
    """The tools the tier called, OpenAI-shaped (``{"id", "type", "function": {"name",
    "arguments"}}``, arguments a JSON string), not yet validated."""


def _extension(obj: dict[str, Any]) -> dict[str, Any]:
    """The ``edgesdk`` object an edgesdk edge tier adds to its responses ({} if none)."""
    ext = obj.get("edgesdk")
    return ext if isinstance(ext, dict) else {}


def _tier_declined(obj: dict[str, Any]) -> bool:
    """Whether an edgesdk edge tier's ``edgesdk.declined`` says it declined to answer."""
    return _extension(obj).get("declined") is True


def _tier_confidence_known(obj: dict[str, Any]) -> bool:
    """False only when an edgesdk tier's ``edgesdk.confidence_known`` says so."""
    return _extension(obj).get("confidence_known") is not False


def _tier_confidence(obj: dict[str, Any]) -> float | None:
    """The ``edgesdk.confidence`` an edgesdk edge tier adds to its responses, if valid."""
    value = _extension(obj).get("confidence")
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0.0 <= float(value) <= 1.0):
        return float(value)
    return None


def check_completion(c: Completion) -> Completion:
    """Turn the ways an overloaded server "succeeds" without answering into retryable errors."""
    if c.finish_reason == "insufficient_system_resource":
        raise CloudUnavailable(
            "the server stopped the answer for lack of resources "
            "(finish_reason insufficient_system_resource); retry later or use another tier"
        )
    if (not c.text and not c.reasoning and not c.tool_calls
            and c.finish_reason not in ("length", "tool_calls")):
        raise CloudProtocolError(
            "the server returned an empty answer (it does that when overloaded); retry later"
        )
    return c


def parse_completion(body: bytes) -> Completion:
    """A non-streaming response body; blank lines before the JSON are keep-alives."""
    text = body.strip()
    if not text:
        raise CloudProtocolError(
            "the server returned 200 with an empty body (it does that when overloaded); "
            "retry later"
        )
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise CloudProtocolError(
            f"the server's answer is not JSON ({str(exc)[:80]}); check the base URL "
            "points at an OpenAI-compatible API"
        ) from exc
    if not isinstance(obj, dict):
        raise CloudProtocolError("the server's answer is not a JSON object; check the base URL")
    _raise_embedded_error(obj)
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise CloudProtocolError("the server's answer has no choices; check the base URL")
    msg = choices[0].get("message") or {}
    return check_completion(Completion(
        text=msg.get("content") or "",
        reasoning=_reasoning_of(msg),
        model=str(obj.get("model") or ""),
        finish_reason=str(choices[0].get("finish_reason") or "stop"),
        usage=parse_usage(obj.get("usage")),
        response_id=str(obj.get("id") or ""),
        confidence=_tier_confidence(obj),
        confidence_known=_tier_confidence_known(obj),
        declined=_tier_declined(obj),
        tool_calls=_tool_calls(msg.get("tool_calls")),
    ))


def _tool_calls(raw: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("function"), dict):
            raise CloudProtocolError("the server's tool call is not an object with a "
                                     "'function'; check the server speaks the OpenAI format")
        fn = item["function"]
        out.append({"id": str(item.get("id") or ""), "type": "function",
                    "function": {"name": str(fn.get("name") or ""),
                                 "arguments": fn.get("arguments") or "{}"}})
    return tuple(out)


@dataclass
class StreamAccumulator:
    """Collects ``chat.completion.chunk`` events into a :class:`Completion`.

    ``feed`` returns the text deltas to hand to the caller; reasoning deltas are kept apart.
    """

    decoder: SSEDecoder = field(default_factory=SSEDecoder)
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    model: str = ""
    response_id: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    done: bool = False
    confidence: float | None = None
    confidence_known: bool = True
    declined: bool = False
    delivered: int = 0
    """Number of text deltas already handed to the caller (a retry would repeat them)."""
    withheld: bool = False
    """The tier declined before any text was handed on: its "not sure" sentence is kept in
    ``text`` but not handed to the caller, who may still show another answer."""
    handed: bool = False
    """Some text delta has been returned by ``feed``."""
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Tool calls being streamed, by index: their name and argument pieces joined."""

    def feed(self, chunk: bytes) -> list[str]:
        return [d for ev in self.decoder.feed(chunk) if (d := self._event(ev))]

    def _event(self, ev: SSEEvent) -> str | None:
        data = ev.data.strip()
        if not data:
            return None
        if data == "[DONE]":
            self.done = True
            return None
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise CloudProtocolError(
                f"a stream event is not JSON ({str(exc)[:80]}); check the base URL"
            ) from exc
        if not isinstance(obj, dict):
            return None
        _raise_embedded_error(obj)
        self.model = self.model or str(obj.get("model") or "")
        self.response_id = self.response_id or str(obj.get("id") or "")
        if obj.get("usage"):
            self.usage = parse_usage(obj["usage"])
        reported = _tier_confidence(obj)
        if reported is not None:  # 0.0 is a confidence too
            self.confidence = reported
            self.confidence_known = _tier_confidence_known(obj)
        if _tier_declined(obj):
            self.declined = True
            self.withheld = self.withheld or not self.handed
        out: list[str] = []
        for choice in obj.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            r = _reasoning_of(delta)
            if r:
                self.reasoning.append(r)
            for piece in delta.get("tool_calls") or ():
                if isinstance(piece, dict):
                    self._tool_piece(piece)
            content = delta.get("content")
            if isinstance(content, str) and content:
                self.text.append(content)
                out.append(content)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        if self.withheld or not out:
            return None
        self.handed = True
        return "".join(out)

    def _tool_piece(self, piece: dict[str, Any]) -> None:
        index = piece.get("index", 0)
        call = self.calls.setdefault(index if isinstance(index, int) else 0,
                                     {"id": "", "name": "", "arguments": ""})
        call["id"] = call["id"] or str(piece.get("id") or "")
        fn = piece.get("function") or {}
        if isinstance(fn, dict):
            call["name"] += str(fn.get("name") or "")
            call["arguments"] += str(fn.get("arguments") or "")

    def finish(self) -> Completion:
        """The stream closed: accept it if it finished (with or without [DONE])."""
        for ev in self.decoder.flush():
            self._event(ev)
        if self.finish_reason is None:
            err = CloudProtocolError(
                "the stream ended before the answer finished (no finish_reason, no [DONE]); "
                "retry later or use another tier"
            )
            if self.delivered:
                err.retryable = False  # the caller already showed part of this answer
            raise err
        completion = Completion(
            text="".join(self.text), reasoning="".join(self.reasoning) or None,
            model=self.model, finish_reason=self.finish_reason, usage=self.usage or Usage(),
            response_id=self.response_id, saw_done=self.done, confidence=self.confidence,
            confidence_known=self.confidence_known, declined=self.declined,
            tool_calls=tuple({"id": c["id"], "type": "function",
                              "function": {"name": c["name"], "arguments": c["arguments"] or "{}"}}
                             for _, c in sorted(self.calls.items())),
        )
        try:
            return check_completion(completion)
        except CloudError as exc:
            if self.delivered:
                exc.retryable = False
            raise
