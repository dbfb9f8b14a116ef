"""Per-request overhead of the edge server over calling the Assistant directly, in one run.

One Assistant is loaded once and served in-process on 127.0.0.1; the same questions are asked
directly and through HTTP, interleaved (direct, raw httpx, ChatClient, streamed) so machine
load hits every path alike. Two numbers per request over HTTP:

* ``overhead_ms`` = client wall time − the Assistant's own ``latency_ms`` (reported by the
  server in the ``edgesdk`` extension of the same response): exactly what serving adds —
  JSON, HTTP, threads, the deadline guard — independent of how long the model took;
* the medians of direct vs HTTP wall time, as a cross-check.

The skill path (arithmetic, no model) shows the floor; the LLM path a real generation (the
few-shot prefix is cached, so it is short). Writes JSON and prints a Markdown table.

    .venv/bin/python scripts/bench_edge.py --profile phone --rounds 15 --out out/edge-overhead.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from edgesdk.assistant import Assistant
from edgesdk.bridge.backend import AnswerStreamLike, AssistantBackend
from edgesdk.bridge.openai_server import EdgeConfig, EdgeServer
from edgesdk.cloud import ChatClient
from edgesdk.local.prompts import cloud_messages
from edgesdk.types import Answer, Mode, Percept

PATHS = {"skill": "What is 17 times 23?", "llm": "What is the capital of France?"}


class Recorder:
    """A backend that remembers the last Answer it returned (for the ChatClient rows)."""

    def __init__(self, inner: AssistantBackend) -> None:
        self.inner = inner
        self.last: Answer | None = None

    def ask(self, question: str, *, image: bytes | None = None, audio: bytes | None = None,
            mode: Mode | None = None, stream: bool = False,
            deadline_s: float | None = None) -> Answer | AnswerStreamLike:
        result = self.inner.ask(question, image=image, audio=audio, mode=mode, stream=stream,
                                deadline_s=deadline_s)
        if isinstance(result, Answer):
            self.last = result
        return result

    def perceive(self, *, image: bytes | None = None,
                 audio: bytes | None = None) -> Sequence[Percept]:
        return self.inner.perceive(image=image, audio=audio)

    def feedback(self, answer_or_id: Answer | str, *, good: bool,
                 correction: str | None = None) -> object:
        return self.inner.feedback(answer_or_id, good=good, correction=correction)

    def stats(self) -> BaseModel:
        return self.inner.stats()


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 2) if xs else float("nan")


def _has_text(line: str) -> bool:
    return '"content": "' in line and '"content": ""' not in line


def run(profile: str, rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {"profile": profile, "rounds": rounds, "paths": {}}
    assistant = Assistant(profile=profile, tiers=[])
    recorder = Recorder(AssistantBackend(assistant=assistant))
    with assistant, EdgeServer(backend=recorder, model=assistant.llm.model_id,
                               config=EdgeConfig(port=0, profile=profile)) as server, \
            httpx.Client(timeout=120) as http, ChatClient(
                base_url=server.url, api_key=None, model=assistant.llm.model_id,
                tier="edge") as client:
        results["model"] = assistant.llm.model_id
        for path, question in PATHS.items():
            messages = cloud_messages(question)
            body = {"model": assistant.llm.model_id, "messages": messages}
            for _ in range(2):  # warm-up: prefix cache, connections
                assistant.ask(question)
                http.post(f"{server.url}/chat/completions", json=body)
            rows: dict[str, list[float]] = {k: [] for k in (
                "direct_ms", "http_ms", "http_overhead_ms", "chat_client_ms",
                "chat_client_overhead_ms", "stream_first_chunk_ms", "stream_total_ms")}
            for _ in range(rounds):
                t = time.perf_counter()
                assistant.ask(question)
                rows["direct_ms"].append((time.perf_counter() - t) * 1000)

                t = time.perf_counter()
                resp = http.post(f"{server.url}/chat/completions", json=body)
                wall = (time.perf_counter() - t) * 1000
                resp.raise_for_status()
                rows["http_ms"].append(wall)
                rows["http_overhead_ms"].append(wall - resp.json()["edgesdk"]["latency_ms"])

                t = time.perf_counter()
                result = client.chat(messages, deadline=time.monotonic() + 120)
                rows["chat_client_ms"].append((time.perf_counter() - t) * 1000)
                assert recorder.last is not None  # the answer the server just sent
                rows["chat_client_overhead_ms"].append(
                    rows["chat_client_ms"][-1] - recorder.last.latency_ms)
                assert result.text

                t = time.perf_counter()
                first: float | None = None
                with http.stream("POST", f"{server.url}/chat/completions",
                                 json={**body, "stream": True}) as stream:
                    for line in stream.iter_lines():
                        if first is None and _has_text(line):
                            first = (time.perf_counter() - t) * 1000
                rows["stream_total_ms"].append((time.perf_counter() - t) * 1000)
                rows["stream_first_chunk_ms"].append(first if first is not None else float("nan"))
            results["paths"][path] = {"question": question,
                                      **{k: _median(v) for k, v in rows.items()}}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="watch")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("out/edge-overhead.json"))
    args = parser.parse_args()
    results = run(args.profile, args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"profile {results['profile']} ({results['model']}), {results['rounds']} rounds, "
          "medians in ms\n")
    cols = ["direct_ms", "http_ms", "http_overhead_ms", "chat_client_ms",
            "chat_client_overhead_ms", "stream_first_chunk_ms", "stream_total_ms"]
    print("| path | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for path, row in results["paths"].items():
        print(f"| {path} | " + " | ".join(f"{row[c]:.2f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
