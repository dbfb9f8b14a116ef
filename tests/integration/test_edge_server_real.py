"""``edgesdk serve-edge`` for real: the watch profile (SmolLM2-135M via llama.cpp) in its own
process on 127.0.0.1, used by our real ``ChatClient`` (plain and streamed) and as the edge tier
of a glasses-side Assistant, plus ``AsyncChatClient`` and raw OpenAI-shaped requests."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from edgesdk.assistant import Assistant
from edgesdk.cloud import AsyncChatClient, ChatClient
from edgesdk.cloud.tier import build_tier
from edgesdk.config import Settings
from edgesdk.local.llm import LocalLLM
from edgesdk.local.prompts import cloud_messages
from edgesdk.types import Generation, Mode, Percept, RouteDecision, SkillResult
from tests.conftest import REAL_HOME
from tests.fakes import FakeLLM, FakeRouter

pytestmark = pytest.mark.integration
MODEL = "smollm2-135m-instruct"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def edge_url(real_catalog: object) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DEEPSEEK_API_KEY"}
    env["EDGESDK_HOME"] = str(REAL_HOME)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgesdk.cli", "serve-edge", "--profile", "watch",
         "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"serve-edge exited: {err[-800:]}")
            try:
                if httpx.get(f"{url}/../health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve-edge did not answer /health within 90 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=15) == 0  # SIGTERM: a clean shutdown
        finally:
            if proc.poll() is None:
                proc.kill()


def test_health_and_models_name_the_real_model(edge_url: str) -> None:
    health = httpx.get(edge_url.removesuffix("/v1") + "/health").json()
    assert health["model"] == MODEL and health["profile"] == "watch"
    with ChatClient(base_url=edge_url, api_key=None, model=MODEL, tier="edge") as client:
        assert client.models() == [MODEL]


def test_chat_client_plain_and_streamed(edge_url: str) -> None:
    messages = cloud_messages("What is the capital of France?")
    with ChatClient(base_url=edge_url, api_key=None, model=MODEL, tier="edge") as client:
        plain = client.chat(messages, deadline=time.monotonic() + 60)
        deltas: list[str] = []
        streamed = client.chat(messages, deadline=time.monotonic() + 60, on_delta=deltas.append)
    assert "paris" in plain.text.lower()
    assert plain.model == MODEL and plain.usage.completion_tokens > 0
    assert plain.usage.prompt_tokens > 0 and not plain.usage_estimated
    assert streamed.text == "".join(deltas) == plain.text  # greedy decoding: same answer
    assert streamed.finish_reason == plain.finish_reason
    assert streamed.usage.completion_tokens == plain.usage.completion_tokens


def test_async_chat_client(edge_url: str) -> None:
    async def go() -> str:
        async with AsyncChatClient(base_url=edge_url, api_key=None, model=MODEL,
                                   tier="edge") as client:
            result = await client.chat(cloud_messages("Who wrote Hamlet?"),
                                       deadline=time.monotonic() + 60)
            return result.text

    assert "shakespeare" in asyncio.run(go()).lower()


def test_openai_shaped_request_with_extension(edge_url: str) -> None:
    resp = httpx.post(f"{edge_url}/chat/completions", timeout=60, json={
        "model": "gpt-4o-mini", "temperature": 0.7, "max_tokens": 5, "user": "someone",
        "stream_options": {"include_usage": True},
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Hello"},
                     {"role": "assistant", "content": "Hi"},
                     {"role": "user", "content": "What is 6 times 7?"}],
    })
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "42" in body["choices"][0]["message"]["content"]
    assert body["edgesdk"]["source"] == "skill" and body["model"] == MODEL


class _Unsure(FakeRouter):
    """The glasses' router: never trusts its fake device model, so every question escalates."""

    def blocked(self, question: str, mode: Mode, state: Any = None) -> str | None:
        return "mode only-on-device" if mode == "only-on-device" else None

    def decide(self, *, question: str, generation: Generation | None, skill: SkillResult | None,
               percepts: Sequence[Percept], mode: Mode, state: Any = None,
               peer: Generation | None = None) -> RouteDecision:
        return RouteDecision(action="escalate", confidence=0.1, threshold=0.5,
                             reasons=("unsure",))


def test_glasses_use_the_watch_as_their_edge_tier(edge_url: str, tmp_path: Path) -> None:
    edge = build_tier(name="edge", tier="edge", base_url=edge_url, model=MODEL, api_key=None)
    llm = cast(LocalLLM, FakeLLM({"": ("no idea", -4.0)}, model_id=MODEL))
    with Assistant(profile="glasses", settings=Settings(home=tmp_path), llm=llm,
                   tiers=[edge], router=_Unsure()) as glasses:
        answer = glasses.ask("What is the capital of France?")
        stream = glasses.ask("What is the capital of France?", stream=True)
        text = "".join(stream)
    assert answer.tier == "edge" and answer.escalated and "paris" in answer.text.lower()
    assert answer.device_text == "no idea" and answer.model == MODEL
    assert stream.answer is not None and stream.answer.tier == "edge"
    assert text.strip() == stream.answer.text
    assert math.isfinite(answer.latency_ms)
