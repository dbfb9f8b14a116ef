"""The edge server: an Assistant behind an OpenAI-compatible chat-completions endpoint.

A phone (or a home gateway) runs a bigger model than a watch or glasses. Serving its Assistant
in the OpenAI format makes it an upper tier for them with no new client code — the glasses'
``ChatClient`` (``build_tier(tier="edge", base_url=...)``) already speaks it — and lets any
OpenAI client, curl included, use the device's model. The served Assistant is a full one: it
answers on the phone when it is confident and escalates further up (DeepSeek, a cluster) when
it is not, and says which in the ``edgesdk`` extension of every response.

It lives in ``bridge/`` because it is the same kind of thing as the bridge — the Assistant over
HTTP for another process — and shares its choices and helpers: a stdlib ``ThreadingHTTPServer``
(the Assistant serialises model calls, so an event loop buys nothing on a phone), the
``BridgeBackend`` seam (so tests can serve ``FakeBackend`` or a fake-wired Assistant),
``call_with_deadline`` (stop waiting at the deadline, keep the slot until the call really ends),
loopback-only binding unless ``allow_remote``, the HTTP status table of ``statuses.py``, and
bodies drained before an early rejection (else the client sees a reset instead of our 413).
The *format* is OpenAI's, not the bridge protocol's, and lives in ``openai_wire.py``.

The bearer token is optional (``--token`` / ``EDGESDK_EDGE_TOKEN``) because the default bind is
loopback; it is compared with :func:`hmac.compare_digest` before any body is read and is never
logged. ``/health`` answers without it so a load balancer or the glasses can probe liveness.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgesdk.bridge import openai_wire as w
from edgesdk.bridge.backend import AssistantBackend, BridgeBackend
from edgesdk.bridge.httpio import JSONHandler, retry_after
from edgesdk.bridge.protocol import SSE_ANSWER, SSE_ERROR, SSE_TOKEN
from edgesdk.bridge.server import ServeConfig, is_loopback
from edgesdk.bridge.support import call_with_deadline, next_event, produce_events, sdk_version
from edgesdk.errors import ConfigError, DeadlineExceeded, EdgeSDKError
from edgesdk.httpserver import BackgroundHTTPServer, ThreadedHTTPServer
from edgesdk.types import Answer, DeclinedText, Mode

if TYPE_CHECKING:
    from edgesdk.assistant import Assistant

log = logging.getLogger("edgesdk.edge")

DEFAULT_PORT = 8766
TOKEN_ENV = "EDGESDK_EDGE_TOKEN"
_DRAIN_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class EdgeConfig(ServeConfig):
    port: int = DEFAULT_PORT
    token: str | None = None
    max_body_bytes: int = 1024 * 1024
    max_in_flight: int = 8
    mode: Mode | None = None

    def __post_init__(self) -> None:
        if self.token is not None and (not self.token or self.token != self.token.strip()):
            raise ConfigError(f"the edge token is empty or has surrounding spaces; pass --token "
                              f"or set {TOKEN_ENV} to a random string, or leave both unset")
        if not is_loopback(self.host) and not self.allow_remote:
            raise ConfigError(
                f"refusing to listen on {self.host}: the edge server binds to loopback only. "
                "Use --host 127.0.0.1, or add --allow-remote (and --token) if the glasses or "
                "other machines must reach it")
        self.check_limits()


class _HTTPServer(ThreadedHTTPServer):
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], *, edge: EdgeServer) -> None:
        self.edge = edge
        super().__init__(address, _Handler)


class EdgeServer(BackgroundHTTPServer):
    """Serve a backend as an OpenAI-compatible tier; ``start()`` in a thread or
    ``serve_forever()``. ``EdgeServer.for_assistant(assistant, config=...)`` is the usual way."""

    thread_name = "edgesdk-edge"
    url_path = "/v1"  # the base URL for OpenAI clients and ``build_tier`` (``/v1`` is optional)

    def __init__(self, *, backend: BridgeBackend, model: str, config: EdgeConfig) -> None:
        self.backend = backend
        self.model = model
        self.config = config
        self._token = config.token.encode("utf-8") if config.token else None
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._requests = 0
        self._in_flight = 0
        self._errors: Counter[str] = Counter()
        if not is_loopback(config.host):
            log.warning("the edge server listens on %s, reachable from other machines%s",
                        config.host, "" if self._token else
                        " WITHOUT a token: anyone there can use this device's model and its "
                        "cloud budget. Pass --token")
        self._init_http(_HTTPServer((config.host, config.port), edge=self), url_host=config.host)

    @classmethod
    def for_assistant(cls, assistant: Assistant, *, config: EdgeConfig) -> EdgeServer:
        return cls(backend=AssistantBackend(assistant=assistant),
                   model=assistant.llm.model_id, config=config)

    # ---------------------------------------------------------------- lifecycle

    def serve_forever(self) -> None:
        log.info("edgesdk edge server %s serving %s on %s", sdk_version(), self.model, self.url)
        super().serve_forever()

    # ---------------------------------------------------------------- used by the handler

    def authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        scheme, _, value = (header or "").strip().partition(" ")
        ok = hmac.compare_digest(value.strip().encode("latin-1", "replace"), self._token)
        return scheme.lower() == "bearer" and ok

    def count(self, error: str | None = None) -> None:
        with self._lock:
            if error is None:
                self._requests += 1
            else:
                self._errors[error] += 1

    def acquire(self) -> None:
        with self._lock:
            if self._in_flight >= self.config.max_in_flight:
                raise w.WireError(503, "busy", "the edge server is at its limit of concurrent "
                                  "requests; retry shortly", headers={"Retry-After": "1"})
            self._in_flight += 1

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {"status": "ok", "version": sdk_version(), "model": self.model,
                    "profile": self.config.profile,
                    "uptime_s": round(time.monotonic() - self._started, 3),
                    "requests": self._requests, "in_flight": self._in_flight,
                    "errors": dict(self._errors)}


class _Handler(JSONHandler):
    server: _HTTPServer

    def version_string(self) -> str:
        return "edgesdk-edge"

    def setup(self) -> None:
        self.timeout = self.server.edge.config.read_timeout_s  # type: ignore[misc]
        super().setup()
        # many small SSE writes: without this, Nagle + delayed ACK add ~40 ms per response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        # request line and status only (never headers: the token); -v shows them
        log.debug("%s %s", self.address_string(), format % args)

    @property
    def edge(self) -> EdgeServer:
        return self.server.edge

    def _dispatch(self, method: str) -> None:
        self._body_read = method != "POST"
        self._headers_sent = False
        self.edge.count()
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        path = path[3:] if path.startswith("/v1/") else path
        routes: dict[str, tuple[str, Callable[[], None]]] = {
            "/health": ("GET", lambda: self._json(200, self.edge.health())),
            "/models": ("GET", lambda: self._json(200, w.models_body(self.edge.model))),
            "/chat/completions": ("POST", self._chat),
        }
        try:
            route = routes.get(path)
            if route is None:
                raise w.WireError(404, "not_found", f"no endpoint {self.path}; this edge tier "
                                  "serves /v1/chat/completions, /v1/models and /health")
            if path != "/health" and not self.edge.authorized(self.headers.get("Authorization")):
                raise w.WireError(401, "unauthorized", "missing or wrong 'Authorization: Bearer "
                                  f"<token>'; send the token the edge server was started with "
                                  f"(--token or {TOKEN_ENV})",
                                  headers={"WWW-Authenticate": 'Bearer realm="edgesdk-edge"'})
            if method != route[0]:
                raise w.WireError(405, "method_not_allowed", f"{path} takes {route[0]}",
                                  headers={"Allow": route[0]})
            route[1]()
        except w.WireError as exc:
            self._error(exc.status, exc.code, exc.message, exc.headers)
        except EdgeSDKError as exc:
            headers = retry_after(exc)[1]
            self._error(w.status_of(exc), exc.code, str(exc), headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("internal error while serving %s %s", method, self.path)
            self._error(500, "internal_error", "internal error in the edge server; see its log")

    # ---------------------------------------------------------------- chat

    def _chat(self) -> None:
        req = w.parse_chat_request(self._read_json())
        deadline = self.edge.config.deadline_for(req.deadline_s)
        mode = req.mode or self.edge.config.mode
        meta = w.Meta.new(self.edge.model)
        if req.stream and not req.tools:
            return self._chat_stream(req.question, mode, deadline, meta)
        options: dict[str, Any] = {"tools": list(req.tools)} if req.tools else {}
        self.edge.acquire()
        answer = call_with_deadline(
            lambda: self.edge.backend.ask(req.question, mode=mode, deadline_s=deadline,
                                          **options),
            timeout_s=deadline + self.edge.config.grace_s, on_done=self.edge.release)
        if not isinstance(answer, Answer):
            raise TypeError(f"backend.ask returned {type(answer).__name__}, not an Answer")
        if not answer.tool_calls:
            _check_not_empty(answer)
        if req.stream:  # with tools: the answer is decided first, then sent as a stream
            return self._stream_whole(answer, meta)
        self._json(200, w.completion_body(answer, profile=self.edge.config.profile, meta=meta))

    def _stream_whole(self, answer: Answer, meta: w.Meta) -> None:
        self._start_sse()
        profile = self.edge.config.profile
        delta = (w.tool_call_deltas(answer) if answer.tool_calls
                 else {"role": "assistant", "content": answer.text})
        self._event(w.chunk_body(meta=meta, delta=delta))
        self._event(w.chunk_body(meta=meta, delta={}, finish=w.finish_reason(answer),
                                 answer=answer, profile=profile))
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _chat_stream(self, question: str, mode: Mode | None, deadline: float,
                     meta: w.Meta) -> None:
        self.edge.acquire()
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancelled = threading.Event()
        produce_events(
            lambda: self.edge.backend.ask(question, mode=mode, stream=True, deadline_s=deadline),
            events, cancelled, on_done=self.edge.release, name="edgesdk-edge-stream")
        expires = time.monotonic() + deadline + self.edge.config.grace_s
        try:
            self._relay(events, expires, meta)
        finally:
            cancelled.set()

    def _relay(self, events: queue.Queue[tuple[str, Any]], expires: float,
               meta: w.Meta) -> None:
        kind, value = self._next(events, expires)
        if kind == SSE_ERROR:
            raise value  # nothing sent yet: a plain JSON error response
        if kind == SSE_ANSWER and isinstance(value, Answer):
            _check_not_empty(value)
        self._start_sse()
        self._event(w.chunk_body(delta={"role": "assistant", "content": ""}, meta=meta))
        while True:
            if kind == "heartbeat":
                self._chunk(b": keep-alive\n\n")
            elif kind == SSE_TOKEN:
                self._event(w.chunk_body(delta={"content": value}, meta=meta,
                                         declined=isinstance(value, DeclinedText)))
            elif kind == SSE_ANSWER and isinstance(value, Answer):
                self._event(w.chunk_body(delta={}, finish=w.finish_reason(value), answer=value,
                                         profile=self.edge.config.profile, meta=meta))
                self._chunk(b"data: [DONE]\n\n")
                break
            else:
                self._stream_error(value)
                break
            try:
                kind, value = self._next(events, expires)
            except DeadlineExceeded as exc:
                self._stream_error(exc)
                break
        self._chunk(b"")

    def _next(self, events: queue.Queue[tuple[str, Any]], expires: float) -> tuple[str, Any]:
        return next_event(events, expires=expires, streaming=self._headers_sent,
                          late="the edge tier did not finish the answer within the deadline; "
                               "allow a longer deadline or ask for less")

    def _stream_error(self, exc: BaseException) -> None:
        """Mid-stream failure: an OpenAI-style error event, then the stream ends (no [DONE])."""
        if isinstance(exc, EdgeSDKError):
            code, status, message = exc.code, w.status_of(exc), str(exc)
        else:
            log.error("internal error in a stream", exc_info=exc)
            code, status, message = "internal_error", 500, "internal error in the edge server"
        self.edge.count(code)
        self._chunk(b"data: " + json.dumps(w.error_body(status, code, message)).encode()
                    + b"\n\n")

    # ---------------------------------------------------------------- I/O

    def _read_json(self) -> Any:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise w.WireError(411, "length_required",
                              "send the body with a Content-Length header")
        length = self._length()
        limit = self.edge.config.max_body_bytes
        if length > limit:
            self._drain(length)
            raise w.WireError(413, "body_too_large", f"the request body is {length} bytes, more "
                              f"than this edge server's limit of {limit}; send less text (or "
                              "start it with a larger --max-body-bytes)")
        raw = self.rfile.read(length) if length else b""
        self._body_read = True
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise w.WireError(400, "malformed_json", f"the request body is not valid JSON "
                              f"({exc}); send a chat-completions JSON object") from None

    def _length(self) -> int:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise w.WireError(411, "length_required", "Content-Length must be an integer >= 0")
        return length

    def _drain(self, length: int) -> None:
        """Read and drop an unread body so the client gets our answer, not a reset."""
        self._body_read = True
        if length > _DRAIN_LIMIT:
            self.close_connection = True
            return
        while length > 0:
            got = self.rfile.read(min(65536, length))
            if not got:
                break
            length -= len(got)

    def _json(self, status: int, obj: Mapping[str, Any],
              headers: Mapping[str, str] | None = None) -> None:
        if not self._body_read:
            with contextlib.suppress(w.WireError):
                self._drain(self._length())
        self._write_json(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), headers)

    def _error(self, status: int, code: str, message: str,
               headers: Mapping[str, str] | None = None) -> None:
        self.edge.count(code)
        if self._headers_sent:
            self.close_connection = True
            return
        try:
            self._json(status, w.error_body(status, code, message), headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _event(self, obj: Mapping[str, Any]) -> None:
        self._chunk(b"data: " + json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n\n")


def _check_not_empty(answer: Answer) -> None:
    """An empty answer is refused with 422: OpenAI clients treat an empty 200 as an overloaded
    server and retry, while a 422 makes a lower tier fall back at once."""
    if not answer.text.strip():
        raise w.WireError(422, "empty_answer", "the edge tier produced no answer to this "
                          f"question (reasons: {'; '.join(answer.reasons) or 'none'}); answer on "
                          "the device or ask the next tier")
