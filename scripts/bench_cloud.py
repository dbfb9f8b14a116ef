"""Measure the cloud tier: the latency ChatClient adds over a bare httpx call, and the cost of
1,000 typical escalations at the prices in force today.

Both clients talk to the same stand-in server in the same run, interleaved call by call so that
machine load hits both alike; the median of many calls is reported, not a single timing.
"Typical escalation" = the Assistant's byte-stable cloud system prompt + a question with a line
of percept text, answered in one sentence (~120 characters) by deepseek-chat, or with ~1,000
characters of reasoning first by deepseek-reasoner; usage (incl. context-cache hits by 64-token
prefix units) is what the stand-in computes, priced by edgesdk's dated table.

    .venv/bin/python scripts/bench_cloud.py [--n 300] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

from edgesdk.cloud import ChatClient, CostLedger, PriceTable
from edgesdk.local.prompts import cloud_messages
from edgesdk.testing.responders import ChatRequest, Reply
from edgesdk.testing.standin import StandIn

QUESTIONS = [
    ("What does the sign in front of me say in English?", ("text: 'Sortie de secours' 0.93",)),
    ("How many calories are in this?", ("object: banana 0.88", "object: cup 0.61")),
    ("What is the integral of x squared from 0 to 3?", ()),
    ("Who painted the picture on this wall?", ("object: painting 0.79",)),
    ("Is it safe to cross now?", ("object: traffic light 0.84", "text: 'WAIT' 0.71")),
]


def typical(request: ChatRequest) -> Reply:
    text = ("The answer, in one sentence: " + request.question)[:120].ljust(120, ".")
    reasoning = ("Let me think step by step about this. " * 27)[:1000] if request.thinking \
        else None
    return Reply(text=text, reasoning=reasoning)


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def latency(standin: StandIn, n: int, stream: bool) -> dict[str, float]:
    messages = cloud_messages(*QUESTIONS[0])
    body: dict[str, object] = {"model": "deepseek-chat", "messages": messages, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    headers = {"Authorization": "Bearer sk-bench"}
    bare_ms: list[float] = []
    ours_ms: list[float] = []
    with httpx.Client() as bare, ChatClient(base_url=standin.url, api_key=None,
                                            model="deepseek-chat") as ours:
        ours._headers = {**ours._headers, **headers}

        def bare_call() -> str:
            if not stream:
                r = bare.post(standin.url + "/chat/completions", json=body, headers=headers)
                return str(r.json()["choices"][0]["message"]["content"])
            out = []
            with bare.stream("POST", standin.url + "/chat/completions", json=body,
                             headers=headers) as r:
                for line in r.iter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        for ch in json.loads(line[6:])["choices"]:
                            out.append(ch["delta"].get("content") or "")
            return "".join(out)

        def ours_call() -> str:
            sink = (lambda d: None) if stream else None
            return ours.chat(messages, deadline=time.monotonic() + 30, on_delta=sink).text

        for _ in range(20):  # warm up connections, caches, JIT-free but lazy imports
            bare_call()
            ours_call()
        for i in range(n):
            pair = [(bare_call, bare_ms), (ours_call, ours_ms)]
            for fn, sink in pair if i % 2 == 0 else pair[::-1]:
                t = time.perf_counter()
                fn()
                sink.append((time.perf_counter() - t) * 1000)
    mb, mo = statistics.median(bare_ms), statistics.median(ours_ms)
    return {"n": n, "bare_median_ms": mb, "client_median_ms": mo, "added_median_ms": mo - mb,
            "bare_p90_ms": pct(bare_ms, 0.9), "client_p90_ms": pct(ours_ms, 0.9),
            "ratio": mo / mb}


def cost_of_1000(standin: StandIn) -> dict[str, object]:
    now = datetime.now(timezone.utc)
    table = PriceTable.default()
    out: dict[str, object] = {"priced_at": now.isoformat(timespec="seconds"),
                              "table_checked": str(table.checked)}
    for model in ("deepseek-chat", "deepseek-reasoner"):
        standin.reset()
        ledger = CostLedger()
        with ChatClient(base_url=standin.url, api_key=None, model=model, ledger=ledger) as c:
            for i in range(1000):
                q, ctx = QUESTIONS[i % len(QUESTIONS)]
                # every question distinct, so only the byte-stable prefix can hit the cache
                c.chat(cloud_messages(f"{q} (request {i})", ctx),
                       deadline=time.monotonic() + 30)
        u = ledger.totals().usage
        per: dict[str, float] = {}
        for currency in ("USD", "CNY"):
            row = table.row(model, at=now, currency=currency)
            if row is not None and row.currency == currency:
                per[currency] = table.cost(u, model=model, at=now, currency=currency).amount
        flash = table.cost(u, model="deepseek-v4-flash", at=now, currency="CNY")
        out[model] = {
            "prompt_tokens": u.prompt_tokens, "cache_hit_tokens": u.prompt_cache_hit_tokens,
            "cache_miss_tokens": u.prompt_cache_miss_tokens,
            "completion_tokens": u.completion_tokens, "reasoning_tokens": u.reasoning_tokens,
            "cache_hit_share": ledger.totals().cache_hit_share,
            "cost_per_1000": per, "same_usage_on_v4_flash_CNY": flash.amount,
        }
    return out


def markdown(lat: dict[str, dict[str, float]], cost: dict[str, object]) -> str:
    lines = ["## ChatClient latency over a bare httpx call (stand-in, same run)", "",
             "| mode | n | bare median ms | ChatClient median ms | added ms | ratio |",
             "|---|---|---|---|---|---|"]
    for mode, r in lat.items():
        lines.append(f"| {mode} | {r['n']:.0f} | {r['bare_median_ms']:.2f} | "
                     f"{r['client_median_ms']:.2f} | {r['added_median_ms']:.2f} | "
                     f"{r['ratio']:.2f} |")
    lines += ["", f"## 1,000 typical escalations at prices in force {cost['priced_at']}", "",
              "| model | prompt tok | cache-hit share | output tok | USD | CNY | CNY if v4-flash |",
              "|---|---|---|---|---|---|---|"]
    for model in ("deepseek-chat", "deepseek-reasoner"):
        m = cost[model]
        assert isinstance(m, dict)
        p = m["cost_per_1000"]
        lines.append(f"| {model} | {m['prompt_tokens']} | {m['cache_hit_share']:.0%} | "
                     f"{m['completion_tokens']} | ${p.get('USD', 0):.4f} | "
                     f"¥{p.get('CNY', 0):.4f} | ¥{m['same_usage_on_v4_flash_CNY']:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="timed calls per client and mode")
    ap.add_argument("--out", type=Path, default=None, help="write cloud.json and cloud.md here")
    args = ap.parse_args()
    with StandIn(responder=typical) as standin:
        lat = {"plain": latency(standin, args.n, False),
               "stream": latency(standin, args.n, True)}
        cost = cost_of_1000(standin)
    md = markdown(lat, cost)
    print(md)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cloud.json").write_text(json.dumps({"latency": lat, "cost": cost},
                                                        indent=2))
        (args.out / "cloud.md").write_text(md)


if __name__ == "__main__":
    main()
