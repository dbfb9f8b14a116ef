"""The fault matrix: the real client against the real stand-in server, one fault at a time.

For each fault the client must either answer (after the retries the fault calls for) or raise
the right typed error, always inside its deadline, and the stand-in's request counter must show
no more requests than 1 + max_retries (no retry storm). Sleep is injected (backoff is recorded,
not waited) and the clock is real, so hangs really are cut by the deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from edgesdk.cloud import AsyncChatClient, ChatClient
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
from edgesdk.testing.standin import StandIn

KEY = "sk-standin-secret-42"
MSGS = [{"role": "system", "content": "You answer briefly. " * 30},
        {"role": "user", "content": "What is the capital of France?"}]


@dataclass(frozen=True)
class Case:
    fault: str
    stream: bool
    expect: type[CloudError] | None  # None: an answer
    requests: int
    deadline_s: float = 3.0
    model: str = "deepseek-chat"

    @property
    def id(self) -> str:
        return f"{self.fault}-{'stream' if self.stream else 'plain'}-{self.model[9:]}"


R = "deepseek-reasoner"
CASES = [
    Case("blank-lines", False, None, 1),
    Case("keep-alive", True, None, 1),
    Case("keep-alive", False, None, 1),
    Case("empty-body*1", False, None, 2),
    Case("empty-body*1", True, None, 2),
    Case("empty-body", False, CloudProtocolError, 3),
    Case("empty-reply*1", False, None, 2),
    Case("empty-reply*1", True, None, 2),
    Case("no-done", True, None, 1),
    Case("cut*1", False, None, 2),
    Case("cut*1", True, None, 2, model=R),  # cut mid-reasoning: nothing shown yet, retried
    Case("cut*1", True, CloudUnavailable, 1),  # text already shown: not repeated
    Case("stall", True, CloudTimeout, 1, deadline_s=1.0, model=R),
    Case("stall", False, CloudTimeout, 1, deadline_s=1.0),
    Case("insufficient-resource*1", False, None, 2),
    Case("insufficient-resource", True, CloudUnavailable, 1),
    Case("vllm-reasoning", False, None, 1, model=R),
    Case("vllm-reasoning", True, None, 1, model=R),
    Case("429*1:retry-after=0.2", False, None, 2),
    Case("429:retry-after=30", False, CloudRateLimited, 1),
    Case("500*2", False, None, 3),
    Case("503*2", True, None, 3),
    Case("503", False, CloudUnavailable, 3),
    Case("500", True, CloudUnavailable, 3),
    Case("401", False, CloudAuthError, 1),
    Case("402", True, CloudBalanceError, 1),
    Case("400", False, CloudBadRequest, 1),
    Case("422", False, CloudBadRequest, 1),
    Case("slow:delay=0.2", False, None, 1),
    Case("slow:delay=5", True, CloudTimeout, 1, deadline_s=1.0),
    Case("hang", False, CloudTimeout, 1, deadline_s=1.0),
    Case("hang", True, CloudTimeout, 1, deadline_s=1.0),
]


ENDED: list[float] = []


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    with StandIn(api_key=KEY, trickle_s=0.01) as s:
        yield s


def run_sync(s: StandIn, case: Case, sleeps: list[float], deadline: float,
             ) -> tuple[str, str | None]:
    deltas: list[str] = []
    with ChatClient(base_url=s.url, api_key=SecretStr(KEY), model=case.model,
                    sleep=sleeps.append) as c:
        try:
            r = c.chat(MSGS, deadline=deadline,
                       on_delta=deltas.append if case.stream else None)
        finally:
            ENDED.append(time.monotonic())  # when chat() returned, before closing the pool
    if case.stream:
        assert "".join(deltas) == r.text
    assert r.attempts == case.requests
    return r.text, r.reasoning


def run_async(s: StandIn, case: Case, sleeps: list[float], deadline: float,
              ) -> tuple[str, str | None]:
    async def fake_sleep(t: float) -> None:
        sleeps.append(t)

    async def go() -> tuple[str, str | None]:
        async with AsyncChatClient(base_url=s.url, api_key=SecretStr(KEY), model=case.model,
                                   sleep=fake_sleep) as c:
            try:
                r = await c.chat(MSGS, deadline=deadline,
                                 on_delta=(lambda d: None) if case.stream else None)
            finally:
                ENDED.append(time.monotonic())
        return r.text, r.reasoning

    return asyncio.run(go())


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_matrix(standin: StandIn, case: Case, flavour: str) -> None:
    standin.reset()
    standin.set_faults(case.fault)
    sleeps: list[float] = []
    run = run_sync if flavour == "sync" else run_async
    deadline = time.monotonic() + case.deadline_s
    if case.expect is None:
        text, reasoning = run(standin, case, sleeps, deadline)
        assert text.startswith("Stand-in answer to: What is the capital")
        assert (reasoning is not None) == (case.model == R)
    else:
        with pytest.raises(case.expect) as exc:
            run(standin, case, sleeps, deadline)
        assert KEY not in str(exc.value)
    late = ENDED.pop() - deadline
    assert late < 0, f"chat() ended {late:.3f} s after its deadline"
    assert standin.count() == case.requests
    assert len(sleeps) == max(0, case.requests - 1)
    if case.fault.startswith("429*1"):
        assert sleeps[0] >= 0.2  # Retry-After honoured


@pytest.mark.parametrize("stream", [False, True])
def test_stall_after_slow_keepalives_is_cut_at_the_deadline(stream: bool) -> None:
    """Each keep-alive restarts httpx's read timeout; only the watchdog can end the stall."""
    with StandIn(trickle_s=0.35, keepalive_lines=2,
                 faults=["keep-alive", "blank-lines", "stall"]) as s:
        deadline = time.monotonic() + 0.9
        with ChatClient(base_url=s.url, api_key=None, model="deepseek-chat") as c, \
                pytest.raises(CloudTimeout):
            c.chat(MSGS, deadline=deadline, on_delta=(lambda d: None) if stream else None)
        assert time.monotonic() < deadline
        assert s.count() == 1
