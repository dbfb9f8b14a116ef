"""The SSE stream of ``POST /v1/ask/stream``: framing, order, errors before and mid-stream."""

from __future__ import annotations

import http.client
import json

from edgesdk.bridge.backend import FakeBackend
from edgesdk.bridge.server import BridgeServer
from edgesdk.bridge.support import iter_sse
from edgesdk.errors import CloudUnavailable
from edgesdk.types import Answer
from tests.unit.bridge_helpers import TOKEN, BrokenStreamBackend, request, running


def _stream(server: BridgeServer, body: dict[str, object]) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/v1/ask/stream", body=json.dumps(body),
                 headers={"Authorization": f"Bearer {TOKEN}"})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text


def test_tokens_then_one_answer_event() -> None:
    with running() as (server, _):
        status, headers, text = _stream(server, {"question": "tell me something"})
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["transfer-encoding"] == "chunked"
    events = list(iter_sse(text.splitlines()))
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"token"} and len(kinds) > 2
    tokens = "".join(json.loads(data)["text"] for kind, data in events if kind == "token")
    answer = Answer.model_validate_json(events[-1][1])
    assert tokens == answer.text == "You asked: tell me something"


def test_wire_format_is_plain_sse() -> None:
    with running() as (server, _):
        _, _, text = _stream(server, {"question": "2+2"})
    assert text.startswith('event: token\ndata: {"text":"4"}\n\nevent: answer\ndata: {')
    assert text.endswith("}\n\n")


def test_error_before_the_first_token_is_a_plain_json_error() -> None:
    with running() as (server, _):
        status, headers, text = _stream(server, {"question": "raise:cloud_rate_limited"})
    assert status == 429 and headers["content-type"].startswith("application/json")
    assert json.loads(text)["error"]["code"] == "cloud_rate_limited"


def test_error_mid_stream_is_an_error_event() -> None:
    backend = BrokenStreamBackend(CloudUnavailable("tier went away; retry", status=503))
    with running(backend) as (server, _):
        status, _, text = _stream(server, {"question": "hi"})
        events = list(iter_sse(text.splitlines()))
        assert status == 200
        assert [k for k, _ in events] == ["token", "token", "error"]
        assert json.loads(events[-1][1])["error"]["code"] == "cloud_unavailable"
        # the server is still healthy and the slot was released
        stats = request(server, "GET", "/v1/stats").json()
        assert stats["bridge"]["in_flight"] == 0


def test_stream_deadline_ends_with_an_error_event() -> None:
    backend = FakeBackend(token_delay_s=0.3)
    with running(backend, grace_s=0.0) as (server, _):
        status, _, text = _stream(server, {"question": "a b c d e f g h", "deadline_s": 0.5})
    events = list(iter_sse(text.splitlines()))
    assert status == 200 and events[0][0] == "token"
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1])["error"]["code"] == "deadline_exceeded"


def test_sse_parser_handles_comments_and_multiline_data() -> None:
    lines = [": keep-alive", "", "event: token", "data: a", "data: b", "", "data: x"]
    assert list(iter_sse(lines)) == [("token", "a\nb"), ("message", "x")]
