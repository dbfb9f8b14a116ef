"""A DeepSeek-compatible HTTP server on 127.0.0.1 that misbehaves exactly like the real one.

The real API's failure modes (keep-alive blank lines, ``: keep-alive`` comments, 200 with an
empty body, streams without ``[DONE]``, ``insufficient_system_resource``, 429 with
``Retry-After``, 5xx, hangs) are rare and cannot be provoked on demand, so clients are usually
tested against mocks that never show them. This stand-in is a real socket server (stdlib
``ThreadingHTTPServer``, no extra dependency, startable from a test or ``edgesdk stand-in``)
whose faults are switched on per request, with a request counter so tests can prove a client
does not storm a failing server. It computes DeepSeek-style usage, including context-cache hits
by prefix match in 64-token units, so cache-friendly prompting can be tested offline too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from edgesdk.cloud.pricing import TOKENS_PER_CHAR, estimate_tokens
from edgesdk.errors import ConfigError
from edgesdk.httpserver import BackgroundHTTPServer, ThreadedHTTPServer
from edgesdk.testing.responders import (
    ChatRequest,
    Reply,
    Responder,
    ScriptedResponder,
    ToolCallingResponder,
)

log = logging.getLogger("edgesdk.testing.standin")

CACHE_UNIT = 64
ERROR_FAULTS: dict[str, tuple[int, str, str]] = {
    "400": (400, "invalid_request_error", "Invalid request format"),
    "401": (401, "authentication_error", "Authentication Fails, your api key is invalid"),
    "402": (402, "insufficient_balance", "Insufficient Balance"),
    "422": (422, "invalid_request_error", "Invalid parameters"),
    "429": (429, "rate_limit_error", "Rate limit reached for requests"),
    "500": (500, "server_error", "Internal server error"),
    "503": (503, "server_overloaded", "Server overloaded, please try again later"),
}
TERMINAL = {*ERROR_FAULTS, "hang", "empty-body", "empty-reply", "cut", "stall",
            "insufficient-resource"}
QUIRKS = {"blank-lines", "keep-alive", "no-done", "slow", "vllm-reasoning"}
FAULT_KINDS = tuple(sorted(TERMINAL | QUIRKS))


@dataclass
class Fault:
    """One fault: ``kind`` on the next ``times`` chat requests (``None``: on every one)."""

    kind: str
    times: int | None = None
    retry_after_s: float = 1.0
    delay_s: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError(f"unknown stand-in fault {self.kind!r}; use one of "
                              f"{', '.join(FAULT_KINDS)}")

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """``KIND[*N][:retry-after=S,delay=S]``, e.g. ``503*2``, ``429*1:retry-after=0.5``."""
        head, _, opts = spec.partition(":")
        kind, _, n = head.partition("*")
        fault = cls(kind=kind.strip(), times=int(n) if n else None)
        for opt in filter(None, opts.split(",")):
            key, _, value = opt.partition("=")
            if key.strip() == "retry-after":
                fault.retry_after_s = float(value)
            elif key.strip() == "delay":
                fault.delay_s = float(value)
            else:
                raise ConfigError(f"unknown fault option {key!r} in {spec!r}; "
                                  "use retry-after=S or delay=S")
        return fault


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: dict[str, Any] | None
    authorized: bool
    faults: tuple[str, ...] = ()
    at: float = field(default_factory=time.monotonic)


class _Server(ThreadedHTTPServer):
    block_on_close = False
    standin: StandIn


class StandIn(BackgroundHTTPServer):
    """``with StandIn(faults=["503*2"]) as s: ChatClient(base_url=s.url, ...)``.

    ``url`` is the base URL for a client (DeepSeek style, no ``/v1``; ``/v1/...`` is served too).
    """

    thread_name = "edgesdk-standin"
    poll_interval_s = 0.05

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 responder: Responder | None = None, faults: Iterable[Fault | str] = (),
                 api_key: str | None = None,
                 models: Sequence[str] = ("deepseek-chat", "deepseek-reasoner"),
                 balance: Sequence[tuple[str, str]] = (("CNY", "110.00"), ("USD", "15.00")),
                 trickle_s: float = 0.02, keepalive_lines: int = 3) -> None:
        self.host = host
        self.responder: Responder = responder or ToolCallingResponder(ScriptedResponder())
        self.api_key = api_key
        self.models = tuple(models)
        self.balance = tuple(balance)
        self.trickle_s = trickle_s
        self.keepalive_lines = keepalive_lines
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self.set_faults(*faults)
        self._cache: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = _Server((host, port), _Handler)
        server.standin = self
        self._init_http(server, url_host=host)

    def close(self) -> None:
        self._stopping.set()
        super().close()

    stop = close

    # ------------------------------------------------------------------ test controls

    def set_faults(self, *faults: Fault | str) -> None:
        self._faults = [f if isinstance(f, Fault) else Fault.parse(f) for f in faults]

    def count(self, path: str = "/chat/completions") -> int:
        return sum(1 for r in self.requests if r.path == path)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._cache.clear()

    def take_faults(self) -> list[Fault]:
        """The faults that apply to the next chat request (consuming counted ones)."""
        with self._lock:
            chosen: list[Fault] = []
            terminal = False
            for f in self._faults:
                if f.times is not None and f.times <= 0:
                    continue
                if f.kind in TERMINAL:
                    if terminal:
                        continue
                    terminal = True
                chosen.append(f)
                if f.times is not None:
                    f.times -= 1
            return chosen

    # ------------------------------------------------------------------ usage

    def usage(self, messages: Sequence[Any], reply: Reply) -> dict[str, Any]:
        """DeepSeek usage; cache hits by prefix match in 64-token units, like the real cache."""
        prompt = "".join(f"<|{m.get('role')}|>{m.get('content')}" for m in messages
                         if isinstance(m, dict))
        prompt_tokens = estimate_tokens(prompt)
        units = prompt_tokens // CACHE_UNIT
        keys = [hashlib.sha256(prompt[: int(k * CACHE_UNIT / TOKENS_PER_CHAR)].encode())
                .hexdigest() for k in range(1, units + 1)]
        with self._lock:
            hit_units = 0
            for k, key in enumerate(keys, start=1):
                if key not in self._cache:
                    break
                hit_units = k
            self._cache.update(keys)
        hit = hit_units * CACHE_UNIT
        reasoning = estimate_tokens(reply.reasoning or "")
        completion = estimate_tokens(reply.text) + reasoning
        return {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": prompt_tokens - hit,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }


def _words(text: str) -> list[str]:
    out, word = [], ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    return [*out, word] if word else out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # many small SSE writes: without this, Nagle + delayed ACK add ~40 ms per response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("stand-in: " + format, *args)

    # ------------------------------------------------------------------ plumbing

    @property
    def si(self) -> StandIn:
        return self.server.standin

    def _route(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") else path

    def _authorized(self) -> bool:
        key = self.si.api_key
        return key is None or self.headers.get("Authorization") == f"Bearer {key}"

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str,
               headers: dict[str, str] | None = None) -> None:
        self._json(status, {"error": {"message": message, "type": kind, "param": None,
                                      "code": kind}}, headers)

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _wait(self, seconds: float) -> None:
        self.si._stopping.wait(seconds)

    def _record(self, body: dict[str, Any] | None, faults: Sequence[Fault] = ()) -> None:
        with self.si._lock:
            self.si.requests.append(RecordedRequest(
                method=self.command, path=self._route(), body=body,
                authorized=self._authorized(), faults=tuple(f.kind for f in faults)))

    # ------------------------------------------------------------------ routes

    def do_GET(self) -> None:
        self._record(None)
        route = self._route()
        if not self._authorized():
            return self._error(401, "authentication_error", "Authentication Fails")
        if route == "/models":
            return self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "edgesdk-stand-in"}
                for m in self.si.models]})
        if route == "/user/balance":
            return self._json(200, {"is_available": True, "balance_infos": [
                {"currency": c, "total_balance": b, "granted_balance": "0.00",
                 "topped_up_balance": b} for c, b in self.si.balance]})
        return self._error(404, "not_found", f"no route {route}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._record(None)
            return self._error(400, "invalid_request_error", "body is not JSON")
        route = self._route()
        if route != "/chat/completions":
            self._record(body)
            return self._error(404, "not_found", f"no route {route}")
        faults = self.si.take_faults()
        self._record(body, faults)
        if not self._authorized():
            return self._error(401, "authentication_error", "Authentication Fails")
        try:
            self._chat(body, {f.kind: f for f in faults})
        except (BrokenPipeError, ConnectionResetError):
            log.debug("stand-in: client went away")

    def _chat(self, body: dict[str, Any], faults: dict[str, Fault]) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "invalid_request_error", "messages must be a non-empty list")
        model = str(body.get("model") or "")
        if model not in self.si.models:
            return self._error(400, "invalid_request_error", f"Model Not Exist: {model}")
        for kind, (status, etype, text) in ERROR_FAULTS.items():
            if kind in faults:
                headers = ({"Retry-After": f"{faults[kind].retry_after_s:g}"}
                           if kind == "429" else None)
                return self._error(status, etype, text, headers)
        if "hang" in faults:
            self._wait(3600)
            return
        if "slow" in faults:
            self._wait(faults["slow"].delay_s)
        stream = bool(body.get("stream"))
        tools = body.get("tools") or []
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            return self._error(400, "invalid_request_error", "tools must be a list of objects")
        request = ChatRequest(model=model, messages=tuple(messages), stream=stream,
                              max_tokens=body.get("max_tokens"),
                              temperature=body.get("temperature"), tools=tuple(tools),
                              tool_choice=body.get("tool_choice"),
                              response_format=body.get("response_format"))
        reply = self.si.responder(request)
        if "insufficient-resource" in faults:
            reply = Reply(text=reply.text[: len(reply.text) // 2], reasoning=reply.reasoning,
                          finish_reason="insufficient_system_resource")
        if "empty-reply" in faults:
            reply = Reply(text="", finish_reason="stop")
        usage = self.si.usage(messages, reply)
        meta = {"id": str(uuid.uuid4()), "created": int(time.time()), "model": model,
                "system_fingerprint": "fp_standin"}
        rkey = "reasoning" if "vllm-reasoning" in faults else "reasoning_content"
        if stream:
            return self._stream(reply, usage, meta, rkey, faults)
        if "empty-body" in faults:
            self._start_chunked("application/json")
            for _ in range(self.si.keepalive_lines):
                self._chunk(b"\n")
                self._wait(self.si.trickle_s)
            return self._end_chunked()
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None
                                   if reply.tool_calls else reply.text}
        if reply.tool_calls:
            message["tool_calls"] = [dict(c) for c in reply.tool_calls]
        if reply.reasoning is not None:
            message[rkey] = reply.reasoning
        obj = {**meta, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "message": message, "finish_reason": reply.finish_reason,
             "logprobs": None}]}
        if not faults.keys() & {"blank-lines", "cut", "stall"}:
            return self._json(200, obj)
        self._start_chunked("application/json")
        for _ in range(self.si.keepalive_lines):
            self._chunk(b"\n")
            self._wait(self.si.trickle_s)
        data = json.dumps(obj).encode()
        if "stall" in faults:
            self._wait(3600)
            return
        if "cut" in faults:
            self._chunk(data[: len(data) // 2])
            self.close_connection = True
            return  # the connection drops mid-body
        self._chunk(data)
        self._end_chunked()

    def _stream(self, reply: Reply, usage: dict[str, Any], meta: dict[str, Any], rkey: str,
                faults: dict[str, Fault]) -> None:
        self._start_chunked("text/event-stream")
        keepalive = "keep-alive" in faults
        if "empty-body" in faults:
            for _ in range(self.si.keepalive_lines):
                self._chunk(b": keep-alive\n\n")
                self._wait(self.si.trickle_s)
            return self._end_chunked()

        def event(delta: dict[str, Any], finish: str | None = None,
                  with_usage: bool = False) -> None:
            if keepalive:
                self._chunk(b": keep-alive\n\n")
            obj: dict[str, Any] = {**meta, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
            if with_usage:
                obj["usage"] = usage
            self._chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")

        if keepalive:
            for _ in range(self.si.keepalive_lines):
                self._chunk(b": keep-alive\n\n")
                self._wait(self.si.trickle_s)
        event({"role": "assistant", "content": ""})
        pieces = [(rkey, w) for w in _words(reply.reasoning or "")]
        pieces += [("content", w) for w in _words(reply.text)]
        for index, call in enumerate(reply.tool_calls):  # the name first, then the arguments
            fn = call["function"]
            event({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                   "function": {"name": fn["name"], "arguments": ""}}]})
            args = fn["arguments"]
            for cut in range(0, len(args), 8):
                event({"tool_calls": [{"index": index,
                                       "function": {"arguments": args[cut:cut + 8]}}]})
        for n, (key, word) in enumerate(pieces):
            if n == 1 and "cut" in faults:
                self.close_connection = True
                return  # the connection drops mid-answer: no finish, no [DONE]
            if n == 1 and "stall" in faults:
                self._wait(3600)
                return
            event({key: word, **({"content": None} if key != "content" else {})})
        event({"content": ""}, finish=reply.finish_reason, with_usage=True)
        if "no-done" not in faults:
            self._chunk(b"data: [DONE]\n\n")
        self._end_chunked()


def serve(*, port: int, faults: Sequence[str] = (), responder: Responder | None = None,
          api_key: str | None = None, host: str = "127.0.0.1") -> StandIn:
    """Start a stand-in in the background and return it (the CLI waits on it)."""
    return StandIn(host=host, port=port, faults=faults, responder=responder,
                   api_key=api_key).start()
