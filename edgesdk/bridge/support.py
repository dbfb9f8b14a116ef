"""Small pieces of the bridge that need no HTTP handler: deadlines, event pump, base64, SSE.

Kept out of ``handler.py`` so the handler reads as the order of checks on a request, and so the
deadline guard and the SSE parser can be tested (and reused by Python clients) on their own.
"""

from __future__ import annotations

import base64
import binascii
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from edgesdk.bridge.backend import AnswerStreamLike
from edgesdk.bridge.protocol import SSE_ANSWER, SSE_ERROR, SSE_TOKEN
from edgesdk.errors import DeadlineExceeded, InvalidAudio, InvalidImage

T = TypeVar("T")

HEARTBEAT_S = 10.0


def call_with_deadline(fn: Callable[[], T], *, timeout_s: float, on_done: Callable[[], None]) -> T:
    """Run ``fn`` in a worker thread; stop waiting after ``timeout_s`` (DeadlineExceeded).

    ``on_done`` runs when the worker really finishes, so concurrency slots stay held by calls
    the client gave up on, and an overloaded backend is seen as such.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()
            on_done()

    threading.Thread(target=run, name="edgesdk-bridge-call", daemon=True).start()
    if not done.wait(timeout_s):
        raise DeadlineExceeded(
            f"the bridge got no answer within {timeout_s:.1f} s; send a larger deadline_s, "
            "a simpler request, or retry when the device is less busy"
        )
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def produce_events(open_stream: Callable[[], object], events: queue.Queue[tuple[str, Any]],
                   cancelled: threading.Event, *, on_done: Callable[[], None], name: str) -> None:
    """Iterate a backend's answer stream in a daemon thread, into ``events``.

    It puts ``(SSE_TOKEN, text)`` per non-empty delta, then ``(SSE_ANSWER, stream.answer)``, or
    ``(SSE_ERROR, exc)`` for anything raised (the handler's thread reports it). Once the handler
    gives up (``cancelled``) it stops iterating and closes the stream, which ends decoding;
    ``on_done`` runs last, so a concurrency slot stays held until the backend really stops.
    """

    def produce() -> None:
        stream: Any = None
        try:
            stream = open_stream()
            if not isinstance(stream, AnswerStreamLike):
                raise TypeError("backend.ask(stream=True) did not return a stream")
            for delta in stream:
                if cancelled.is_set():
                    break
                if delta:
                    events.put((SSE_TOKEN, delta))
            if not cancelled.is_set():
                events.put((SSE_ANSWER, stream.answer))
        except BaseException as exc:
            events.put((SSE_ERROR, exc))
        finally:
            closer = getattr(stream, "close", None)
            if cancelled.is_set() and callable(closer):
                closer()
            on_done()

    threading.Thread(target=produce, name=name, daemon=True).start()


def next_event(events: queue.Queue[tuple[str, Any]], *, expires: float, streaming: bool,
               late: str) -> tuple[str, Any]:
    """The producer's next event; ``("heartbeat", None)`` every ``HEARTBEAT_S`` once
    ``streaming`` (headers sent), so proxies keep the connection; DeadlineExceeded(``late``) at
    ``expires`` (a ``time.monotonic()`` value). Used by the bridge's and the edge server's SSE."""
    while True:
        remaining = expires - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(late)
        try:
            return events.get(timeout=min(remaining, HEARTBEAT_S))
        except queue.Empty:
            if streaming and time.monotonic() < expires:
                return ("heartbeat", None)


def decode_b64(data: str | None, *, what: str) -> bytes | None:
    if data is None:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        error = InvalidImage if what == "image" else InvalidAudio
        raise error(
            f"{what}_b64 is not valid base64; send the file's bytes base64-encoded "
            "(RFC 4648 standard alphabet, with padding, no line breaks)"
        ) from None


def sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edgesdk")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def iter_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Parse SSE lines into (event, data) pairs; used by tests and Python clients."""
    event, data = "message", list[str]()
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)
