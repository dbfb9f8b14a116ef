"""The bridge server against a fake backend: auth, limits, errors, deadlines, concurrency."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Sequence

import pytest

from edgesdk.bridge.backend import FakeBackend
from edgesdk.bridge.server import BridgeConfig, BridgeServer, is_loopback
from edgesdk.errors import CloudUnavailable, ConfigError
from edgesdk.types import Answer, Percept
from tests.unit.bridge_helpers import TOKEN, HangingBackend, request, running


def test_every_endpoint_requires_the_token() -> None:
    with running() as (server, _):
        for method, path in [("GET", "/v1/health"), ("GET", "/v1/stats"),
                             ("POST", "/v1/ask"), ("POST", "/v1/ask/stream"),
                             ("POST", "/v1/perceive"), ("POST", "/v1/feedback"),
                             ("GET", "/nope")]:
            body = {"question": "hi"} if method == "POST" else None
            reply = request(server, method, path, body, token=None)
            assert reply.status == 401, path
            assert reply.headers["www-authenticate"].startswith("Bearer")
            assert reply.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("header", [
    f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", "Bearer wrong", TOKEN,
])
def test_wrong_tokens_get_401(header: str) -> None:
    with running() as (server, _):
        reply = request(server, "GET", "/v1/health", token=None,
                        headers={"Authorization": header})
        assert reply.status == 401
        assert TOKEN not in reply.body.decode()


def test_health_with_token() -> None:
    with running(profile="watch") as (server, _):
        reply = request(server, "GET", "/v1/health")
        assert reply.status == 200
        body = reply.json()
        assert body["status"] == "ok" and body["protocol"] == "v1"
        assert body["profile"] == "watch"


def test_ask_returns_the_answer_json() -> None:
    with running() as (server, _):
        reply = request(server, "POST", "/v1/ask", {"question": "What is 2+2?"})
        assert reply.status == 200
        assert reply.headers["content-type"].startswith("application/json")
        answer = Answer.model_validate_json(reply.body)
        assert answer.text == "4" and answer.id


def test_ask_with_image_and_audio() -> None:
    image = base64.b64encode(b"\x89PNG fake").decode()
    audio = base64.b64encode(b"RIFF fake").decode()
    with running() as (server, _):
        reply = request(server, "POST", "/v1/ask",
                        {"question": "what is this?", "image_b64": image, "audio_b64": audio,
                         "mode": "only-on-device", "deadline_s": 5})
        assert reply.status == 200
        kinds = [p["kind"] for p in reply.json()["percepts"]]
        assert kinds == ["object", "transcript"]


def test_token_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with running() as (server, _):
        request(server, "POST", "/v1/ask", {"question": "hi"})
        request(server, "GET", "/v1/health", token="wrong-token")
    assert "POST /v1/ask" in caplog.text
    assert TOKEN not in caplog.text and "wrong-token" not in caplog.text


def test_oversized_body_gets_413_and_the_connection_survives() -> None:
    with running(max_body_bytes=1000) as (server, _):
        big = {"question": "x" * 5000}
        reply = request(server, "POST", "/v1/ask", big)
        assert reply.status == 413
        assert reply.json()["error"]["code"] == "body_too_large"
        # far over the drain limit: rejected without reading, connection closed
        reply = request(server, "POST", "/v1/ask", b"y" * 20_000)
        assert reply.status == 413
        assert reply.headers.get("connection") == "close"
        assert request(server, "GET", "/v1/health").status == 200


@pytest.mark.parametrize("body", [b"{", b"not json", b"\xff\xfe\x00", b"", b"[1, 2]", b"null"])
def test_malformed_json_gets_400(body: bytes) -> None:
    with running() as (server, _):
        reply = request(server, "POST", "/v1/ask", body)
        assert reply.status == 400
        error = reply.json()["error"]
        assert error["code"] == "malformed_json" and error["message"]


@pytest.mark.parametrize(("body", "code"), [
    ({}, "invalid_request"),
    ({"question": "hi", "colour": "red"}, "invalid_request"),
    ({"question": "hi", "mode": "sometimes"}, "invalid_request"),
    ({"question": "hi", "deadline_s": -1}, "invalid_request"),
    ({"question": "hi", "image_b64": "***"}, "invalid_image"),
    ({"question": "hi", "audio_b64": "abc"}, "invalid_audio"),
    ({"question": "   "}, "empty_question"),
])
def test_invalid_requests_get_422_with_a_code(body: dict[str, object], code: str) -> None:
    with running() as (server, _):
        reply = request(server, "POST", "/v1/ask", body)
        assert reply.status == 422
        assert reply.json()["error"]["code"] == code


@pytest.mark.parametrize(("code", "status"), [
    ("cloud_rate_limited", 429), ("cloud_auth", 502), ("deadline_exceeded", 504),
    ("model_not_fetched", 503), ("cloud_timeout", 504), ("storage_error", 507),
])
def test_sdk_errors_map_to_statuses(code: str, status: int) -> None:
    with running() as (server, _):
        reply = request(server, "POST", "/v1/ask", {"question": f"raise:{code}"})
        assert reply.status == status
        assert reply.json()["error"]["code"] == code


def test_unknown_path_and_wrong_method() -> None:
    with running() as (server, _):
        assert request(server, "GET", "/v2/ask").status == 404
        reply = request(server, "GET", "/v1/ask")
        assert reply.status == 405 and reply.headers["allow"] == "POST"


def test_backend_deadline_is_passed_and_enforced() -> None:
    with running() as (server, _):
        reply = request(server, "POST", "/v1/ask", {"question": "sleep:5", "deadline_s": 0.2})
        assert reply.status == 504
        assert reply.json()["error"]["code"] == "deadline_exceeded"


def test_server_stops_waiting_for_a_backend_that_ignores_deadlines() -> None:
    backend = HangingBackend()
    with running(backend, grace_s=0.1) as (server, _):
        started = time.monotonic()
        reply = request(server, "POST", "/v1/ask", {"question": "hi", "deadline_s": 0.2})
        assert reply.status == 504
        assert time.monotonic() - started < 5
        backend.release.set()


def test_busy_when_in_flight_limit_reached() -> None:
    backend = HangingBackend()
    with running(backend, max_in_flight=1) as (server, _):
        first = threading.Thread(target=request, args=(server, "POST", "/v1/ask",
                                                       {"question": "a"}))
        first.start()
        assert backend.entered.acquire(timeout=5)
        reply = request(server, "POST", "/v1/ask", {"question": "b"})
        assert reply.status == 503 and reply.headers["retry-after"] == "1"
        assert reply.json()["error"]["code"] == "busy"
        assert request(server, "GET", "/v1/health").status == 200  # health needs no slot
        backend.release.set()
        first.join(10)


def test_twenty_concurrent_clients() -> None:
    backend = FakeBackend(delay_s=0.05)
    results: list[int] = []
    with running(backend) as (server, _):
        def one(i: int) -> None:
            results.append(request(server, "POST", "/v1/ask", {"question": f"q{i}"}).status)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        stats = request(server, "GET", "/v1/stats").json()
    assert results == [200] * 20
    assert stats["assistant"]["asked"] == 20 and stats["bridge"]["in_flight"] == 0


def test_perceive_feedback_and_stats() -> None:
    backend = FakeBackend()
    with running(backend) as (server, _):
        image = base64.b64encode(b"img").decode()
        reply = request(server, "POST", "/v1/perceive", {"image_b64": image})
        assert reply.status == 200 and reply.json()["percepts"][0]["kind"] == "object"
        assert request(server, "POST", "/v1/perceive", {}).status == 422
        reply = request(server, "POST", "/v1/feedback",
                        {"answer_id": "abc", "good": False, "correction": "5"})
        assert reply.status == 200 and reply.json() == {"accepted": True, "answer_id": "abc"}
        assert backend.feedback_log == [("abc", False, "5")]
        request(server, "GET", "/v1/health", token="nope")
        stats = request(server, "GET", "/v1/stats").json()
        assert stats["assistant"]["feedback"] == 1
        assert stats["bridge"]["errors"] == {"input_error": 1, "unauthorized": 1}


def test_internal_errors_are_not_leaked(caplog: pytest.LogCaptureFixture) -> None:
    class Exploding(FakeBackend):
        def stats(self) -> dict[str, object]:
            raise RuntimeError("secret internals")

    with running(Exploding()) as (server, _):
        reply = request(server, "GET", "/v1/stats")
    assert reply.status == 500
    assert reply.json()["error"]["code"] == "internal_error"
    assert "secret" not in reply.body.decode() and "secret internals" in caplog.text


def test_binds_loopback_only_by_default() -> None:
    with running() as (server, _):
        assert server._httpd.socket.getsockname()[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
    with pytest.raises(ConfigError, match="allow-remote"):
        BridgeConfig(token=TOKEN, host="0.0.0.0")
    with pytest.raises(ConfigError, match="allow-remote"):
        BridgeConfig(token=TOKEN, host="192.168.1.10")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


def test_remote_bind_needs_the_flag_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    config = BridgeConfig(token=TOKEN, host="0.0.0.0", port=0, allow_remote=True)
    server = BridgeServer(backend=FakeBackend(), config=config)
    server.close()
    assert "reachable from other machines" in caplog.text


@pytest.mark.parametrize("token", ["", " padded "])
def test_empty_token_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="token"):
        BridgeConfig(token=token)


def test_keep_alive_connection_serves_several_requests() -> None:
    with running() as (server, _):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        body = json.dumps({"question": "hi"}).encode()
        head = (f"POST /v1/ask HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        sock.sendall(head + body + head + body)
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 200") < 2 and time.monotonic() < deadline:
            data += sock.recv(65536)
        sock.close()
        assert data.count(b"HTTP/1.1 200") == 2


def test_chunked_request_bodies_are_refused() -> None:
    with running() as (server, _):
        reply = request(server, "POST", "/v1/ask", None,
                        headers={"Transfer-Encoding": "chunked"})
        assert reply.status == 411


def test_cloud_errors_from_the_backend_keep_their_code() -> None:
    class Down(FakeBackend):
        def perceive(self, *, image: bytes | None = None,
                     audio: bytes | None = None) -> Sequence[Percept]:
            raise CloudUnavailable("tier down; retry later", status=503)

    with running(Down()) as (server, _):
        reply = request(server, "POST", "/v1/perceive", {"audio_b64": "AAAA"})
    assert reply.status == 503 and reply.json()["error"]["code"] == "cloud_unavailable"
