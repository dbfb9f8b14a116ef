"""What the sync and async chat clients share: results, requests, error mapping and retry rules.

Keeping this free of I/O means the two clients differ only in how they wait (threads vs
``await``), while the decisions that matter for the real API are made in one place: which status
means which typed error, which failures may be retried, how long to back off (jittered,
honouring ``Retry-After``), and that no retry ever starts if it cannot finish before the
request deadline. The API key only ever exists as a ``SecretStr`` and as the value of the
``Authorization`` header; every message built here is scrubbed of it.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from edgesdk.cloud.breaker import CircuitBreaker
from edgesdk.cloud.pricing import estimate_tokens
from edgesdk.errors import (
    CloudAuthError,
    CloudBadRequest,
    CloudBalanceError,
    CloudError,
    CloudProtocolError,
    CloudRateLimited,
    CloudTimeout,
    CloudUnavailable,
)
from edgesdk.types import Cost, Tier, Usage

log = logging.getLogger("edgesdk.cloud")

DEADLINE_MARGIN_S = 0.1
"""Give up this much before the deadline, so the caller gets control back inside it."""
MIN_ATTEMPT_S = 0.1
"""Do not start an attempt (or a retry) with less time than this left."""


class ChatResult(BaseModel):
    """One answered chat request: the text, apart from any reasoning, and what it cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    reasoning: str | None = None
    model: str
    usage: Usage
    cost: Cost
    finish_reason: str
    latency_ms: float
    attempts: int
    request_id: str = ""
    tier: str = "cloud"
    tier_confidence: float | None = None
    """P(right) the tier reported for its answer (an edgesdk edge tier does); else None."""
    tier_confidence_known: bool = True
    """False when the tier said ``tier_confidence`` is a placeholder (``Answer``)."""
    tier_declined: bool = False
    """An edgesdk edge tier declined: ``text`` says it is not sure (``Answer.declined``)."""
    tool_calls: tuple[dict[str, Any], ...] = ()
    """The tools the tier called, as it sent them (OpenAI shape, arguments a JSON string);
    the escalation validates them against the tools it offered."""
    usage_estimated: bool = False
    """True when the server reported no usage (llama.cpp streams) and it was estimated from
    the text (0.3 token per character), so the cost is an estimate too."""

    @property
    def cache_hit_share(self) -> float:
        u = self.usage
        total = u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens
        return u.prompt_cache_hit_tokens / total if total else 0.0


class BalanceInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    currency: str
    total_balance: Decimal
    granted_balance: Decimal = Decimal(0)
    topped_up_balance: Decimal = Decimal(0)


