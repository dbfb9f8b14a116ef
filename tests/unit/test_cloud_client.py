"""ChatClient / AsyncChatClient against httpx.MockTransport: requests, typed errors, retries,
backoff, Retry-After, deadline, circuit breaker, cost, and the API key never leaking."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from edgesdk.cloud import AsyncChatClient, ChatClient, CircuitBreaker, CostLedger
from edgesdk.errors import (
    CircuitOpen,
    CloudAuthError,
    CloudBadRequest,
    CloudBalanceError,
    CloudError,
    CloudRateLimited,
    CloudTimeout,
    CloudUnavailable,
)

KEY = "sk-test-0123456789abcdef"
MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
Handler = Callable[[httpx.Request], httpx.Response]


def ok_body(text: str = "4", model: str = "deepseek-chat") -> dict[str, object]:
    return {"id": "r-1", "model": model, "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text},
         "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100,
                  "prompt_cache_hit_tokens": 640, "prompt_cache_miss_tokens": 360}}


def err(status: int, message: str = "nope", headers: dict[str, str] | None = None
        ) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message, "type": "x"}},
                          headers=headers)


class Recorder:
    """A scripted server: returns the queued responses in turn, the last one forever."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


def client(handler: Handler, *, sleeps: list[float] | None = None, **kw: object) -> ChatClient:
    slept = sleeps if sleeps is not None else []
    return ChatClient(base_url="https://api.example.test", api_key=SecretStr(KEY),
                      model="deepseek-chat", transport=httpx.MockTransport(handler),
                      sleep=slept.append, rng=random.Random(0), **kw)  # type: ignore[arg-type]


def state(b: CircuitBreaker) -> str:
    return b.state  # a call, so mypy does not narrow the property between asserts


def soon(s: float = 5.0) -> float:
    return time.monotonic() + s


def test_request_shape_auth_and_result() -> None:
    rec = Recorder(httpx.Response(200, json=ok_body()))
    with client(rec) as c:
        r = c.chat(MSGS, deadline=soon(), max_tokens=50, temperature=0.2)
    req = rec.requests[0]
    assert req.url == "https://api.example.test/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(req.content)
    assert body == {"model": "deepseek-chat", "messages": MSGS, "stream": False,
                    "max_tokens": 50, "temperature": 0.2}
    assert (r.text, r.model, r.attempts, r.request_id, r.finish_reason) == (
        "4", "deepseek-chat", 1, "r-1", "stop")
    assert r.usage.prompt_cache_hit_tokens == 640 and r.cache_hit_share == pytest.approx(0.64)
    assert r.cost.amount > 0 and r.latency_ms >= 0


def test_stream_requests_usage_and_calls_on_delta_in_callers_thread() -> None:
    import threading

    sse = (b": keep-alive\n\n"
           b'data: {"model":"deepseek-reasoner","choices":[{"index":0,"delta":'
           b'{"reasoning_content":"hmm","content":null}}]}\n\n'
           b'data: {"choices":[{"index":0,"delta":{"content":"fo"}}]}\n\n'
           b'data: {"choices":[{"index":0,"delta":{"content":"ur"},"finish_reason":"stop"}],'
           b'"usage":{"prompt_tokens":5,"completion_tokens":3}}\n\n'
           b"data: [DONE]\n\n")
    rec = Recorder(httpx.Response(200, content=sse,
                                  headers={"content-type": "text/event-stream"}))
    seen: list[tuple[str, bool]] = []
    me = threading.current_thread()
    with client(rec) as c:
        r = c.chat(MSGS, deadline=soon(), model="deepseek-reasoner",
                   on_delta=lambda d: seen.append((d, threading.current_thread() is me)))
    body = json.loads(rec.requests[0].content)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "deepseek-reasoner"
    assert seen == [("fo", True), ("ur", True)]
    assert (r.text, r.reasoning, r.usage.completion_tokens) == ("four", "hmm", 3)


def test_no_key_sends_no_authorization_header() -> None:
    rec = Recorder(httpx.Response(200, json=ok_body()))
    c = ChatClient(base_url="http://127.0.0.1:9/v1/", api_key=None, model="m",
                   transport=httpx.MockTransport(rec))
    c.chat(MSGS, deadline=soon())
    assert "authorization" not in rec.requests[0].headers
    assert str(rec.requests[0].url) == "http://127.0.0.1:9/v1/chat/completions"


