"""The edge server: OpenAI wire format over raw httpx, errors and limits, and a glasses-side
Assistant using a phone-side Assistant as its edge tier through the real ChatClient (fake LLMs
on both sides, real sockets on 127.0.0.1)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from edgesdk.assistant import Assistant
from edgesdk.bridge.backend import BridgeBackend, FakeBackend
from edgesdk.bridge.openai_server import EdgeConfig, EdgeServer
from edgesdk.cloud.tier import build_tier
from edgesdk.config import Settings
from edgesdk.device_path import DECLINED_TEXT
from edgesdk.devices import get_profile
from edgesdk.errors import CloudUnavailable, ConfigError
from edgesdk.local.llm import LocalLLM
from edgesdk.local.prompts import cloud_messages
from edgesdk.types import Generation, Mode, Percept, RouteDecision, SkillResult
from tests.fakes import FakeLLM, FakeRouter, FakeTier
from tests.unit.bridge_helpers import BrokenStreamBackend, HangingBackend

TOKEN = "edge-token-0123456789abcdef"


class ThresholdRouter(FakeRouter):
    """Stay when exp(min log-prob) >= threshold (accepts the policy ``state`` if given)."""

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__(threshold=threshold)

    def prior(self, question: str) -> float | None:
        return None

    def blocked(self, question: str, mode: Mode, state: Any = None) -> str | None:
        return "mode only-on-device" if mode == "only-on-device" else None

    def decide(self, *, question: str, generation: Generation | None, skill: SkillResult | None,
               percepts: Sequence[Percept], mode: Mode, state: Any = None,
               peer: Generation | None = None) -> RouteDecision:
        if "pens" in question:  # a kind this router was not fitted on: no confidence
            return RouteDecision(action="escalate", confidence=0.0, threshold=self.threshold,
                                 reasons=("kind math_word: not fitted; fail safe",),
                                 confidence_known=False)
        conf = math.exp(min(generation.evidence.logprobs)) if generation else 0.0
        return RouteDecision(action="stay" if conf >= self.threshold else "escalate",
                             confidence=conf, threshold=self.threshold,
                             reasons=(f"conf {conf:.2f}",))


def phone(tmp_path: Path, *, answers: dict[str, tuple[str, float]] | None = None,
          tiers: Sequence[Any] = (), declines: bool = True) -> Assistant:
    llm = FakeLLM(answers if answers is not None else {
        "capital of France": ("Paris", -0.05),
        "sign": ("It says EXIT", -0.1),
        "moon": ("cheese", -4.0),
        "blank": ("", -0.1),
        "pens": ("12 dollars", -0.2),
    }, model_id="gemma3-270m")
    router = ThresholdRouter()
    if not declines:  # the router's floor (Router.for_model takes the profile's)
        router.refuse_below = None
    return Assistant(profile=get_profile("phone"), settings=Settings(home=tmp_path / "phone"),
                     llm=cast(LocalLLM, llm),  # FakeLLM.prompt_style is a plain str
                     tiers=list(tiers), router=router)


def glasses(tmp_path: Path, url: str, *, token: str | None = None,
            own: tuple[str, float] = ("dunno", -5.0)) -> Assistant:
    from pydantic import SecretStr

    llm = FakeLLM({"": own}, model_id="smollm2-135m-instruct")
    edge = build_tier(name="edge", tier="edge", base_url=url, model="gemma3-270m",
                      api_key=SecretStr(token) if token else None)
    return Assistant(profile="glasses", settings=Settings(home=tmp_path / "glasses"),
                     llm=cast(LocalLLM, llm), tiers=[edge], router=ThresholdRouter())


@contextmanager
def serving(backend: BridgeBackend | Assistant, **config: Any) -> Iterator[EdgeServer]:
    cfg = EdgeConfig(port=0, profile="phone", **config)
    if isinstance(backend, Assistant):
        server = EdgeServer.for_assistant(backend, config=cfg)
    else:
        server = EdgeServer(backend=backend, model="fake", config=cfg)
    with server:
        yield server


def chat_body(question: str, **extra: Any) -> dict[str, Any]:
    return {"model": "anything", "messages": cloud_messages(question), **extra}


def sse_data(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


# --------------------------------------------------------------------------- wire format


def test_completion_in_openai_format_with_the_edgesdk_extension(tmp_path: Path) -> None:
    with phone(tmp_path) as a, serving(a) as server:
        resp = httpx.post(f"{server.url}/chat/completions",
                          json=chat_body("What is the capital of France?"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "gemma3-270m" and isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Paris"}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == 20 and usage["completion_tokens"] == 1
    assert usage["total_tokens"] == 21
    ext = body["edgesdk"]
    assert ext["tier"] == "device" and not ext["escalated"] and ext["confidence"] > 0.9
    assert ext["reasons"] and ext["profile"] == "phone"


def test_paths_without_v1_and_models_and_health(tmp_path: Path) -> None:
    with phone(tmp_path) as a, serving(a, token=TOKEN) as server:
        base = server.url.removesuffix("/v1")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        plain = httpx.post(f"{base}/chat/completions", headers=auth,
                           json=chat_body("What is the capital of France?"))
        models = httpx.get(f"{server.url}/models", headers=auth).json()
        health = httpx.get(f"{base}/health")  # no token: liveness probes need none
    assert plain.status_code == 200
    assert models["object"] == "list" and models["data"][0]["id"] == "gemma3-270m"
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["model"] == "gemma3-270m"


def test_streaming_sends_chunks_usage_on_the_last_then_done(tmp_path: Path) -> None:
    with phone(tmp_path, answers={"sign": ("It says EXIT", -0.1)}) as a, serving(a) as server:
        resp = httpx.post(f"{server.url}/chat/completions",
                          json=chat_body("What does the sign say?", stream=True))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    data = sse_data(resp.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "It says EXIT"
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"]["completion_tokens"] == 3 and last["edgesdk"]["tier"] == "device"
    assert all("usage" not in c for c in chunks[:-1])


def test_percept_block_reaches_the_phone_as_one_line(tmp_path: Path) -> None:
    with phone(tmp_path) as a, serving(a) as server:
        messages = cloud_messages("What does the sign say?", ['Text in view: "EXIT"'])
        resp = httpx.post(f"{server.url}/chat/completions",
                          json={"model": "m", "messages": messages})
        prompt = a.llm.prompts[-1]  # type: ignore[attr-defined]
    assert resp.status_code == 200
    asked = prompt.rsplit("Q:", 1)[-1]
    assert asked.count("\n") == 1  # only the "\nA:" the prompt adds
    assert 'Text in view: "EXIT"' in asked and "Question: What does the sign say?" in asked


def test_content_parts_are_read_and_images_refused(tmp_path: Path) -> None:
    with phone(tmp_path) as a, serving(a) as server:
        parts = httpx.post(f"{server.url}/chat/completions", json={"model": "m", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "capital of France?"}]}]})
        image = httpx.post(f"{server.url}/chat/completions", json={"model": "m", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]})
    assert parts.json()["choices"][0]["message"]["content"] == "Paris"
    assert image.status_code == 400 and "text only" in image.json()["error"]["message"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"{not json", 400, "malformed_json"),
    (b"[]", 400, "invalid_request"),
    (b'{"model": "m", "messages": []}', 400, "invalid_request"),
    (b'{"model": "m", "messages": [{"role": "system", "content": "x"}]}', 400,
     "invalid_request"),
    (b'{"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}', 400,
     "invalid_request"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "  "}]}', 400,
     "empty_question"),
    (b'{"model": "m", "edgesdk": {"mode": "sideways"}, "messages": [{"role": "user", '
     b'"content": "x"}]}', 400, "invalid_request"),
])
def test_bad_requests_get_openai_error_bodies(body: bytes, status: int, code: str) -> None:
    with serving(FakeBackend()) as server:
        resp = httpx.post(f"{server.url}/chat/completions", content=body,
                          headers={"Content-Type": "application/json"})
    assert resp.status_code == status
    err = resp.json()["error"]
    assert err["code"] == code and err["type"] == "invalid_request_error"
    assert err["message"] and "param" in err


@pytest.mark.parametrize(("code", "status", "kind"), [
    ("cloud_unavailable", 503, "server_error"),
    ("deadline_exceeded", 504, "server_error"),
    ("model_load_error", 503, "server_error"),
    ("input_too_long", 400, "invalid_request_error"),
])
def test_sdk_errors_map_to_statuses(code: str, status: int, kind: str) -> None:
    with serving(FakeBackend()) as server:
        resp = httpx.post(f"{server.url}/chat/completions", json=chat_body(f"raise:{code}"))
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["type"] == kind


def test_stream_errors_before_and_after_the_first_chunk() -> None:
    with serving(FakeBackend()) as server:
        early = httpx.post(f"{server.url}/chat/completions",
                           json=chat_body("raise:cloud_unavailable", stream=True))
    with serving(BrokenStreamBackend(CloudUnavailable("the runtime died"))) as server:
        late = httpx.post(f"{server.url}/chat/completions", json=chat_body("hi", stream=True))
    assert early.status_code == 503  # nothing streamed yet: a plain JSON error
    assert early.json()["error"]["code"] == "cloud_unavailable"
    assert late.status_code == 200
    data = sse_data(late.text)
    assert "[DONE]" not in data
    assert json.loads(data[-1])["error"]["code"] == "cloud_unavailable"
    assert "partial " in late.text


def test_token_limits_routes_and_methods() -> None:
    with serving(FakeBackend(), token=TOKEN, max_body_bytes=1000) as server:
        url = f"{server.url}/chat/completions"
        missing = httpx.post(url, json=chat_body("hi"))
        wrong = httpx.post(url, json=chat_body("hi"), headers={"Authorization": "Bearer nope"})
        auth = {"Authorization": f"Bearer {TOKEN}"}
        ok = httpx.post(url, json=chat_body("hi"), headers=auth)
        big = httpx.post(url, json=chat_body("x" * 5000), headers=auth)
        after_big = httpx.post(url, json=chat_body("hi"), headers=auth)
        nowhere = httpx.get(f"{server.url}/nowhere", headers=auth)
        get_chat = httpx.get(url, headers=auth)
        health = httpx.get(f"{server.url}/health").json()
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    assert TOKEN not in missing.text and "www-authenticate" in missing.headers
    assert ok.status_code == 200
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    assert after_big.status_code == 200
    assert nowhere.status_code == 404 and get_chat.status_code == 405
    assert health["errors"]["unauthorized"] == 2 and health["errors"]["body_too_large"] == 1


def test_deadline_from_the_extension_bounds_the_wait() -> None:
    backend = HangingBackend()
    with serving(backend, grace_s=0.1) as server:
        started = time.monotonic()
        resp = httpx.post(f"{server.url}/chat/completions",
                          json=chat_body("hi", edgesdk={"deadline_s": 0.3}))
        elapsed = time.monotonic() - started
        backend.release.set()
    assert resp.status_code == 504 and resp.json()["error"]["code"] == "deadline_exceeded"
    assert elapsed < 5


def test_busy_when_every_slot_is_taken() -> None:
    backend = HangingBackend()
    with serving(backend, max_in_flight=1, grace_s=0.1) as server:
        import threading

        first = threading.Thread(target=lambda: httpx.post(
            f"{server.url}/chat/completions", json=chat_body("hi", edgesdk={"deadline_s": 5})))
        first.start()
        assert backend.entered.acquire(timeout=5)
        second = httpx.post(f"{server.url}/chat/completions", json=chat_body("hi"))
        backend.release.set()
        first.join(10)
    assert second.status_code == 503 and second.headers["retry-after"] == "1"
    assert second.json()["error"]["code"] == "busy"


def test_remote_bind_needs_allow_remote() -> None:
    with pytest.raises(ConfigError, match="allow-remote"):
        EdgeConfig(host="0.0.0.0")
    assert EdgeConfig(host="0.0.0.0", allow_remote=True).allow_remote
    with pytest.raises(ConfigError):
        EdgeConfig(token=" padded ")


def test_cli_refuses_a_remote_host_before_loading_models(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    from edgesdk.cli import main

    assert main(["serve-edge", "--host", "0.0.0.0", "--port", "0"]) == 1
    assert "--allow-remote" in capsys.readouterr().err


# --------------------------------------------------------------------------- as a tier


def test_glasses_escalate_to_the_phone_through_chat_client(tmp_path: Path) -> None:
    with phone(tmp_path) as p, serving(p, token=TOKEN) as server, \
            glasses(tmp_path, server.url, token=TOKEN) as g:
        answer = g.ask("What is the capital of France?")
    assert answer.tier == "edge" and answer.escalated and answer.text == "Paris"
    assert answer.model == "gemma3-270m" and answer.device_text == "dunno"
    assert answer.usage.prompt_tokens == 20
    assert any("answered by edge (gemma3-270m)" in r for r in answer.reasons)
    assert round(math.exp(-0.05), 4) == answer.confidence  # the phone's own (4 places)
    assert answer.confidence_known


def test_a_confidence_the_phone_could_not_measure_stays_unmeasured_on_the_glasses(
        tmp_path: Path) -> None:
    question = "Tom buys 12 pens at 3 for 2 dollars. How much does he pay?"
    with phone(tmp_path) as p, serving(p) as server:
        mine = p.ask(question)
        with glasses(tmp_path, server.url) as g:
            answer = g.ask(question)
            streamed = g.ask(question, stream=True)
            list(streamed)
    # shown by the phone, which has no upper tier, as it is: a placeholder 0.0, marked so
    assert mine.text == "12 dollars" and (mine.confidence, mine.confidence_known) == (0.0, False)
    assert answer.tier == "edge" and answer.text == "12 dollars"
    assert (answer.confidence, answer.confidence_known) == (0.0, False)
    assert not answer.declined  # an unknown confidence is not a known-low one
    assert (streamed.answer.confidence, streamed.answer.confidence_known) == (0.0, False)


def test_the_phones_doubt_reaches_the_glasses(tmp_path: Path) -> None:
    with phone(tmp_path) as p, serving(p) as server:
        with glasses(tmp_path, server.url) as g:
            answer = g.ask("Is the moon made of cheese?")
            stream = g.ask("Is the moon made of cheese?", stream=True)
            deltas = list(stream)
        # the glasses' own answer (0.37) is above their refusal floor, below their threshold
        with glasses(tmp_path, server.url, own=("green cheese", -1.0)) as g:
            own = g.ask("Is the moon made of cheese?")
        with httpx.stream("POST", f"{server.url}/chat/completions",
                          json=chat_body("Is the moon made of cheese?", stream=True)) as resp:
            events = [json.loads(line[6:]) for line in resp.iter_lines()
                      if line.startswith("data: {")]
    # the phone's "cheese" is below its refusal floor and it has no upper tier: it declines, and
    # marks the chunk of that sentence before it, so the glasses can withhold it
    text_chunks = [e for e in events if e["choices"][0]["delta"].get("content")]
    assert [e["choices"][0]["delta"]["content"] for e in text_chunks] == [DECLINED_TEXT]
    assert text_chunks[0]["edgesdk"] == {"declined": True}
    assert events[-1]["edgesdk"]["declined"] is True
    # the glasses' own "dunno" (0.007) is below their floor too: declined on the glasses, once
    assert answer.tier == "device" and answer.text == DECLINED_TEXT and answer.declined
    assert answer.device_text == "dunno"
    assert any("edge declined: not sure enough to answer" in r for r in answer.reasons)
    assert deltas == [DECLINED_TEXT]
    assert stream.answer is not None and stream.answer.declined
    assert stream.answer.reasons == answer.reasons
    # the phone's doubt does not hide an answer the glasses are sure enough of themselves
    assert own.tier == "device" and own.text == "green cheese" and not own.declined
    assert any("edge declined" in r for r in own.reasons)


def test_glasses_stream_the_phone_answer(tmp_path: Path) -> None:
    with phone(tmp_path) as p, serving(p) as server, glasses(tmp_path, server.url) as g:
        stream = g.ask("What does the sign say?", stream=True)
        deltas = list(stream)
    assert "".join(deltas) == "It says EXIT"
    assert stream.answer is not None and stream.answer.tier == "edge"


def test_phone_escalates_further_up_and_says_so(tmp_path: Path) -> None:
    cloud = FakeTier("cloud", text="No, it is rock")
    with phone(tmp_path, tiers=[cloud]) as p, serving(p) as server:
        resp = httpx.post(f"{server.url}/chat/completions",
                          json=chat_body("Is the moon made of cheese?"))
    body = resp.json()
    assert body["choices"][0]["message"]["content"] == "No, it is rock"
    assert body["edgesdk"]["tier"] == "cloud" and body["edgesdk"]["escalated"]
    assert body["model"] == "gemma3-270m" and body["edgesdk"]["answered_by"] == "fake-cloud"


@pytest.mark.parametrize("declines", [True, False])
def test_an_empty_phone_answer_never_reaches_the_glasses_as_an_answer(
        tmp_path: Path, declines: bool) -> None:
    with phone(tmp_path, declines=declines) as p, serving(p) as server, \
            glasses(tmp_path, server.url) as g:
        answer = g.ask("Say something blank")
        requests = httpx.get(f"{server.url}/health").json()["requests"]
    # either way the glasses fall back at once, to their own "dunno", declined as too unsure
    assert answer.tier == "device" and answer.declined and answer.device_text == "dunno"
    assert requests == 2  # one chat request (not retried) + this health probe
    if declines:  # the phone says it has nothing: a decline, a tier that did not answer
        assert any("edge declined" in r for r in answer.reasons), answer.reasons
    else:  # a phone that never declines would send an empty 200: refused with 422 instead
        assert any("edge failed: cloud_bad_request" in r for r in answer.reasons)


def test_the_edge_tier_calls_tools_in_the_openai_shape_streamed_or_not(tmp_path: Path) -> None:
    from edgesdk.testing.commands import load_command_tools

    tools = load_command_tools()
    with phone(tmp_path) as edge_assistant, serving(edge_assistant) as server:
        for stream in (False, True):
            client = build_tier(name="edge", tier="edge", base_url=server.url,
                                model="gemma3-270m", api_key=None)
            deltas: list[str] = []
            result = client.chat(cloud_messages("set a timer for ten minutes", tools=True),
                                 deadline=time.monotonic() + 10, tools=tools,
                                 tool_choice="auto", on_delta=deltas.append if stream else None)
            client.close()
            assert result.finish_reason == "tool_calls" and deltas == []
            fn = result.tool_calls[0]["function"]
            assert (fn["name"], json.loads(fn["arguments"])) == (
                "set_timer", {"duration_seconds": 600})
        # a device whose own call is unsure escalates to the phone, which makes it
        unsure = ThresholdRouter()
        unsure.call_threshold = 1.01
        with Assistant(profile="glasses", settings=Settings(home=tmp_path / "g"),
                       llm=cast(LocalLLM, FakeLLM()), router=unsure, tools=tools,
                       tiers=[build_tier(name="edge", tier="edge", base_url=server.url,
                                         model="gemma3-270m", api_key=None)]) as device:
            answer = device.ask("set a timer for ten minutes")
        assert (answer.tier, answer.tool_calls[0].name) == ("edge", "set_timer")
