"""Helpers for the bridge's unit tests: a server on a free loopback port and a raw client."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from edgesdk.bridge.backend import AnswerStreamLike, BridgeBackend, FakeBackend
from edgesdk.bridge.server import BridgeConfig, BridgeServer
from edgesdk.types import Answer, Mode, Percept

TOKEN = "test-token-0123456789abcdef"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@contextmanager
def running(
    backend: BridgeBackend | None = None, **config: Any
) -> Iterator[tuple[BridgeServer, BridgeBackend]]:
    backend = backend if backend is not None else FakeBackend()
    cfg = BridgeConfig(token=TOKEN, port=0, **config)
    with BridgeServer(backend=backend, config=cfg) as server:
        yield server, backend


def request(
    server: BridgeServer,
    method: str,
    path: str,
    body: bytes | Mapping[str, Any] | None = None,
    *,
    token: str | None = TOKEN,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers.setdefault("Authorization", f"Bearer {token}")
        raw = json.dumps(body).encode() if isinstance(body, Mapping) else body
        if raw is not None:
            all_headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=raw, headers=all_headers)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


class HangingBackend(FakeBackend):
    """Ignores deadlines: blocks in ask() until released (to test the server's own guard)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def ask(
        self,
        question: str,
        *,
        image: bytes | None = None,
        audio: bytes | None = None,
        mode: Mode | None = None,
        stream: bool = False,
        deadline_s: float | None = None,
        tools: Any = None,
    ) -> Answer | AnswerStreamLike:
        self.entered.release()
        self.release.wait(30)
        return super().ask(question, stream=stream)


class BrokenStream:
    """Yields some tokens, then fails like a runtime that died mid-generation."""

    def __init__(self, tokens: Sequence[str], error: Exception) -> None:
        self.tokens = tokens
        self.error = error
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self.tokens
        raise self.error


class BrokenStreamBackend(FakeBackend):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def ask(
        self,
        question: str,
        *,
        image: bytes | None = None,
        audio: bytes | None = None,
        mode: Mode | None = None,
        stream: bool = False,
        deadline_s: float | None = None,
        tools: Any = None,
    ) -> Answer | AnswerStreamLike:
        return BrokenStream(["partial ", "answer"], self.error)

    def perceive(
        self, *, image: bytes | None = None, audio: bytes | None = None
    ) -> Sequence[Percept]:
        return []
