"""Chat-completions clients for the upper tiers (DeepSeek, an edge gateway, vLLM/SGLang/llama.cpp).

``ChatClient`` and ``AsyncChatClient`` have the same constructor and methods and share every
decision (``core``) and all parsing (``sse``); they differ only in how they wait. One
``deadline`` (a ``time.monotonic()`` instant) bounds a whole call, retries and backoff included.

Why the sync client reads in a worker thread: httpx's read timeout restarts at every byte, and
DeepSeek keeps a queued request alive by trickling blank lines or ``: keep-alive`` comments, so
a socket timeout alone cannot keep a promise about wall time. The worker does the I/O and
parsing and queues text deltas; the caller's thread waits on that queue no longer than the
deadline, calls ``on_delta`` itself (so callbacks run on the caller's thread), and walks away
from a stuck worker, which then ends at its own timeout. The async client gets the same
guarantee from ``anyio.fail_after``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import anyio
import httpx
from pydantic import SecretStr

from edgesdk.cloud.breaker import CircuitBreaker
from edgesdk.cloud.core import (
    Balance,
    ChatResult,
    RetryPlan,
    auth_headers,
    chat_body,
    deadline_error,
    endpoint,
    error_from_status,
    error_from_transport,
    estimate_usage,
    parse_balance,
    timeout_for,
)
from edgesdk.cloud.pricing import CostLedger, PriceTable, utc_now
from edgesdk.cloud.sse import Completion, StreamAccumulator, parse_completion
from edgesdk.cloud.watchdog import WATCHDOG, Guard, socket_of
from edgesdk.errors import CloudError, CloudProtocolError
from edgesdk.types import Tier

log = logging.getLogger("edgesdk.cloud")

Messages = Sequence[Mapping[str, Any]]
ToolDefs = Sequence[Mapping[str, Any]]
DEFAULT_BALANCE_TIMEOUT_S = 15.0


class _ClientBase:
    """Configuration and pure steps shared by both clients."""

    def __init__(self, *, base_url: str, api_key: SecretStr | None, model: str,
                 tier: Tier = "cloud", max_retries: int = 2,
                 breaker: CircuitBreaker | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 prices: PriceTable | None = None, currency: str = "USD",
                 ledger: CostLedger | None = None, rng: random.Random | None = None,
                 now: Callable[[], datetime] = utc_now,
                 extra_body: Mapping[str, Any] | None = None, name: str | None = None) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if isinstance(api_key, str):  # be forgiving, but never keep a plain str around
            api_key = SecretStr(api_key)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.tier: Tier = tier
        self.name = name or tier
        self.max_retries = max_retries
        self.breaker = breaker
        self.prices = prices if prices is not None else PriceTable.default()
        self.currency = currency
        self.ledger = ledger
        self._api_key = api_key
        self._clock = clock
        self._rng = rng or random.Random()
        self._now = now
        self._extra = dict(extra_body or {})
        self._headers = auth_headers(api_key)

    def __repr__(self) -> str:
        key = "None" if self._api_key is None else "SecretStr('**********')"
        return (f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r}, "
                f"model={self.model!r}, tier={self.tier!r}, api_key={key})")

    def _plan(self, deadline: float, url: str) -> RetryPlan:
        return RetryPlan(deadline=deadline, clock=self._clock, max_retries=self.max_retries,
                         breaker=self.breaker, rng=self._rng, tier=self.tier, url=url)

    def _body(self, messages: Messages, *, model: str, stream: bool, max_tokens: int | None,
              temperature: float | None, tools: ToolDefs | None = None,
              tool_choice: str | Mapping[str, Any] | None = None,
              response_format: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return chat_body(messages, model=model, stream=stream, max_tokens=max_tokens,
                         temperature=temperature, extra=self._extra, tools=tools,
                         tool_choice=tool_choice, response_format=response_format)

    def _status_error(self, resp: httpx.Response, body: bytes, url: str) -> CloudError:
        return error_from_status(resp.status_code, resp.headers, body, tier=self.tier, url=url,
                                 api_key=self._api_key)

    def _result(self, c: Completion, plan: RetryPlan, requested: str,
                messages: Messages) -> ChatResult:
        usage, estimated = c.usage, False
        if usage.prompt_tokens == 0 and usage.completion_tokens == 0:
            usage, estimated = estimate_usage(messages, c.text, c.reasoning), True
        priced_as = c.model if self.prices.row(c.model) is not None else requested
        cost = self.prices.cost(usage, model=priced_as, at=self._now(), currency=self.currency)
        result = ChatResult(
            text=c.text, reasoning=c.reasoning, model=c.model or requested, usage=usage,
            cost=cost, finish_reason=c.finish_reason, latency_ms=plan.elapsed_ms(),
            attempts=plan.attempts, request_id=c.response_id, tier=self.tier,
            usage_estimated=estimated, tier_confidence=c.confidence,
            tier_confidence_known=c.confidence_known, tier_declined=c.declined,
            tool_calls=c.tool_calls,
        )
        if self.ledger is not None:
            self.ledger.record(usage=result.usage, cost=result.cost)
        log.debug("%s: %s answered in %.0f ms after %d attempt(s), %d+%d tokens",
                  self.tier, result.model, result.latency_ms, result.attempts,
                  usage.prompt_tokens, usage.completion_tokens)
        return result


class ChatClient(_ClientBase):
    """Blocking client. ``with ChatClient(...) as c: c.chat(messages, deadline=...)``."""

    def __init__(self, *, base_url: str, api_key: SecretStr | None, model: str,
                 tier: Tier = "cloud", transport: httpx.BaseTransport | None = None,
                 max_retries: int = 2, breaker: CircuitBreaker | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 prices: PriceTable | None = None, currency: str = "USD",
                 ledger: CostLedger | None = None, rng: random.Random | None = None,
                 now: Callable[[], datetime] = utc_now,
                 extra_body: Mapping[str, Any] | None = None, name: str | None = None) -> None:
        super().__init__(base_url=base_url, api_key=api_key, model=model, tier=tier,
                         max_retries=max_retries, breaker=breaker, clock=clock, prices=prices,
                         currency=currency, ledger=ledger, rng=rng, now=now,
                         extra_body=extra_body, name=name)
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, follow_redirects=False)

    def chat(self, messages: Messages, *, deadline: float, model: str | None = None,
             max_tokens: int | None = None, temperature: float | None = None,
             on_delta: Callable[[str], None] | None = None, tools: ToolDefs | None = None,
             tool_choice: str | Mapping[str, Any] | None = None,
             response_format: Mapping[str, Any] | None = None) -> ChatResult:
        """One chat completion; streams (calling ``on_delta`` per text delta) if it is given.
        ``tools`` / ``tool_choice`` / ``response_format`` go to the server as they are; the
        result's ``tool_calls`` are what it called (validated by the caller)."""
        use_model = model or self.model
        url = endpoint(self.base_url, "/chat/completions")
        body = self._body(messages, model=use_model, stream=on_delta is not None,
                          max_tokens=max_tokens, temperature=temperature, tools=tools,
                          tool_choice=tool_choice, response_format=response_format)
        plan = self._plan(deadline, url)
        while True:
            limit = plan.start()
            try:
                completion = self._attempt(url, body, limit, plan, on_delta)
            except CloudError as exc:
                self._sleep(plan.failed(exc))
                continue
            plan.succeeded()
            return self._result(completion, plan, use_model, messages)

    def _attempt(self, url: str, body: dict[str, Any], limit: float, plan: RetryPlan,
                 on_delta: Callable[[str], None] | None) -> Completion:
        armed: list[Guard] = []

        def arm(stream: object) -> None:
            sock = socket_of(stream)
            if sock is not None and not armed:
                armed.append(WATCHDOG.arm(sock, after_s=max(0.0, plan.remaining())))

        def trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete":  # a new connection: guard it now
                arm(info.get("return_value"))

        acc: StreamAccumulator | None = None
        log.debug("%s: POST %s attempt %d", self.tier, url, plan.attempts)
        try:
            with self._http.stream("POST", url, json=body, headers=self._headers,
                                   timeout=timeout_for(limit),
                                   extensions={"trace": trace}) as resp:
                arm(resp.extensions.get("network_stream"))  # a pooled connection
                if resp.status_code >= 400:
                    raise self._status_error(resp, resp.read(), url)
                if not body["stream"]:
                    parts = []
                    for chunk in resp.iter_bytes():
                        self._check(plan, url)
                        parts.append(chunk)
                    return parse_completion(b"".join(parts))
                acc = StreamAccumulator()
                for chunk in resp.iter_bytes():
                    self._check(plan, url)
                    for delta in acc.feed(chunk):
                        acc.delivered += 1
                        if on_delta is not None:
                            on_delta(delta)
                return acc.finish()
        except CloudError as mid_stream:
            if acc is not None and acc.delivered:
                mid_stream.retryable = False  # an error event mid-stream: never repeat text
            raise
        except httpx.TransportError as exc:
            if plan.remaining() <= 0:  # includes the watchdog cutting a stalled read
                raise deadline_error(tier=self.tier, url=url) from exc
            err = error_from_transport(exc, tier=self.tier, url=url, deadline_passed=False)
            if acc is not None and acc.delivered:
                err.retryable = False  # the caller already showed part of this answer
            raise err from exc
        finally:
            for entry in armed:
                WATCHDOG.disarm(entry)

    def _check(self, plan: RetryPlan, url: str) -> None:
        """Keep-alive bytes reset httpx's read timeout; the deadline is checked per chunk."""
        if plan.remaining() <= 0:
            raise deadline_error(tier=self.tier, url=url)

    def balance(self, *, deadline: float | None = None) -> Balance:
        """``GET /user/balance`` (DeepSeek only)."""
        return parse_balance(self._get("/user/balance", deadline))

    def models(self, *, deadline: float | None = None) -> list[str]:
        """Model ids from ``GET /models``."""
        return _model_ids(self._get("/models", deadline))

    def _get(self, path: str, deadline: float | None) -> bytes:
        url = endpoint(self.base_url, path)
        left = (DEFAULT_BALANCE_TIMEOUT_S if deadline is None else deadline - self._clock())
        if left <= 0:
            raise deadline_error(tier=self.tier, url=url)
        try:
            resp = self._http.get(url, headers=self._headers, timeout=timeout_for(left))
        except httpx.TransportError as exc:
            raise error_from_transport(exc, tier=self.tier, url=url,
                                       deadline_passed=isinstance(exc, httpx.TimeoutException),
                                       ) from exc
        if resp.status_code >= 400:
            raise self._status_error(resp, resp.content, url)
        return resp.content

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncChatClient(_ClientBase):
    """Async twin of :class:`ChatClient`: ``await client.chat(messages, deadline=...)``."""

    def __init__(self, *, base_url: str, api_key: SecretStr | None, model: str,
                 tier: Tier = "cloud", transport: httpx.AsyncBaseTransport | None = None,
                 max_retries: int = 2, breaker: CircuitBreaker | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
                 prices: PriceTable | None = None, currency: str = "USD",
                 ledger: CostLedger | None = None, rng: random.Random | None = None,
                 now: Callable[[], datetime] = utc_now,
                 extra_body: Mapping[str, Any] | None = None, name: str | None = None) -> None:
        super().__init__(base_url=base_url, api_key=api_key, model=model, tier=tier,
                         max_retries=max_retries, breaker=breaker, clock=clock, prices=prices,
                         currency=currency, ledger=ledger, rng=rng, now=now,
                         extra_body=extra_body, name=name)
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False)

    async def chat(self, messages: Messages, *, deadline: float, model: str | None = None,
                   max_tokens: int | None = None, temperature: float | None = None,
                   on_delta: Callable[[str], None] | None = None,
                   tools: ToolDefs | None = None,
                   tool_choice: str | Mapping[str, Any] | None = None,
                   response_format: Mapping[str, Any] | None = None) -> ChatResult:
        """One chat completion; streams (calling ``on_delta`` per text delta) if it is given."""
        use_model = model or self.model
        url = endpoint(self.base_url, "/chat/completions")
        body = self._body(messages, model=use_model, stream=on_delta is not None,
                          max_tokens=max_tokens, temperature=temperature, tools=tools,
                          tool_choice=tool_choice, response_format=response_format)
        plan = self._plan(deadline, url)
        while True:
            limit = plan.start()
            try:
                try:
                    with anyio.fail_after(limit):
                        completion = await self._attempt(url, body, limit, plan, on_delta)
                except CloudError:
                    raise
                except TimeoutError:
                    raise deadline_error(tier=self.tier, url=url) from None
            except CloudError as exc:
                await self._sleep(plan.failed(exc))
                continue
            plan.succeeded()
            return self._result(completion, plan, use_model, messages)

    async def _attempt(self, url: str, body: dict[str, Any], limit: float, plan: RetryPlan,
                       on_delta: Callable[[str], None] | None) -> Completion:
        log.debug("%s: POST %s attempt %d", self.tier, url, plan.attempts)
        acc: StreamAccumulator | None = None
        try:
            async with self._http.stream("POST", url, json=body, headers=self._headers,
                                         timeout=timeout_for(limit)) as resp:
                if resp.status_code >= 400:
                    raise self._status_error(resp, await resp.aread(), url)
                if not body["stream"]:
                    return parse_completion(await resp.aread())
                acc = StreamAccumulator()
                async for chunk in resp.aiter_bytes():
                    for delta in acc.feed(chunk):
                        acc.delivered += 1
                        if on_delta is not None:
                            on_delta(delta)
                return acc.finish()
        except CloudError as mid_stream:
            if acc is not None and acc.delivered:
                mid_stream.retryable = False  # an error event mid-stream: never repeat text
            raise
        except httpx.TransportError as exc:
            err = error_from_transport(exc, tier=self.tier, url=url,
                                       deadline_passed=plan.remaining() <= 0)
            if acc is not None and acc.delivered:
                err.retryable = False  # the caller already showed part of this answer
            raise err from exc

    async def balance(self, *, deadline: float | None = None) -> Balance:
        """``GET /user/balance`` (DeepSeek only)."""
        return parse_balance(await self._get("/user/balance", deadline))

    async def models(self, *, deadline: float | None = None) -> list[str]:
        return _model_ids(await self._get("/models", deadline))

    async def _get(self, path: str, deadline: float | None) -> bytes:
        url = endpoint(self.base_url, path)
        left = (DEFAULT_BALANCE_TIMEOUT_S if deadline is None else deadline - self._clock())
        if left <= 0:
            raise deadline_error(tier=self.tier, url=url)
        try:
            with anyio.fail_after(left):
                resp = await self._http.get(url, headers=self._headers,
                                            timeout=timeout_for(left))
        except TimeoutError:
            raise deadline_error(tier=self.tier, url=url) from None
        except httpx.TransportError as exc:
            raise error_from_transport(exc, tier=self.tier, url=url,
                                       deadline_passed=isinstance(exc, httpx.TimeoutException),
                                       ) from exc
        if resp.status_code >= 400:
            raise self._status_error(resp, resp.content, url)
        return resp.content

    async def aclose(self) -> None:
        await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncChatClient:
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


def _model_ids(body: bytes) -> list[str]:
    try:
        data = json.loads(body.strip()).get("data", [])
        return [str(m["id"]) for m in data]
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise CloudProtocolError(
            "the /models answer is not the OpenAI list format; check the base URL") from exc
