"""Small pieces of the bridge that need no HTTP handler: deadlines, base64, SSE parsing.

Kept out of ``handler.py`` so the handler reads as the order of checks on a request, and so the
deadline guard and the SSE parser can be tested (and reused by Python clients) on their own.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from edgesdk.errors import DeadlineExceeded, InvalidAudio, InvalidImage

T = TypeVar("T")


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
