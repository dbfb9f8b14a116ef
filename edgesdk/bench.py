"""On-device benchmark: speed, memory and cost, as ratios against baselines measured in the
same run.

Absolute numbers depend on the machine; ratios measured side by side do not (much). So every
headline figure here is a ratio against something measured in the same process, interleaved:
decode tokens/s of edgesdk's runtime vs plain llama-cpp-python on the same prompts
(``decode_ratio_vs_raw``), decode time with vs without per-token evidence capture
(``confidence_overhead``), measured decode speed vs the memory-bandwidth limit of this machine
(``bandwidth_efficiency``), and money with the router vs sending everything to the cloud
(``cost_ratio_vs_cloud``).
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.catalog import Catalog
from edgesdk.devices import PROFILES, get_profile
from edgesdk.local.llm import LlamaCppLLM
from edgesdk.types import Generation

BENCH_PROMPTS: tuple[str, ...] = (
    "Once upon a time, in a small village by the sea, there lived",
    "The three most important inventions of the twentieth century are",
    "Here is a short guide to keeping houseplants alive: first,",
)
Progress = Callable[[str], None]


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def measure_bandwidth(*, size_mb: int = 256, repeats: int = 5) -> float:
    """Sustained memory bandwidth in GB/s: a numpy streaming copy (read + write) of ``size_mb``."""
    src = np.ones(size_mb * 1024 * 1024 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - started)
    return 2 * src.nbytes / best / 1e9


def _plain_run(plain: Any, prompt: str, max_tokens: int) -> tuple[float, list[float]]:
    """(time to first token s, per-token intervals s) through plain llama-cpp-python.

    Uses ``Llama.generate`` token by token (detokenizing each token, as ``create_completion``
    does) and stamps each token once its text exists, as the edgesdk side stamps each streamed
    delta: ``create_completion``'s streamed chunks lag behind the tokens it has generated (it
    holds back text that could start a stop string), which would credit the baseline with
    intervals it did not measure.
    """
    import llama_cpp

    started = time.perf_counter()
    stamps: list[float] = []
    tokens = plain.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
    vocab = llama_cpp.llama_model_get_vocab(plain.model)
    generator = plain.generate(tokens, temp=0.0, top_k=40, top_p=0.95, min_p=0.05,
                               repeat_penalty=1.0, reset=True)
    for token in generator:
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        plain.detokenize([token])
        stamps.append(time.perf_counter())
        if len(stamps) >= max_tokens:
            break
    generator.close()
    first = stamps[0] - started if stamps else float("nan")
    return first, [b - a for a, b in itertools.pairwise(stamps)]


def _ours_run(ours: LlamaCppLLM, prompt: str, max_tokens: int,
              evidence: bool) -> tuple[float, list[float], Generation | None]:
    """(time to first token s, per-delta intervals s, the Generation) through edgesdk."""
    started = time.perf_counter()
    stamps: list[float] = []
    stream = ours.stream(prompt, max_tokens=max_tokens, evidence=evidence)
    for _delta in stream:
        stamps.append(time.perf_counter())
    first = stamps[0] - started if stamps else float("nan")
    return first, [b - a for a, b in itertools.pairwise(stamps)], stream.generation


def _rate(intervals: Sequence[float]) -> float | None:
    """Tokens/s from the median token interval (robust to a host's scheduling hiccups)."""
    return 1.0 / float(statistics.median(intervals)) if len(intervals) >= 4 else None


def bench_llm(model_id: str, *, catalog: Catalog, threads: int, repeats: int, max_tokens: int,
              progress: Progress) -> dict[str, Any]:
    """Interleaved runs of edgesdk's runtime (with and without evidence) and plain llama.cpp.

    Both sides drive the *same* ``llama_cpp.Llama`` instance (the one edgesdk loaded) through
    the same public ``generate`` call, so the ratio isolates what edgesdk's loop adds: on this
    VM two separately created instances of one model differ by up to ±4 % on their own, which
    would swamp a 1 % effect. The three variants run back to back on each prompt, who goes
    first rotates, and each run's rate is taken from its median token interval; the ratios are
    taken per such triple and then the median, so a slow moment hits all three alike.
    ``confidence_overhead`` is decode time with evidence over without, minus one. The mean
    rates (tokens / wall time) are reported too, as ``*_mean``.
    """
    manifest = catalog.manifest(model_id)
    started = time.perf_counter()
    ours = LlamaCppLLM.load(model_id, catalog=catalog, n_ctx=1024, threads=threads)
    load_s = time.perf_counter() - started
    plain = ours.raw
    kinds = ("evidence", "no_evidence", "plain")
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    mean_rates: dict[str, list[float]] = {k: [] for k in kinds}
    ttft: dict[str, list[float]] = {"evidence": [], "plain": []}
    prompt_rates: list[float] = []
    ratios: list[float] = []
    overheads: list[float] = []
    for rep in range(repeats):
        for i, prompt in enumerate(BENCH_PROMPTS):
            progress(f"{model_id}: repetition {rep + 1}/{repeats}, prompt {i + 1}")
            trio: dict[str, float] = {}
            for kind in kinds[rep % 3:] + kinds[:rep % 3]:  # rotate who goes first
                if kind == "plain":
                    first_s, intervals = _plain_run(plain, prompt, max_tokens)
                    ttft["plain"].append(first_s * 1000)
                else:
                    first_s, intervals, gen = _ours_run(ours, prompt, max_tokens,
                                                        evidence=kind == "evidence")
                    if kind == "evidence" and gen is not None:
                        ttft["evidence"].append(first_s * 1000)
                        fresh = gen.prompt_tokens - gen.cached_prompt_tokens
                        if fresh > 4 and gen.timings.prompt_ms > 0:
                            prompt_rates.append(fresh / (gen.timings.prompt_ms / 1000))
                rate = _rate(intervals)
                if rate is not None:
                    trio[kind] = rate
                    rates[kind].append(rate)
                    mean_rates[kind].append(len(intervals) / sum(intervals))
            if len(trio) == 3:  # paired: the three ran back to back on the same prompt
                ratios.append(trio["evidence"] / trio["plain"])
                overheads.append(trio["no_evidence"] / trio["evidence"] - 1.0)
    kernel = ours.evidence_kernel
    ours.close()
    med = {k: _median(v) for k, v in rates.items()}
    mean = {k: _median(v) for k, v in mean_rates.items()}
    return {
        "model": model_id,
        "file_bytes": manifest.size,
        "load_s": load_s,
        "ttft_ms": _median(ttft["evidence"]),
        "ttft_ms_plain": _median(ttft["plain"]),
        "prompt_tokens_per_s": _median(prompt_rates),
        "decode_tokens_per_s": med["evidence"],
        "decode_tokens_per_s_no_evidence": med["no_evidence"],
        "decode_tokens_per_s_plain": med["plain"],
        "decode_ratio_vs_raw": _median(ratios),
        "decode_ratio_vs_raw_mean": mean["evidence"] / mean["plain"],
        "confidence_overhead": _median(overheads),
        "confidence_overhead_mean": mean["no_evidence"] / mean["evidence"] - 1.0,
        "evidence_kernel": kernel,
        "pairs": len(ratios),
        "samples": {k: [round(x, 2) for x in v] for k, v in rates.items()},
    }


def rss_probe(profile_name: str) -> dict[str, Any]:
    """Run in a fresh process: build the profile's Assistant, answer a few questions, report
    the peak resident set size."""
    from edgesdk.assistant import Assistant

    profile = get_profile(profile_name)
    perception = None
    if profile.perceivers:
        from edgesdk.local.perceive import build_perceivers

        perception = build_perceivers(profile, catalog=Catalog())
    with Assistant(profile=profile, mode="only-on-device", tiers=[],
                   perception=perception) as assistant:
        for question in ("What is 17 times 23?", "Who wrote Hamlet?",
                         "What is the capital of Italy?"):
            assistant.ask(question)
    peak_mb = peak_rss_mb()
    return {"profile": profile_name, "peak_rss_mb": peak_mb,
            "budget_mb": profile.memory_budget_mb,
            "within_budget": peak_mb <= profile.memory_budget_mb}


def peak_rss_mb() -> float:
    """This process's peak resident set size (MB).

    ``VmHWM`` from /proc, not ``getrusage``: Linux carries ``ru_maxrss`` over fork+exec, so a
    probe started by a process that had models loaded would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_rss(profiles: Sequence[str], progress: Progress) -> list[dict[str, Any]]:
    rows = []
    for name in profiles:
        progress(f"peak RSS: profile {name}")
        proc = subprocess.run([sys.executable, "-m", "edgesdk.bench", "--rss-probe", name],
                              capture_output=True, text=True, timeout=600, env=os.environ.copy())
        if proc.returncode != 0:
            rows.append({"profile": name, "error": proc.stderr.strip()[-500:]})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def bench_router(model_id: str, profile_name: str, *, n: int = 2000) -> dict[str, Any]:
    """Router decision latency on realistic evidence (signals from a generation)."""
    from edgesdk.types import GenerationEvidence
    from edgesdk.wiring import default_router

    router = default_router(model_id, get_profile(profile_name))
    rng = np.random.default_rng(0)
    questions = ("Who wrote Hamlet?", "Is Paris in France?", "How many legs does a spider have?",
                 "A farmer has 12 cows and buys 7 more; how many now?")
    embed_ms = []
    for q in questions:  # once per question, before generation
        started = time.perf_counter()
        router.prepare(q)
        embed_ms.append((time.perf_counter() - started) * 1000)
    times = []
    for i in range(n):
        k = int(rng.integers(1, 12))
        gen = Generation(
            text="answer " * k, model_id=model_id, prompt_tokens=80, completion_tokens=k,
            finish_reason="stop",
            evidence=GenerationEvidence(
                logprobs=tuple(float(x) for x in -rng.exponential(0.7, k)),
                entropies=tuple(float(x) for x in rng.exponential(1.0, k)),
                margins=tuple(float(x) for x in rng.exponential(2.0, k))),
        )
        started = time.perf_counter()
        router.decide(question=questions[i % len(questions)], generation=gen, skill=None,
                      percepts=(), mode="prefer-on-device")
        times.append((time.perf_counter() - started) * 1000)
    return {"router_p50_ms": _pct(times, 50), "router_p99_ms": _pct(times, 99), "n": n,
            "question_embedding_ms": _pct(embed_ms[1:], 50) if len(embed_ms) > 1 else None}


def _sample_images() -> dict[str, Any]:
    from edgesdk.testing.media import photo

    return {name: photo(name) for name in ("astronaut", "chelsea", "coffee")}


def bench_perception(profile_name: str, *, catalog: Catalog, repeats: int,
                     progress: Progress) -> dict[str, Any]:
    """Per-perceiver latency p50/p95 over real photos (and a real speech clip if present)."""
    from edgesdk.local.perceive import build_perceivers

    profile = get_profile(profile_name)
    started = time.perf_counter()
    suite = build_perceivers(profile, catalog=catalog)
    load_s = time.perf_counter() - started
    timings: dict[str, list[float]] = {}
    images = _sample_images()
    for rep in range(repeats):
        for name, image in images.items():
            progress(f"perception: {name} ({rep + 1}/{repeats})")
            result = suite.perceive(image=image)
            for key, ms in result.timings.items():
                timings.setdefault(key, []).append(ms)
    return {
        "profile": profile_name,
        "load_s": load_s,
        "perceivers": {k: {"p50_ms": _pct(v, 50), "p95_ms": _pct(v, 95), "n": len(v)}
                       for k, v in sorted(timings.items())},
    }


def bench_end_to_end(model_id: str, profile_name: str, *, catalog: Catalog, repeats: int,
                     progress: Progress) -> dict[str, Any]:
    """End-to-end latency of answers that stay on the device vs escalations to a stand-in
    cloud on 127.0.0.1 (same Assistant, same questions)."""
    from edgesdk.assistant import Assistant
    from edgesdk.cloud.tier import build_tier
    from edgesdk.testing.standin import StandIn

    questions = ("Who wrote Hamlet?", "What is the capital of Italy?",
                 "What is 17 times 23?", "How many legs does a spider have?",
                 "Which river flows through Vienna?", "Is a tomato a fruit?",
                 "How many feet are in 3 meters?", "Who discovered penicillin?")
    device: list[float] = []
    escalated: list[float] = []
    with StandIn(trickle_s=0.0) as standin:
        tier = build_tier(name="cloud", tier="cloud", base_url=standin.url,
                          model="deepseek-chat", api_key=None)
        with Assistant(profile=profile_name, model=model_id, catalog=catalog,
                       tiers=[tier]) as assistant:
            for rep in range(repeats):
                for q in questions:
                    progress(f"end to end: {q} ({rep + 1}/{repeats})")
                    # the full path: skills, local model, router, and the tier when it escalates
                    answer = assistant.ask(q, mode="prefer-on-device")
                    (escalated if answer.escalated else device).append(answer.latency_ms)
    return {"device_p50_ms": _pct(device, 50), "device_p95_ms": _pct(device, 95),
            "escalated_p50_ms": _pct(escalated, 50), "escalated_p95_ms": _pct(escalated, 95),
            "device_ms": device, "escalated_ms": escalated}


def bench_cost(model_id: str, profile_name: str, *, dataset: Path | None, limit: int,
               progress: Progress) -> dict[str, Any]:
    """Money per 1,000 requests with the router vs always-cloud, and quality vs always-cloud,
    from the evaluation harness on a labelled request mix (the LLM runs through its cache):
    ``dataset`` if given, else the committed everyday mix (:data:`REQUEST_MIX`). The mix is a
    fixed file in the repository, so the figure means the same on every machine; the report
    names it next to the number."""
    from edgesdk.evalrun import default_cache, load_dataset, run_items
    from edgesdk.evaluate import evaluate
    from edgesdk.routing.router import Router

    source = dataset or REQUEST_MIX
    every = load_dataset(source)
    step = max(1, len(every) // limit)
    items = every[::step][:limit]  # evenly across the file, so every category is in the mix
    progress(f"cost: {len(items)} requests from {source.name}")
    catalog = Catalog()
    profile = get_profile(profile_name)
    records = run_items(
        items, model_id=model_id, cache=default_cache(model_id),
        llm_factory=lambda: LlamaCppLLM.load(model_id, catalog=catalog, n_ctx=profile.n_ctx,
                                             threads=profile.threads),
    )
    report = evaluate(records, router=Router.for_model(model_id, profile=profile))
    cost = report["cost_usd"]
    n = report["n"]
    per_1000_router = cost["policy"] / n * 1000
    per_1000_cloud = cost["cloud_only"] / n * 1000
    return {
        "dataset": str(source), "mix": REQUEST_MIX_NAME if source == REQUEST_MIX else source.name,
        "n": n,
        "usd_per_1000_router": per_1000_router,
        "usd_per_1000_cloud": per_1000_cloud,
        "cost_ratio_vs_cloud": per_1000_router / per_1000_cloud if per_1000_cloud else 0.0,
        "cloud_share": report["policy"]["cloud_share"],
        "quality_router": report["policy"]["accuracy"],
        "quality_cloud": report["cloud_accuracy"],
        "quality_ratio_vs_cloud": report["policy"]["accuracy"] / report["cloud_accuracy"],
        "local_accuracy": report["local_accuracy"],
        "auroc": report["auroc"],
        "curve": report["curve"],
        "cloud_share_at_95": report["cloud_share_at_95"],
    }


REQUEST_MIX = Path(__file__).resolve().parent.parent / "datasets" / "mix_everyday.jsonl"
"""120 hand-labelled requests as people say them to glasses, a watch or a phone: everyday facts
(53), yes/no (12), arithmetic, tips and bill splits (15), units (12), dates (8), Chinese (20).
21 are answered by skills (arithmetic, units, dates), the rest by the LLM or the cloud."""
REQUEST_MIX_NAME = "everyday mix (datasets/mix_everyday.jsonl, 120 requests)"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--rss-probe":
        print(json.dumps(rss_probe(args[1])))
        return 0
    print("usage: python -m edgesdk.bench --rss-probe PROFILE", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["PROFILES", "bench_llm", "bench_router", "bench_rss", "measure_bandwidth", "rss_probe"]
