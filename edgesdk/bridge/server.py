"""The bridge server: the assistant over loopback HTTP for apps that cannot import Python.

Why the standard library's ``ThreadingHTTPServer`` and not an ASGI stack: the work behind every
request is a model call that the Assistant already serialises, so an event loop buys nothing,
while a thread per connection is simple to reason about, has no dependencies to keep patched on
a device, and streams SSE by writing chunks. What a long-lived service needs is added here:

* **loopback only** unless ``allow_remote`` (then a warning): the bridge is a local IPC port;
* **bearer token** compared with :func:`hmac.compare_digest`, checked before a body is read;
* **limits**: bodies over ``max_body_bytes`` get 413, slow clients a socket timeout, and more
  than ``max_in_flight`` concurrent model calls a 503 ``busy`` with ``Retry-After``;
* **deadlines**: each request's ``deadline_s`` (clamped to ``max_deadline_s``) goes to the
  Assistant, and the server stops waiting ``grace_s`` later whatever the backend does (504);
* **typed errors**: every non-2xx body is ``{"error": {"code", "message"}}``; SDK errors keep
  their ``code`` and get the status from :mod:`edgesdk.bridge.statuses`. Internal faults are
  logged here and reported as ``internal_error`` without details.

The token is never logged, echoed or put into an error message.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

from edgesdk.bridge.backend import BridgeBackend
from edgesdk.bridge.handler import BridgeHandler
from edgesdk.bridge.protocol import BridgeCounters
from edgesdk.bridge.support import sdk_version
from edgesdk.errors import ConfigError
from edgesdk.httpserver import BackgroundHTTPServer, ThreadedHTTPServer

log = logging.getLogger("edgesdk.bridge")

DEFAULT_PORT = 8765
TOKEN_ENV = "EDGESDK_BRIDGE_TOKEN"
_MIN_TOKEN_CHARS = 16


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    """Binding and limits the bridge and the edge server share (each sets its own defaults)."""

    host: str = "127.0.0.1"
    port: int
    allow_remote: bool = False
    max_body_bytes: int
    default_deadline_s: float = 30.0
    max_deadline_s: float = 120.0
    grace_s: float = 2.0
    max_in_flight: int
    read_timeout_s: float = 15.0
    profile: str | None = None

    def check_limits(self) -> None:
        if self.max_body_bytes <= 0 or self.max_in_flight <= 0:
            raise ConfigError("max_body_bytes and max_in_flight must be positive")
        if not 0 < self.default_deadline_s <= self.max_deadline_s:
            raise ConfigError("need 0 < default_deadline_s <= max_deadline_s")

    def deadline_for(self, requested: float | None) -> float:
        """The request's deadline (or the default), clamped to ``max_deadline_s``."""
        wanted = requested if requested is not None else self.default_deadline_s
        return min(wanted, self.max_deadline_s)


@dataclass(frozen=True, kw_only=True)
class BridgeConfig(ServeConfig):
    token: str
    port: int = DEFAULT_PORT
    max_body_bytes: int = 16 * 1024 * 1024
    max_in_flight: int = 64

    def __post_init__(self) -> None:
        if not self.token or self.token != self.token.strip():
            raise ConfigError(
                "the bridge token is empty or has surrounding spaces; pass --token or set "
                f"{TOKEN_ENV} to a random string (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)"
            )
        if not is_loopback(self.host) and not self.allow_remote:
            raise ConfigError(
                f"refusing to listen on {self.host}: the bridge binds to loopback only. Use "
                "--host 127.0.0.1, or add --allow-remote if other machines must reach it "
                "(anyone on that network can then try the token)"
            )
        self.check_limits()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _HTTPServer(ThreadedHTTPServer):
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], *, bridge: BridgeServer) -> None:
        self.bridge = bridge
        super().__init__(address, BridgeHandler)


class BridgeServer(BackgroundHTTPServer):
    """Serve a :class:`BridgeBackend` over HTTP; ``start()`` in a thread or ``serve_forever()``."""

    thread_name = "edgesdk-bridge"

    def __init__(self, *, backend: BridgeBackend, config: BridgeConfig) -> None:
        self.backend = backend
        self.config = config
        self._token = config.token.encode("utf-8")
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._requests = 0
        self._in_flight = 0
        self._errors: Counter[str] = Counter()
        if not is_loopback(config.host):
            log.warning(
                "the bridge listens on %s, reachable from other machines; anyone who can reach "
                "it can try tokens. Prefer loopback (127.0.0.1) unless you need remote clients.",
                config.host,
            )
        if len(config.token) < _MIN_TOKEN_CHARS:
            log.warning("the bridge token is short (< %d characters); use a random one",
                        _MIN_TOKEN_CHARS)
        self._init_http(_HTTPServer((config.host, config.port), bridge=self),
                        url_host=config.host)

    # ---------------------------------------------------------------- lifecycle

    def serve_forever(self) -> None:
        log.info("edgesdk bridge %s listening on %s", sdk_version(), self.url)
        super().serve_forever()

    # ---------------------------------------------------------------- used by the handler

    def check_token(self, header: str | None) -> str | None:
        """None when the header carries the right token, else what is wrong (never the token)."""
        if not header:
            return ("missing 'Authorization: Bearer <token>' header; send the token the bridge "
                    f"was started with (--token or {TOKEN_ENV})")
        scheme, _, value = header.strip().partition(" ")
        provided = value.strip().encode("latin-1", "replace")
        ok = hmac.compare_digest(provided, self._token)
        if scheme.lower() != "bearer" or not ok:
            return ("wrong bridge token; send 'Authorization: Bearer <token>' with the token the "
                    f"bridge was started with (--token or {TOKEN_ENV})")
        return None

    def uptime_s(self) -> float:
        return time.monotonic() - self._started

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def count_error(self, code: str) -> None:
        with self._lock:
            self._errors[code] += 1

    def try_acquire_slot(self) -> bool:
        with self._lock:
            if self._in_flight >= self.config.max_in_flight:
                return False
            self._in_flight += 1
            return True

    def release_slot(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def counters(self) -> BridgeCounters:
        with self._lock:
            return BridgeCounters(
                uptime_s=self.uptime_s(),
                requests=self._requests,
                in_flight=self._in_flight,
                errors=dict(self._errors),
            )
