"""Compatibility: our client against an OpenAI-compatible server we did not write.

llama-cpp-python's own server (``python -m llama_cpp.server``, the ``server`` extra) serves
SmolLM2 on 127.0.0.1 as an *edge* tier. It differs from DeepSeek in ways the client must absorb:
``/v1`` in the base URL, no ``prompt_cache_*`` fields, no usage at all on streams, no
``/user/balance``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgesdk.cloud import AsyncChatClient, ChatClient
from edgesdk.errors import CloudBadRequest, CloudTimeout, EdgeSDKError

pytestmark = pytest.mark.integration

MSGS = [{"role": "system", "content": "You are a helpful assistant. Answer briefly."},
        {"role": "user", "content": "What is the capital of France?"}]


def _model_path() -> Path:
    from edgesdk.catalog import Catalog

    try:
        return Catalog().locate("smollm2-135m-instruct")
    except EdgeSDKError as exc:
        pytest.skip(f"SmolLM2 not available ({exc}); run: edgesdk models fetch")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for module in ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} missing; install with: pip install 'edgesdk[server]'")
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(_model_path()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"],
        stdout=log, stderr=subprocess.STDOUT)  # a file: llama.cpp logs would fill a pipe
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited: {err}")
            try:
                if httpx.get(url + "/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        else:
            pytest.fail("llama_cpp.server did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_edge_tier_plain_answer_with_server_usage(llama_server: str) -> None:
    with ChatClient(base_url=llama_server, api_key=None, model="smollm2", tier="edge") as c:
        r = c.chat(MSGS, deadline=time.monotonic() + 240, max_tokens=12, temperature=0)
        assert "smollm2-135m" in c.models()[0].lower()
    assert r.text.strip() and r.tier == "edge" and r.attempts == 1
    assert r.finish_reason in ("stop", "length") and not r.usage_estimated
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.prompt_cache_hit_tokens == 0  # llama.cpp reports no cache fields
    assert (r.cost.amount, r.cost.currency) == (0.0, "USD")  # self-hosted: not in price table


def test_stream_deltas_and_estimated_usage(llama_server: str) -> None:
    deltas: list[str] = []
    with ChatClient(base_url=llama_server, api_key=None, model="smollm2", tier="edge") as c:
        r = c.chat(MSGS, deadline=time.monotonic() + 240, max_tokens=12, temperature=0,
                   on_delta=deltas.append)
    assert len(deltas) > 1 and "".join(deltas) == r.text and r.text.strip()
    assert r.usage_estimated and r.usage.completion_tokens > 0  # its streams carry no usage


def test_deepseek_model_name_is_priced_positive(llama_server: str) -> None:
    with ChatClient(base_url=llama_server, api_key=None, model="deepseek-chat") as c:
        r = c.chat(MSGS, deadline=time.monotonic() + 240, max_tokens=8)
    assert r.model == "deepseek-chat" and r.cost.amount > 0


def test_async_client(llama_server: str) -> None:
    async def go() -> str:
        async with AsyncChatClient(base_url=llama_server, api_key=None, model="smollm2",
                                   tier="edge") as c:
            got: list[str] = []
            r = await c.chat(MSGS, deadline=time.monotonic() + 240, max_tokens=8,
                             on_delta=got.append)
            assert "".join(got) == r.text
            return r.text

    assert asyncio.run(go()).strip()


def test_no_balance_endpoint_and_deadline(llama_server: str) -> None:
    with ChatClient(base_url=llama_server, api_key=None, model="smollm2", tier="edge") as c:
        with pytest.raises(CloudBadRequest, match="404"):
            c.balance()
        deadline = time.monotonic() + 0.3
        with pytest.raises(CloudTimeout):
            c.chat([{"role": "user", "content": "Write a long story about a dragon."}],
                   deadline=deadline, max_tokens=2000)
        assert time.monotonic() < deadline
