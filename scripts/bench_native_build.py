"""What the portable llama.cpp build costs against other builds of the same version, measured
in one run on this machine.

Each build is a llama-cpp-python wheel (e.g. setup's portable one from ``$EDGESDK_HOME/wheels``,
and one built with llama.cpp's default ``-march=native`` on a machine where that one works).
Each is unpacked into its own directory, and a child process per (build, model, round) loads the
model with plain llama-cpp-python and times greedy decoding; rounds are interleaved across the
builds so that the machine's drift hits all of them alike. The report gives decode tokens/s and
prompt tokens/s per build and model, and each build's ratio against the first (the baseline).

Usage::

    python scripts/bench_native_build.py --build portable=PATH.whl --build native=PATH.whl \\
        [--build dispatch=PATH.whl] --out docs/bench/native-build
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from edgesdk.config import load_settings

MODELS = {"smollm2-135m-instruct": "SmolLM2-135M-Instruct.Q4_1.gguf",
          "gemma3-270m": "gemma-3-270m-q4_k_m.gguf"}
PROMPT = ("Here is a short guide to keeping houseplants alive. First, choose a pot with a "
          "drainage hole, because standing water rots the roots. Second,")

CHILD = r"""
import json, sys, time
import llama_cpp
path, n = sys.argv[1], int(sys.argv[2])
llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=2, n_threads_batch=2, seed=0,
                      verbose=False)
prompt = llm.tokenize(sys.argv[3].encode())
t0 = time.perf_counter(); llm.eval(prompt); t1 = time.perf_counter()
done = 0
for tok in llm.generate(prompt, top_k=1, reset=False):
    done += 1
    if done >= n:
        break
t2 = time.perf_counter()
info = llama_cpp.llama_print_system_info()
print(json.dumps({"prompt_tps": len(prompt) / (t1 - t0), "decode_tps": done / (t2 - t1),
                  "system_info": info.decode() if isinstance(info, bytes) else str(info)}))
"""


def _unpack(wheel: Path, into: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(into)
    for lib in (into / "llama_cpp" / "lib").glob("*"):
        lib.chmod(0o755)
    return into


def _run(target: Path, model: Path, tokens: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model), str(tokens), PROMPT],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", action="append", required=True, metavar="NAME=WHEEL",
                        help="a build to measure (the first is the baseline)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("docs/bench/native-build"))
    args = parser.parse_args(argv)
    builds = dict(b.split("=", 1) for b in args.build)
    models = {m: load_settings().home / "models" / m / f for m, f in MODELS.items()}
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {b: {m: [] for m in models}
                                                        for b in builds}
    with tempfile.TemporaryDirectory(prefix="edgesdk-nb-") as tmp:
        targets = {b: _unpack(Path(w), Path(tmp) / b) for b, w in builds.items()}
        for round_no in range(args.rounds):
            for model_id, path in models.items():
                for build, target in targets.items():
                    rows[build][model_id].append(_run(target, path, args.tokens))
            print(f"round {round_no + 1}/{args.rounds} done", flush=True)
    base = next(iter(builds))
    summary: dict[str, Any] = {"tokens": args.tokens, "rounds": args.rounds, "baseline": base,
                               "cpu": os.uname().machine, "builds": {}}
    for build in builds:
        entry: dict[str, Any] = {"wheel": Path(builds[build]).name, "models": {}}
        for model_id in models:
            ok = [r for r in rows[build][model_id] if "error" not in r]
            if not ok:
                entry["models"][model_id] = {"error": rows[build][model_id][0]["error"]}
                continue
            entry["system_info"] = ok[0]["system_info"].strip()
            entry["models"][model_id] = {
                "decode_tps": statistics.median(r["decode_tps"] for r in ok),
                "prompt_tps": statistics.median(r["prompt_tps"] for r in ok)}
        summary["builds"][build] = entry
    for entry in summary["builds"].values():
        for model_id, fig in entry["models"].items():
            ref = summary["builds"][base]["models"].get(model_id, {})
            if "decode_tps" in fig and "decode_tps" in ref:
                fig["decode_ratio_vs_baseline"] = fig["decode_tps"] / ref["decode_tps"]
                fig["prompt_ratio_vs_baseline"] = fig["prompt_tps"] / ref["prompt_tps"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "native-build.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"# llama.cpp builds compared (baseline: {base}; median of {args.rounds} "
             f"interleaved rounds, {args.tokens} greedy tokens, 2 threads)", "",
             "| build | model | decode tok/s | ratio | prompt tok/s | ratio |",
             "|---|---|---|---|---|---|"]
    for build, entry in summary["builds"].items():
        for model_id, fig in entry["models"].items():
            if "error" in fig:
                lines.append(f"| {build} | {model_id} | failed: {fig['error'][:80]} | | | |")
                continue
            lines.append(f"| {build} | {model_id} | {fig['decode_tps']:.1f} | "
                         f"{fig['decode_ratio_vs_baseline']:.3f} | {fig['prompt_tps']:.0f} | "
                         f"{fig['prompt_ratio_vs_baseline']:.3f} |")
    lines += ["", "System info per build:", ""]
    lines += [f"- {b}: `{e.get('system_info', '?')}`" for b, e in summary["builds"].items()]
    (args.out / "native-build.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
