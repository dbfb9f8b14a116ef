"""The fault matrix at the Assistant: real ChatClient, real stand-in server, a fake device model.

For every fault the stand-in can inject: ``only-cloud`` gets the cloud's answer (after the
retries the fault calls for) or raises the typed error; ``prefer-on-device`` (on a question the
router escalates) and ``prefer-cloud`` get an answer — the cloud's, or the device's with a reason
saying what failed; every request ends inside its deadline; and the stand-in's request counter
shows no retry storm (at most 1 + max_retries requests per ask).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from edgesdk.assistant import Assistant
from edgesdk.cloud import ChatClient
from edgesdk.config import Settings
from edgesdk.errors import CloudError
from edgesdk.testing.standin import StandIn
from tests.fakes import FakeLLM, FakeRouter

MAX_RETRIES = 2
FAULTS = [
    # (fault spec, does only-cloud still get an answer?)
    ("blank-lines", True), ("keep-alive", True), ("no-done", True), ("empty-body*1", True),
    ("empty-body", False), ("empty-reply*1", True), ("empty-reply", False), ("cut*1", True),
    ("insufficient-resource*1", True), ("insufficient-resource", False),
    ("vllm-reasoning", True), ("429*1:retry-after=0.1", True), ("429:retry-after=30", False),
    ("500*2", True), ("500", False), ("503*2", True), ("503", False), ("401", False),
    ("402", False), ("400", False), ("422", False), ("slow:delay=0.1", True), ("hang", False),
    ("stall", False),
]
DEADLINE_S = 1.5


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    with StandIn(trickle_s=0.0) as s:
        yield s


def assistant(tmp_path, url: str, mode: str) -> Assistant:  # type: ignore[no-untyped-def]
    tier = ChatClient(name="cloud", tier="cloud", base_url=url, model="deepseek-chat",
                      api_key=None, max_retries=MAX_RETRIES,
                      sleep=lambda s: None)  # backoff is planned, not waited, in this test
    return Assistant(profile="phone", mode=mode, settings=Settings(home=tmp_path),
                     llm=FakeLLM({"moon": ("cheese", -4.0)}), tiers=[tier],
                     router=FakeRouter(threshold=0.5))


@pytest.mark.parametrize(("fault", "answers"), FAULTS, ids=[f for f, _ in FAULTS])
@pytest.mark.parametrize("mode", ["only-cloud", "prefer-on-device", "prefer-cloud"])
def test_fault_matrix(tmp_path, standin: StandIn, fault: str, answers: bool, mode: str) -> None:  # type: ignore[no-untyped-def]
    standin.reset()
    standin.set_faults(fault)
    started = time.monotonic()
    with assistant(tmp_path, standin.url, mode) as a:
        if mode == "only-cloud" and not answers:
            with pytest.raises(CloudError):
                a.ask("Is the moon made of cheese?", deadline_s=DEADLINE_S)
            answer = None
        else:
            answer = a.ask("Is the moon made of cheese?", deadline_s=DEADLINE_S)
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_S + 0.5, f"{fault} {mode} took {elapsed:.2f}s"
    assert 1 <= standin.count() <= 1 + MAX_RETRIES, "retry storm"
    if answer is None:
        return
    if answers:
        assert answer.tier == "cloud" and answer.text.startswith("Stand-in answer")
    else:
        # the device's "cheese" (confidence 0.02) is below the refusal floor: declined
        assert answer.tier == "device" and answer.declined and answer.device_text == "cheese"
        assert any(r.startswith("cloud failed: ") for r in answer.reasons)
        assert any("fell back to the device answer" in r for r in answer.reasons)
