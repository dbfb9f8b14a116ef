"""The stand-in server itself (over plain httpx, so its wire format is checked independently of
our client) and the ``edgesdk cloud`` / ``edgesdk stand-in`` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from edgesdk.cli import main
from edgesdk.errors import ConfigError
from edgesdk.testing.responders import ChatRequest, Reply, ScriptedResponder
from edgesdk.testing.standin import CACHE_UNIT, Fault, StandIn

SYSTEM = "You are a terse assistant on smart glasses. Answer in one sentence. " * 12


@pytest.fixture
def standin() -> Iterator[StandIn]:
    responder = ScriptedResponder(answers={"capital of France": "Paris."})
    with StandIn(responder=responder, api_key="k") as s:
        yield s


def post(s: StandIn, body: dict[str, object], path: str = "/chat/completions",
         key: str = "k") -> httpx.Response:
    return httpx.post(s.url + path, json=body, headers={"Authorization": f"Bearer {key}"})


def ask(q: str, model: str = "deepseek-chat", **kw: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "system", "content": SYSTEM},
                                         {"role": "user", "content": q}], **kw}


def test_chat_completion_shape_and_scripted_answer(standin: StandIn) -> None:
    r = post(standin, ask("What is the capital of France?"))
    assert r.status_code == 200
    obj = r.json()
    assert obj["object"] == "chat.completion" and len(obj["id"]) == 36
    assert obj["choices"][0]["message"]["content"] == "Paris."
    u = obj["usage"]
    assert u["prompt_tokens"] == u["prompt_cache_hit_tokens"] + u["prompt_cache_miss_tokens"]
    assert standin.count() == 1 and standin.requests[0].authorized


def test_context_cache_hits_by_prefix_in_64_token_units(standin: StandIn) -> None:
    first = post(standin, ask("Question one?")).json()["usage"]
    second = post(standin, ask("A different question?")).json()["usage"]
    assert first["prompt_cache_hit_tokens"] == 0
    hit = second["prompt_cache_hit_tokens"]
    assert hit > 0 and hit % CACHE_UNIT == 0
    assert hit <= second["prompt_tokens"] - 1  # the differing question never hits
    other: dict[str, object] = {
        "model": "deepseek-chat", "messages": [{"role": "user", "content": "x" + SYSTEM}]}
    assert post(standin, other).json()["usage"]["prompt_cache_hit_tokens"] == 0


def test_stream_wire_format(standin: StandIn) -> None:
    with httpx.stream("POST", standin.url + "/v1/chat/completions",
                      json=ask("capital of France?", model="deepseek-reasoner", stream=True),
                      headers={"Authorization": "Bearer k"}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert any(c["choices"][0]["delta"].get("reasoning_content") for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "usage" in chunks[-1]
    assert all("usage" not in c for c in chunks[:-1])


def test_auth_models_balance_and_unknown_routes(standin: StandIn) -> None:
    assert post(standin, ask("q"), key="wrong").status_code == 401
    assert httpx.get(standin.url + "/models").status_code == 401
    h = {"Authorization": "Bearer k"}
    models = httpx.get(standin.url + "/v1/models", headers=h).json()
    assert [m["id"] for m in models["data"]] == ["deepseek-chat", "deepseek-reasoner"]
    bal = httpx.get(standin.url + "/user/balance", headers=h).json()
    assert bal["is_available"] and bal["balance_infos"][0]["total_balance"] == "110.00"
    assert httpx.get(standin.url + "/nope", headers=h).status_code == 404
    assert post(standin, ask("q", model="gpt-9")).status_code == 400


def test_faults_are_consumed_in_order_and_429_sends_retry_after(standin: StandIn) -> None:
    standin.set_faults("429*1:retry-after=7", "503*1", "keep-alive")
    r1 = post(standin, ask("q"))
    assert (r1.status_code, r1.headers["retry-after"]) == (429, "7")
    assert r1.json()["error"]["type"] == "rate_limit_error"
    assert post(standin, ask("q")).status_code == 503
    assert post(standin, ask("q")).status_code == 200
    assert [r.faults for r in standin.requests] == [("429", "keep-alive"),
                                                    ("503", "keep-alive"), ("keep-alive",)]


def test_blank_lines_before_json_and_empty_body(standin: StandIn) -> None:
    standin.set_faults("blank-lines*1")
    body = post(standin, ask("q")).content
    assert body.startswith(b"\n") and json.loads(body)["choices"]
    standin.set_faults("empty-body*1")
    assert post(standin, ask("q")).content.strip() == b""


def test_fault_spec_parsing() -> None:
    f = Fault.parse("429*3:retry-after=0.5,delay=2")
    assert (f.kind, f.times, f.retry_after_s, f.delay_s) == ("429", 3, 0.5, 2.0)
    assert Fault.parse("hang").times is None
    with pytest.raises(ConfigError, match="unknown stand-in fault"):
        Fault.parse("explode")
    with pytest.raises(ConfigError, match="unknown fault option"):
        Fault.parse("503:colour=red")


def test_custom_responder_callable() -> None:
    def responder(req: ChatRequest) -> Reply:
        return Reply(text=req.question.upper(), finish_reason="length")

    with StandIn(responder=responder) as s:
        obj = post(s, ask("shout")).json()
    assert obj["choices"][0] == {"index": 0, "message": {"role": "assistant",
                                                         "content": "SHOUT"},
                                 "finish_reason": "length", "logprobs": None}


def test_cli_cloud_balance_models_and_prices(standin: StandIn, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "k")
    assert main(["cloud", "balance", "--cloud-url", standin.url]) == 0
    out = capsys.readouterr().out
    assert "CNY: 110.00" in out and "k" not in out.replace("topped", "").replace("ok", "")
    assert main(["cloud", "balance", "--cloud-url", standin.url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["is_available"] is True
    assert main(["cloud", "models", "--cloud-url", standin.url]) == 0
    assert "deepseek-reasoner" in capsys.readouterr().out
    assert main(["cloud", "prices", "--at", "2025-03-01"]) == 0
    assert "16:30-00:30 UTC x0.25" in capsys.readouterr().out
    monkeypatch.setenv("DEEPSEEK_API_KEY", "bad")
    assert main(["cloud", "balance", "--cloud-url", standin.url]) == 1
    assert "DEEPSEEK_API_KEY" in capsys.readouterr().err


def test_cli_stand_in_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgesdk.cli", "stand-in", "--port", "0", "--fault", "503*1"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "stand-in listening on http://127.0.0.1:" in line
        url = line.split()[3]
        body = ask("q")
        assert httpx.post(url + "/chat/completions", json=body).status_code == 503
        assert httpx.post(url + "/chat/completions", json=body).status_code == 200
    finally:
        proc.send_signal(2)  # SIGINT, like Ctrl-C
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 130 and "served 2 chat requests" in out


def test_cli_stand_in_stops_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "edgesdk.cli", "stand-in"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and "listening" in proc.stdout.readline()
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "served 0 chat requests" in out


def test_ctrl_c_stops_the_stand_in_even_when_the_parent_ignores_sigint() -> None:
    """A shell runs background jobs (``cmd &``, CI steps) with SIGINT ignored and children
    inherit it; Python then raises no KeyboardInterrupt unless the server asks for it."""
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "edgesdk.cli", "stand-in"],
                            stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.stdout is not None and "listening" in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "served 0 chat requests" in out
