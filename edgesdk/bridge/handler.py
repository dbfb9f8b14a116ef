"""One HTTP request of the bridge: authenticate, read and validate the body, call, reply.

Kept apart from ``server.py`` (lifecycle, configuration, counters) so that the order of the
checks is readable in one place: route, token (before reading any body), length, JSON, schema,
then the backend call in a worker thread that the handler stops waiting for at the deadline.
Request bodies are drained even when rejected, because closing a socket with unread bytes makes
the kernel send a reset and the client would see "connection reset" instead of our 401 or 413.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from edgesdk.bridge import protocol as p
from edgesdk.bridge.httpio import JSONHandler, retry_after
from edgesdk.bridge.statuses import BRIDGE_CODES, status_for
from edgesdk.bridge.support import (
    call_with_deadline,
    decode_b64,
    next_event,
    produce_events,
    sdk_version,
)
from edgesdk.errors import (
    DeadlineExceeded,
    EdgeSDKError,
    InputError,
)
from edgesdk.types import Answer

if TYPE_CHECKING:
    from edgesdk.bridge.server import BridgeServer

log = logging.getLogger("edgesdk.bridge")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_DRAIN_FACTOR = 4
_CHUNK = 64 * 1024


class HTTPFault(Exception):
    """A bridge-level rejection (not an SDK error): status, code and message."""

    def __init__(
        self, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = BRIDGE_CODES[code][0]
        self.message = message
        self.headers = dict(headers or {})


class BridgeHandler(JSONHandler):
    def version_string(self) -> str:
        return "edgesdk-bridge"

    def setup(self) -> None:
        # StreamRequestHandler.setup applies this socket timeout to reads and writes.
        self.timeout = self.bridge.config.read_timeout_s  # type: ignore[misc]
        super().setup()

    @property
    def bridge(self) -> BridgeServer:
        bridge: BridgeServer = self.server.bridge  # type: ignore[attr-defined]
        return bridge

    # ---------------------------------------------------------------- dispatch

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _routes(self) -> dict[str, tuple[str, Callable[[], None]]]:
        return {
            "/v1/health": ("GET", self._health),
            "/v1/stats": ("GET", self._stats),
            "/v1/ask": ("POST", self._ask),
            "/v1/ask/stream": ("POST", self._ask_stream),
            "/v1/perceive": ("POST", self._perceive),
            "/v1/feedback": ("POST", self._feedback),
        }

    def _dispatch(self, method: str) -> None:
        self._body_read = False
        self._headers_sent = False
        self.bridge.count_request()
        try:
            problem = self.bridge.check_token(self.headers.get("Authorization"))
            if problem is not None:
                raise HTTPFault(
                    "unauthorized", problem, headers={"WWW-Authenticate": 'Bearer realm="edgesdk"'}
                )
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            route = self._routes().get(path)
            if route is None:
                raise HTTPFault("not_found", f"no endpoint {path}; see /v1/health, /v1/ask, ...")
            if method != route[0]:
                raise HTTPFault(
                    "method_not_allowed", f"{path} takes {route[0]}, not {method}",
                    headers={"Allow": route[0]},
                )
            route[1]()
        except HTTPFault as fault:
            self._send_error(fault.status, fault.code, fault.message, fault.headers)
        except EdgeSDKError as exc:
            retry, headers = retry_after(exc)
            self._send_error(status_for(exc), exc.code, str(exc), headers, retry_after_s=retry)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("internal error while serving %s %s", method, self.path)
            self._send_error(500, "internal_error", "internal error in the bridge; see its log")

    # ---------------------------------------------------------------- endpoints

    def _health(self) -> None:
        self._send_model(200, p.HealthResponse(
            version=sdk_version(), profile=self.bridge.config.profile,
            uptime_s=round(self.bridge.uptime_s(), 3),
        ))

    def _stats(self) -> None:
        raw = self._call(self.bridge.backend.stats,
                         deadline_s=self.bridge.config.deadline_for(None))
        assistant = raw.model_dump(mode="json") if isinstance(raw, BaseModel) else dict(raw)
        self._send_model(200, p.StatsResponse(bridge=self.bridge.counters(), assistant=assistant))

    def _ask(self) -> None:
        req = self._read(p.AskRequest)
        image = decode_b64(req.image_b64, what="image")
        audio = decode_b64(req.audio_b64, what="audio")
        deadline = self.bridge.config.deadline_for(req.deadline_s)
        result = self._call(
            lambda: self.bridge.backend.ask(
                req.question, image=image, audio=audio, mode=req.mode, stream=False,
                deadline_s=deadline, tools=req.tools,
            ),
            deadline_s=deadline,
        )
        if not isinstance(result, Answer):
            raise TypeError(f"backend.ask returned {type(result).__name__}, not an Answer")
        self._send_json(200, result.model_dump_json().encode("utf-8"))

    def _perceive(self) -> None:
        req = self._read(p.PerceiveRequest)
        image = decode_b64(req.image_b64, what="image")
        audio = decode_b64(req.audio_b64, what="audio")
        if image is None and audio is None:
            raise InputError("send image_b64, audio_b64 or both to /v1/perceive")
        deadline = self.bridge.config.deadline_for(req.deadline_s)
        percepts = self._call(
            lambda: self.bridge.backend.perceive(image=image, audio=audio), deadline_s=deadline
        )
        self._send_model(200, p.PerceiveResponse(percepts=list(percepts)))

    def _feedback(self) -> None:
        req = self._read(p.FeedbackRequest)
        self._call(
            lambda: self.bridge.backend.feedback(
                req.answer_id, good=req.good, correction=req.correction
            ),
            deadline_s=self.bridge.config.deadline_for(None),
        )
        self._send_model(200, p.FeedbackResponse(answer_id=req.answer_id))

    def _ask_stream(self) -> None:
        req = self._read(p.AskRequest)
        image = decode_b64(req.image_b64, what="image")
        audio = decode_b64(req.audio_b64, what="audio")
        deadline = self.bridge.config.deadline_for(req.deadline_s)
        expires = time.monotonic() + deadline + self.bridge.config.grace_s
        if not self.bridge.try_acquire_slot():
            raise _busy()
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancelled = threading.Event()
        produce_events(
            lambda: self.bridge.backend.ask(
                req.question, image=image, audio=audio, mode=req.mode, stream=True,
                deadline_s=deadline, tools=req.tools,
            ),
            events, cancelled, on_done=self.bridge.release_slot, name="edgesdk-bridge-stream",
        )
        try:
            self._stream_events(events, expires)
        finally:
            cancelled.set()

    def _stream_events(self, events: queue.Queue[tuple[str, Any]], expires: float) -> None:
        first = self._next_event(events, expires)
        if first[0] == p.SSE_ERROR:
            raise first[1]  # nothing sent yet: a plain JSON error response
        self._start_sse({"X-Accel-Buffering": "no"})
        event: tuple[str, Any] | None = first
        while event is not None:
            kind, value = event
            if kind == "heartbeat":
                self._chunk(b": keep-alive\n\n")
            elif kind == p.SSE_TOKEN:
                self._sse(p.SSE_TOKEN, p.TokenEvent(text=value).model_dump_json())
            elif kind == p.SSE_ANSWER:
                if not isinstance(value, Answer):
                    value = _internal("the stream ended without a final answer")
                    self._sse_error(value)
                else:
                    self._sse(p.SSE_ANSWER, value.model_dump_json())
                break
            else:
                self._sse_error(value)
                break
            try:
                event = self._next_event(events, expires)
            except DeadlineExceeded as exc:
                self._sse_error(exc)
                break
        self._chunk(b"")

    def _next_event(self, events: queue.Queue[tuple[str, Any]], expires: float) -> tuple[str, Any]:
        return next_event(events, expires=expires, streaming=self._headers_sent,
                          late="the answer did not finish within the deadline; "
                               "send a larger deadline_s or ask for less")

    # ---------------------------------------------------------------- helpers

    def _call(self, fn: Callable[[], T], *, deadline_s: float) -> T:
        if not self.bridge.try_acquire_slot():
            raise _busy()
        return call_with_deadline(
            fn, timeout_s=deadline_s + self.bridge.config.grace_s,
            on_done=self.bridge.release_slot,
        )

    def _content_length(self) -> int:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HTTPFault("length_required", "send the body with a Content-Length header, "
                            "not Transfer-Encoding")
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            raise HTTPFault("length_required", "Content-Length must be a non-negative integer")
        return length

    def _read_body(self) -> bytes:
        length = self._content_length()
        limit = self.bridge.config.max_body_bytes
        if length > limit:
            self._drain(length)
            raise HTTPFault(
                "body_too_large",
                f"the request body is {length} bytes, more than this bridge's limit of {limit}; "
                "send smaller images/audio (downscale or compress) or raise --max-body-bytes",
            )
        body = self.rfile.read(length) if length else b""
        self._body_read = True
        return body

    def _drain(self, length: int) -> None:
        """Read and discard a rejected body when that is cheap; otherwise close afterwards."""
        if length > self.bridge.config.max_body_bytes * _DRAIN_FACTOR:
            self.close_connection = True
            return
        left = length
        while left > 0:
            got = self.rfile.read(min(_CHUNK, left))
            if not got:
                break
            left -= len(got)
        self._body_read = True

    def _read(self, model: type[M]) -> M:
        body = self._read_body()
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPFault("malformed_json", f"the request body is not valid JSON ({exc}); "
                            "send a JSON object with Content-Type: application/json") from None
        if not isinstance(obj, dict):
            raise HTTPFault("malformed_json", "the request body must be a JSON object")
        try:
            return model.model_validate(obj)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in err['loc']) or 'body'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            raise HTTPFault("invalid_request", f"{model.__name__} is invalid: {problems}; "
                            "see edgesdk/bridge/schema/") from None

    def _send_model(self, status: int, model: BaseModel) -> None:
        self._send_json(status, model.model_dump_json().encode("utf-8"))

    def _send_json(
        self, status: int, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        if self.command == "POST" and not self._body_read:
            self._drain(self._safe_length())
        self._write_json(status, payload, headers)

    def _safe_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self.close_connection = True
            return 0

    def _send_error(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.bridge.count_error(code)
        body = p.ErrorResponse(
            error=p.ErrorDetail(code=code, message=message, retry_after_s=retry_after_s)
        )
        if self._headers_sent:  # mid-stream: the SSE error event already went out, or cannot
            self.close_connection = True
            return
        try:
            payload = body.model_dump_json(exclude_none=True).encode("utf-8")
            self._send_json(status, payload, headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _sse(self, event: str, data: str) -> None:
        self._chunk(f"event: {event}\ndata: {data}\n\n".encode())

    def _sse_error(self, exc: BaseException) -> None:
        if isinstance(exc, EdgeSDKError):
            code, message = exc.code, str(exc)
        else:
            log.error("internal error in a stream", exc_info=exc)
            code, message = "internal_error", "internal error in the bridge; see its log"
        self.bridge.count_error(code)
        body = p.ErrorResponse(error=p.ErrorDetail(code=code, message=message))
        self._sse(p.SSE_ERROR, body.model_dump_json(exclude_none=True))

    def log_message(self, format: str, *args: Any) -> None:
        # The request line and status only; headers (and so the token) are never logged.
        log.info("%s %s", self.address_string(), format % args)


def _busy() -> HTTPFault:
    return HTTPFault("busy", "the bridge is at its limit of concurrent requests; retry shortly",
                     headers={"Retry-After": "1"})


def _internal(message: str) -> EdgeSDKError:
    exc = EdgeSDKError(message)
    exc.code = "internal_error"
    return exc