@pytest.mark.parametrize(("status", "error"), [
    (400, CloudBadRequest), (401, CloudAuthError), (402, CloudBalanceError),
    (422, CloudBadRequest), (404, CloudBadRequest),
])
def test_client_errors_are_typed_and_never_retried(status: int, error: type[CloudError]) -> None:
    rec = Recorder(err(status))
    sleeps: list[float] = []
    with client(rec, sleeps=sleeps) as c, pytest.raises(error) as exc:
        c.chat(MSGS, deadline=soon())
    assert len(rec.requests) == 1 and sleeps == []
    assert exc.value.status == status and "nope" in str(exc.value)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_retry_twice_with_growing_jittered_backoff(status: int) -> None:
    rec = Recorder(err(status))
    sleeps: list[float] = []
    with client(rec, sleeps=sleeps) as c, pytest.raises(CloudUnavailable):
        c.chat(MSGS, deadline=soon())
    assert len(rec.requests) == 3
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_answer_after_retries_reports_attempts() -> None:
    rec = Recorder(err(503), err(500), httpx.Response(200, json=ok_body()))
    with client(rec) as c:
        assert c.chat(MSGS, deadline=soon()).attempts == 3


def test_max_retries_zero_means_one_request() -> None:
    rec = Recorder(err(503))
    with client(rec, max_retries=0) as c, pytest.raises(CloudUnavailable):
        c.chat(MSGS, deadline=soon())
    assert len(rec.requests) == 1


def test_retry_after_is_honoured() -> None:
    rec = Recorder(err(429, headers={"Retry-After": "2"}), httpx.Response(200, json=ok_body()))
    sleeps: list[float] = []
    with client(rec, sleeps=sleeps) as c:
        c.chat(MSGS, deadline=soon(10))
    assert 2.0 <= sleeps[0] <= 2.2


def test_retry_after_past_the_deadline_gives_up_at_once() -> None:
    rec = Recorder(err(429, headers={"Retry-After": "30"}))
    sleeps: list[float] = []
    with client(rec, sleeps=sleeps) as c, pytest.raises(CloudRateLimited) as exc:
        c.chat(MSGS, deadline=soon(3))
    assert len(rec.requests) == 1 and sleeps == [] and exc.value.retry_after_s == 30


def test_backoff_that_would_pass_the_deadline_is_not_started() -> None:
    rec = Recorder(err(503))
    sleeps: list[float] = []
    with client(rec, sleeps=sleeps) as c, pytest.raises(CloudUnavailable):
        c.chat(MSGS, deadline=soon(0.3))
    assert len(rec.requests) == 1 and sleeps == []


def test_deadline_already_passed_sends_nothing() -> None:
    rec = Recorder(httpx.Response(200, json=ok_body()))
    with client(rec) as c, pytest.raises(CloudTimeout):
        c.chat(MSGS, deadline=time.monotonic() - 1)
    assert rec.requests == []


def test_connection_faults_are_retried_then_typed() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    with client(refuse) as c, pytest.raises(CloudUnavailable, match="cannot talk"):
        c.chat(MSGS, deadline=soon())
    assert len(calls) == 3


def test_circuit_breaker_opens_and_skips_the_tier_without_requests() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=30, clock=lambda: now[0])
    rec = Recorder(err(503))
    with client(rec, breaker=breaker) as c:
        with pytest.raises(CloudUnavailable):
            c.chat(MSGS, deadline=soon())
        assert state(breaker) == "open"
        with pytest.raises(CircuitOpen, match="skipped"):
            c.chat(MSGS, deadline=soon())
        assert len(rec.requests) == 3
        now[0] = 31.0  # cool-down over: one trial request goes through
        rec.responses = [httpx.Response(200, json=ok_body())]
        assert c.chat(MSGS, deadline=soon()).text == "4"
        assert state(breaker) == "closed"


def test_breaker_half_open_failure_reopens_and_client_errors_do_not_count() -> None:
    now = [0.0]
    b = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=lambda: now[0])
    b.before_call()
    b.record_failure()
    b.before_call()
    b.release()  # a 400: says nothing about the tier
    assert state(b) == "closed"
    b.record_failure()
    assert state(b) == "open"
    now[0] = 10.0
    assert state(b) == "half-open"
    b.before_call()
    with pytest.raises(CircuitOpen):  # only one trial at a time
        b.before_call()
    b.record_failure()
    assert state(b) == "open"
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)


def test_ledger_records_each_answer() -> None:
    ledger = CostLedger()
    rec = Recorder(httpx.Response(200, json=ok_body()))
    with client(rec, ledger=ledger) as c:
        c.chat(MSGS, deadline=soon())
        c.chat(MSGS, deadline=soon())
    t = ledger.totals()
    assert t.requests == 2 and t.cost["USD"] > 0 and t.cache_hit_share == pytest.approx(0.64)