class Balance(BaseModel):
    """``GET /user/balance`` (DeepSeek sends the amounts as strings; they become Decimals)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    is_available: bool
    balance_infos: tuple[BalanceInfo, ...] = ()


class TierClient(Protocol):
    """The seam the Assistant escalates through (ChatClient, or a test fake)."""

    name: str
    tier: Tier
    model: str

    def chat(self, messages: Sequence[Mapping[str, Any]], *, deadline: float,
             model: str | None = None, max_tokens: int | None = None,
             temperature: float | None = None,
             on_delta: Callable[[str], None] | None = None,
             tools: Sequence[Mapping[str, Any]] | None = None,
             tool_choice: str | Mapping[str, Any] | None = None,
             response_format: Mapping[str, Any] | None = None) -> ChatResult: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- requests


def endpoint(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def auth_headers(api_key: SecretStr | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if api_key is not None and api_key.get_secret_value():
        headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
    return headers


def chat_body(messages: Sequence[Mapping[str, Any]], *, model: str, stream: bool,
              max_tokens: int | None, temperature: float | None,
              extra: Mapping[str, Any] | None,
              tools: Sequence[Mapping[str, Any]] | None = None,
              tool_choice: str | Mapping[str, Any] | None = None,
              response_format: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages],
                            "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if tools:
        body["tools"] = [dict(t) for t in tools]
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    if response_format is not None:
        body["response_format"] = dict(response_format)
    if extra:
        body.update(extra)
    return body


def timeout_for(remaining: float) -> httpx.Timeout:
    """httpx timeouts for one attempt: nothing may wait past the deadline."""
    t = max(0.001, remaining)
    return httpx.Timeout(t, connect=min(t, 10.0))


# --------------------------------------------------------------------------- errors


def scrub(text: str, api_key: SecretStr | None) -> str:
    if api_key is not None:
        secret = api_key.get_secret_value()
        if secret:
            text = text.replace(secret, "***")
    return text


def parse_retry_after(headers: httpx.Headers, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``retry-after-ms``."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _server_message(body: bytes) -> str:
    try:
        obj = json.loads(body.strip() or b"{}")
    except ValueError:
        return body.decode("utf-8", errors="replace").strip()[:200]
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or "")[:300]
    if isinstance(err, str):
        return err[:300]
    if isinstance(obj, dict) and "detail" in obj:  # FastAPI-style servers (llama.cpp, vLLM)
        return str(obj["detail"])[:300]
    return ""


def error_from_status(status: int, headers: httpx.Headers, body: bytes, *,
                      tier: str, url: str, api_key: SecretStr | None) -> CloudError:
    """The typed error for an HTTP error status; never contains the API key."""
    said = scrub(_server_message(body), api_key)
    said = f" (server said: {said})" if said else ""
    if status in (401, 403):
        return CloudAuthError(
            f"the {tier} tier rejected the API key with {status}{said}. Set a valid key in "
            "DEEPSEEK_API_KEY (or pass api_key=)", status=status, tier=tier)
    if status == 402:
        return CloudBalanceError(
            f"the {tier} account has insufficient balance (402){said}. Top up the account; "
            "until then answers stay on the device", status=status, tier=tier)
    if status == 429:
        retry_after = parse_retry_after(headers)
        wait = f"; the server asks to wait {retry_after:.1f} s" if retry_after is not None else ""
        return CloudRateLimited(
            f"the {tier} tier is rate-limiting this key (429){said}{wait}. Send fewer "
            "concurrent requests or retry later", tier=tier, retry_after_s=retry_after)
    if status >= 500 or status == 408:
        return CloudUnavailable(
            f"the {tier} tier at {url} failed with {status}{said}; it is retried, then "
            "skipped. Retry later or use another tier", status=status, tier=tier)
    if status == 404:
        return CloudBadRequest(
            f"{url} answered 404{said}. Check the base URL (DeepSeek: https://api.deepseek.com;"
            " vLLM, SGLang, llama.cpp: http://HOST:PORT/v1) and the model name",
            status=status, tier=tier)
    return CloudBadRequest(
        f"the {tier} tier refused the request with {status}{said}. Check the model name and "
        "parameters (400: bad format, 422: bad parameters)", status=status, tier=tier)


def error_from_transport(exc: httpx.TransportError, *, tier: str, url: str,
                         deadline_passed: bool) -> CloudError:
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException) and deadline_passed:
        return CloudTimeout(
            f"the {tier} tier at {url} did not answer inside the request deadline ({kind}); "
            "raise the deadline or use a closer tier", tier=tier)
    return CloudUnavailable(
        f"cannot talk to the {tier} tier at {url} ({kind}: {exc}); check the URL and the "
        "network, or retry later", tier=tier)


def deadline_error(*, tier: str, url: str) -> CloudTimeout:
    return CloudTimeout(
        f"the {tier} tier at {url} did not answer inside the request deadline; raise the "
        "deadline or use a closer tier", tier=tier)


# --------------------------------------------------------------------------- retries


def counts_against_tier(exc: CloudError) -> bool:
    """Whether a failure says the tier is unhealthy (for the circuit breaker)."""
    return exc.retryable or isinstance(exc, CloudTimeout)


class RetryPlan:
    """The retry bookkeeping of one request: attempts, backoff, deadline, breaker.

    ``start()`` before each attempt, then ``succeeded()`` or ``failed(exc)``, which returns how
    long to sleep before the next attempt or raises the error that ends the request.
    """

    def __init__(self, *, deadline: float, clock: Callable[[], float], max_retries: int,
                 breaker: CircuitBreaker | None, rng: random.Random, tier: str, url: str,
                 backoff_base_s: float = 0.5, backoff_cap_s: float = 8.0) -> None:
        self.deadline = deadline
        self.clock = clock
        self.max_retries = max_retries
        self.breaker = breaker
        self.rng = rng
        self.tier = tier
        self.url = url
        self.base = backoff_base_s
        self.cap = backoff_cap_s
        self.attempts = 0
        self.started = clock()

    def remaining(self) -> float:
        return self.deadline - self.clock() - DEADLINE_MARGIN_S

    def start(self) -> float:
        """Check deadline and breaker; return the time this attempt may take."""
        left = self.remaining()
        if left < MIN_ATTEMPT_S:
            raise deadline_error(tier=self.tier, url=self.url)
        if self.breaker is not None:
            self.breaker.before_call()
        self.attempts += 1
        return left

    def succeeded(self) -> None:
        if self.breaker is not None:
            self.breaker.record_success()

    def failed(self, exc: CloudError) -> float:
        if self.breaker is not None:
            if counts_against_tier(exc):
                self.breaker.record_failure()
            else:
                self.breaker.release()
        if not exc.retryable or self.attempts > self.max_retries:
            raise exc
        delay = self.backoff(self.attempts - 1)
        if isinstance(exc, CloudRateLimited) and exc.retry_after_s is not None:
            delay = exc.retry_after_s * self.rng.uniform(1.0, 1.1)
        if delay + MIN_ATTEMPT_S > self.remaining():
            log.info("%s: not retrying %s: %.2f s backoff would pass the deadline",
                     self.tier, exc.code, delay)
            raise exc
        log.info("%s: attempt %d failed (%s); retrying in %.2f s",
                 self.tier, self.attempts, exc.code, delay)
        return delay

    def backoff(self, n: int) -> float:
        """Exponential backoff with jitter in [half, full] of the step."""
        step = min(self.cap, self.base * (2 ** n))
        return self.rng.uniform(step / 2, step)

    def elapsed_ms(self) -> float:
        return (self.clock() - self.started) * 1000


def estimate_usage(messages: Sequence[Mapping[str, str]], text: str,
                   reasoning: str | None) -> Usage:
    """Usage for servers that report none (llama.cpp streams), by the 0.3-token-per-char rule."""
    prompt = estimate_tokens("".join(str(m.get("content") or "") for m in messages))
    reasoning_tokens = estimate_tokens(reasoning or "")
    return Usage(prompt_tokens=prompt, prompt_cache_miss_tokens=prompt,
                 completion_tokens=estimate_tokens(text) + reasoning_tokens,
                 reasoning_tokens=reasoning_tokens)


def parse_balance(body: bytes) -> Balance:
    try:
        return Balance.model_validate_json(body.strip())
    except ValueError as exc:
        raise CloudProtocolError(
            "the balance answer is not the DeepSeek /user/balance format; only DeepSeek has "
            "this endpoint (self-hosted servers do not)"
        ) from exc
