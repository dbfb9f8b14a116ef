"""The real llama.cpp runtime on the real SmolLM2 and Gemma files, and `edgesdk ask` end to end."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import pytest

from edgesdk.errors import ContextOverflow
from edgesdk.local.llm import LlamaCppLLM
from edgesdk.local.prompts import qa_prompt, stop_for
from tests.conftest import REAL_HOME

pytestmark = pytest.mark.integration
MODELS = ("smollm2-135m-instruct", "gemma3-270m")


@pytest.fixture(scope="module", params=MODELS)
def llm(request, real_catalog):
    model = LlamaCppLLM.load(request.param, catalog=real_catalog, n_ctx=512, threads=2)
    yield model
    model.close()


def test_generation_carries_per_token_evidence(llm: LlamaCppLLM) -> None:
    gen = llm.generate(qa_prompt(llm.prompt_style, "What is the capital of France?"),
                       max_tokens=16, stop=stop_for(llm.prompt_style))
    assert gen.text.strip()
    n = gen.completion_tokens
    assert n >= 1
    ev = gen.evidence
    assert len(ev.logprobs) == len(ev.entropies) == len(ev.margins) == n
    assert all(lp <= 1e-6 and math.isfinite(lp) for lp in gen.evidence.logprobs)
    assert all(e >= 0 for e in gen.evidence.entropies)
    assert gen.timings.first_token_ms > 0


def test_stream_equals_generate_and_prefix_cache_hits(llm: LlamaCppLLM) -> None:
    prompt = qa_prompt(llm.prompt_style, "Who wrote Hamlet?")
    first = llm.generate(prompt, max_tokens=12, stop=stop_for(llm.prompt_style))
    stream = llm.stream(prompt, max_tokens=12, stop=stop_for(llm.prompt_style))
    assert "".join(stream) == first.text
    other = llm.generate(qa_prompt(llm.prompt_style, "Who painted the Mona Lisa?"),
                         max_tokens=12, stop=stop_for(llm.prompt_style))
    # the few-shot prefix is byte-stable, so llama.cpp reuses it
    assert other.cached_prompt_tokens >= 0.6 * other.prompt_tokens


def test_context_overflow_is_explicit(llm: LlamaCppLLM) -> None:
    with pytest.raises(ContextOverflow, match="Shorten the question"):
        llm.generate("word " * 2000, max_tokens=8)


def test_max_tokens_is_clipped_to_the_room_left(llm: LlamaCppLLM) -> None:
    prompt = "count: " + "1 2 3 " * 40
    n_prompt = len(llm.tokenize(prompt))
    gen = llm.generate(prompt, max_tokens=10_000, evidence=False)
    assert gen.prompt_tokens == n_prompt
    assert gen.completion_tokens <= llm.n_ctx - n_prompt


def test_deadline_stops_decoding(llm: LlamaCppLLM) -> None:
    started = time.monotonic()
    gen = llm.generate("Once upon a time", max_tokens=400, deadline=time.monotonic() + 0.05)
    assert gen.finish_reason in ("deadline", "stop")
    assert time.monotonic() - started < 3.0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGESDK_HOME": str(REAL_HOME)}
    env.pop("DEEPSEEK_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "edgesdk.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_cli_ask_skill(real_catalog) -> None:
    proc = _cli("ask", "What is 17 times 23?", "--json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["tier"] == "device" and "391" in answer["text"] and answer["confidence"] == 1.0
    assert answer["confidence_known"]
    plain = _cli("ask", "What is 17 times 23?")
    assert "391" in plain.stdout and "[device · confidence 1.00 · " in plain.stderr


def test_cli_says_when_a_confidence_was_not_measured(real_catalog) -> None:
    # an open request is a kind the router was not fitted on: shown offline, with no confidence
    proc = _cli("ask", "Write one short sentence about the sea.", "--mode", "only-on-device",
                "--profile", "watch")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "[device · confidence not measured · " in proc.stderr
    assert "kind open" in proc.stderr


@pytest.mark.parametrize("profile", ["phone", "watch"])
def test_cli_ask_real_model_only_on_device(real_catalog, profile: str) -> None:
    proc = _cli("ask", "The capital of France is", "--mode", "only-on-device", "--json",
                "--profile", profile)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    fields = {"text", "tier", "confidence", "escalated", "reasons", "latency_ms", "usage", "cost",
              "percepts", "trace"}
    assert fields <= set(answer)
    assert answer["tier"] == "device" and answer["source"] == "llm" and answer["text"]
    assert 0.0 <= answer["confidence"] <= 1.0
    assert answer["usage"]["completion_tokens"] >= 1


def test_cli_errors_are_one_line_without_traceback(real_catalog) -> None:
    for args, code in ((["ask", ""], 2), (["ask", "hi", "--profile", "toaster"], 1),
                       (["ask", "hi", "--model", "nope"], 1), (["ask", "x" * 5000], 2)):
        proc = _cli(*args)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr.startswith("edgesdk: error:") and "Traceback" not in proc.stderr


def test_smollm2_with_a_gemma_peer_uses_the_peer_scorer(real_catalog) -> None:
    from edgesdk.assistant import Assistant
    from edgesdk.config import Settings

    with Assistant(profile="edge", model="smollm2-135m-instruct", peer="gemma3-270m",
                   settings=Settings(home=REAL_HOME), catalog=real_catalog, tiers=[],
                   mode="only-on-device") as a:
        answer = a.ask("What is the capital of Italy?")
    assert "peer_llm" in [s.step for s in answer.trace]
    assert any("peer gemma3-270m agreement" in r for r in answer.reasons)


def test_a_profile_can_turn_on_the_peer(real_catalog) -> None:
    from edgesdk.assistant import Assistant
    from edgesdk.config import Settings
    from edgesdk.devices import get_profile

    edge = get_profile("edge")
    custom = type(edge).model_validate({**edge.model_dump(), "llm": "smollm2-135m-instruct",
                                        "peer_llm": "gemma3-270m"})
    with Assistant(profile=custom, settings=Settings(home=REAL_HOME), catalog=real_catalog,
                   tiers=[], mode="only-on-device") as a:
        answer = a.ask("What is the capital of Italy?")
    assert "peer_llm" in [s.step for s in answer.trace]
    assert any("peer gemma3-270m agreement" in r for r in answer.reasons)


def test_a_profile_can_turn_on_the_probe(real_catalog) -> None:
    from edgesdk.assistant import Assistant
    from edgesdk.config import Settings
    from edgesdk.devices import get_profile

    glasses = get_profile("glasses")
    custom = type(glasses).model_validate({**glasses.model_dump(), "router_probe": True})
    with Assistant(profile=custom, settings=Settings(home=REAL_HOME), catalog=real_catalog,
                   tiers=[], mode="only-on-device") as a:
        answer = a.ask("The capital of Italy is")
        probe = a.router.calibration.signal("probe")  # type: ignore[attr-defined]
        hidden = probe.hidden  # type: ignore[union-attr]
    assert answer.source == "llm"
    assert any("hidden-state probe logit" in r for r in answer.reasons), answer.reasons
    assert hidden is not None and hidden._closed  # closed with the Assistant
    assert hidden._own_model is None  # it read the generating model's weights, not a 2nd load


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return int(fh.read().split("VmRSS:")[1].split()[0]) / 1024


def test_probe_shares_the_weights_and_reads_the_same_states(llm: LlamaCppLLM) -> None:
    import llama_cpp
    import numpy as np

    from edgesdk.errors import ModelLoadError
    from edgesdk.local.probe import LlamaHiddenStates
    from edgesdk.routing.hidden import probe_text

    before = _rss_mb()
    shared = LlamaHiddenStates(llama=llm.raw, threads=2, n_ctx=256)
    a = np.array(shared.state("The capital of Peru is", "Lima"))
    grown = _rss_mb() - before
    own = LlamaHiddenStates(model_path=llm.path, threads=2, n_ctx=256)
    b = np.array(own.state("The capital of Peru is", "Lima"))
    own.close()
    # the reference: llama-cpp-python's public embedding path on a load of its own
    ref = llama_cpp.Llama(model_path=str(llm.path), embedding=True, n_ctx=256, n_threads=2,
                          verbose=False, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST)
    c = np.asarray(ref.embed(probe_text("The capital of Peru is", "Lima")), dtype=np.float32)
    ref.close()
    assert a.shape == c.ravel().shape and np.allclose(a, b) and np.allclose(a, c.ravel(),
                                                                           atol=1e-4)
    # a second load of the GGUF costs 1.3-2.2x its size (measured); the shared context ~0.13x
    assert grown < 0.5 * llm.path.stat().st_size / 1e6, grown
    # generation still works beside it, and a closed probe refuses instead of crashing
    assert llm.generate(qa_prompt(llm.prompt_style, "What is 2 + 2?"), max_tokens=4,
                        stop=stop_for(llm.prompt_style)).text.strip()
    shared.close()
    with pytest.raises(ModelLoadError, match="closed"):
        shared.state("q", "a")


def test_a_profile_peer_without_a_peer_calibration_is_refused(real_catalog) -> None:
    from edgesdk.assistant import Assistant
    from edgesdk.config import Settings
    from edgesdk.devices import get_profile
    from edgesdk.errors import CalibrationError

    edge = get_profile("edge")
    custom = type(edge).model_validate({**edge.model_dump(), "peer_llm": "smollm2-135m-instruct"})
    with pytest.raises(CalibrationError, match="no scorer for the peer"):
        Assistant(profile=custom, settings=Settings(home=REAL_HOME), catalog=real_catalog,
                  tiers=[], mode="only-on-device")


def test_online_recalibration_is_opt_in_on_the_default_router(real_catalog) -> None:
    from edgesdk.assistant import Assistant
    from edgesdk.config import Settings

    for online in (False, True):
        with Assistant(profile="watch", online=online, settings=Settings(home=REAL_HOME),
                       catalog=real_catalog, tiers=[]) as a:
            assert (a.router.online is not None) is online  # type: ignore[attr-defined]