def test_unknown_response_model_is_priced_as_the_requested_model() -> None:
    rec = Recorder(httpx.Response(200, json=ok_body(model="/models/smollm2.gguf")))
    with client(rec) as c:
        r = c.chat(MSGS, deadline=soon())
    assert r.model == "/models/smollm2.gguf" and r.cost.amount > 0


def test_balance_and_models() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/user/balance":
            return httpx.Response(200, json={"is_available": True, "balance_infos": [
                {"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00",
                 "topped_up_balance": "100.00"}]})
        return httpx.Response(200, json={"object": "list", "data": [{"id": "deepseek-chat"}]})

    with client(handler) as c:
        b = c.balance()
        assert b.is_available and str(b.balance_infos[0].total_balance) == "110.00"
        assert c.models() == ["deepseek-chat"]


def test_api_key_never_in_repr_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"Authentication Fails, your api key: {KEY} is invalid"  # a server echoing it back
    rec = Recorder(err(503), err(401, message=echo))
    with client(rec) as c:
        with pytest.raises(CloudAuthError) as exc:
            c.chat(MSGS, deadline=soon())
        texts = [repr(c), str(c.__dict__.get("_headers") is not None), str(exc.value),
                 repr(exc.value), repr(exc.value.__cause__), caplog.text]
    assert all(KEY not in t for t in texts)
    assert "***" in str(exc.value)


def test_async_twin_retries_streams_and_types_errors() -> None:
    async def run() -> None:
        rec = Recorder(err(503), httpx.Response(200, json=ok_body()))
        sleeps: list[float] = []

        async def fake_sleep(s: float) -> None:
            sleeps.append(s)

        async with AsyncChatClient(base_url="https://x.test", api_key=SecretStr(KEY),
                                   model="deepseek-chat", transport=httpx.MockTransport(rec),
                                   sleep=fake_sleep) as c:
            r = await c.chat(MSGS, deadline=soon())
            assert (r.text, r.attempts, len(sleeps)) == ("4", 2, 1)
            rec.responses = [err(402)]
            with pytest.raises(CloudBalanceError):
                await c.chat(MSGS, deadline=soon())
            sse = (b'data: {"choices":[{"index":0,"delta":{"content":"hi"},'
                   b'"finish_reason":"stop"}]}\n\n')
            rec.responses = [httpx.Response(200, content=sse)]
            got: list[str] = []
            assert (await c.chat(MSGS, deadline=soon(), on_delta=got.append)).text == "hi"
            assert got == ["hi"] and KEY not in repr(c)

    asyncio.run(run())


def test_async_deadline_bounds_a_hanging_server() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json=ok_body())

    async def run() -> float:
        async with AsyncChatClient(base_url="https://x.test", api_key=None, model="m",
                                   transport=httpx.MockTransport(hang)) as c:
            t = time.monotonic()
            with pytest.raises(CloudTimeout):
                await c.chat(MSGS, deadline=t + 0.3)
            return time.monotonic() - t

    assert asyncio.run(run()) < 0.3


def test_stream_without_usage_gets_an_estimated_usage_and_cost() -> None:
    sse = (b'data: {"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"'
           + b"x" * 100 + b'"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    with client(Recorder(httpx.Response(200, content=sse))) as c:
        r = c.chat(MSGS, deadline=soon(), on_delta=lambda d: None)
    assert r.usage_estimated and r.usage.completion_tokens == 30 and r.cost.amount > 0
    assert r.usage.prompt_tokens == r.usage.prompt_cache_miss_tokens > 0


def test_error_event_mid_stream_is_not_retried_after_text_was_shown() -> None:
    import json as _json
    import time as _time

    import httpx
    import pytest

    from edgesdk.cloud import ChatClient
    from edgesdk.errors import CloudError

    calls: list[int] = []
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "deepseek-chat",
             "choices": [{"index": 0, "delta": {"content": "partial "}, "finish_reason": None}]}
    parts = [f"data: {_json.dumps(chunk)}\n\n".encode(),
             b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n']

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=iter(parts),  # two network reads
                              headers={"content-type": "text/event-stream"})

    shown: list[str] = []
    client = ChatClient(base_url="http://stand-in.test", api_key=None, model="deepseek-chat",
                        transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with pytest.raises(CloudError):
        client.chat([{"role": "user", "content": "hi"}], deadline=_time.monotonic() + 5,
                    on_delta=shown.append)
    assert shown == ["partial "] and len(calls) == 1
