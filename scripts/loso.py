"""Leave-one-source-out: how the router does on questions from a source it was never fitted on.

The router is fitted and checked on the same sources (TriviaQA, HaluEval, GSM8K, our synthetic
and Chinese items), so its test-split figures say little about a user's questions. This script
fits it once per source with that source left out everywhere (training rows and the answer
bank's pool) and evaluates it on every item of the left-out source (train, dev and test: none
was seen), beside the best single naive signal (minimum or mean token log-prob) on the same
items. It drives the ordinary commands (``edgesdk router fit --cached-only`` and ``edgesdk
eval --cached-only``), so it measures the shipped recipe, and it needs the generation cache a
refit leaves behind (docs/router.md).

Usage::

    python scripts/loso.py --model gemma3-270m [--datasets DIR] --out docs/reports/loso
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from edgesdk.config import load_settings
from edgesdk.evalrun import jsonl_rows

BANK_EMBEDDER = {"gemma3-270m": "minilm", "smollm2-135m-instruct": "minilm-l3"}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _edgesdk(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "edgesdk.cli", *args], check=True,
                   stdout=subprocess.DEVNULL)


def left_out(model: str, source: str, splits: dict[str, list[dict[str, Any]]],
             work: Path) -> dict[str, Any]:
    """Fit without ``source``, evaluate on all of ``source``; the report's headline figures."""
    keep = {name: [r for r in rows if r.get("source") != source] for name, rows in splits.items()}
    held = [r for name in ("train", "dev", "test") for r in splits[name]
            if r.get("source") == source]
    cal = work / f"{model}-without-{source.replace('/', '_')}.json"
    _edgesdk("router", "fit", "--model", model, "--cached-only", "--out", str(cal),
             "--bank-embedder", BANK_EMBEDDER.get(model, "auto"),
             "--dataset", str(_write(work / "train.jsonl", keep["train"])),
             "--dataset", str(_write(work / "dev.jsonl", keep["dev"])),
             "--bank-pool", str(_write(work / "pool.jsonl", keep["pool"])))
    out = work / f"eval-{source.replace('/', '_')}"
    _edgesdk("eval", "--model", model, "--cached-only", "--calibration", str(cal),
             "--dataset", str(_write(work / "held.jsonl", held)), "--out", str(out))
    report = json.loads((out / "report.json").read_text())
    naive = {name: report["baselines"][name]["auroc"] for name in ("min_logprob", "mean_logprob")}
    best = max(naive, key=lambda k: naive[k] if naive[k] == naive[k] else -1.0)
    return {"source": source, "n": report["n"], "local_accuracy": report["local_accuracy"],
            "skill_answered": report["skill_answered"], "auroc": report["auroc"],
            "ece": report["ece"], "best_naive": best, "best_naive_auroc": naive[best],
            "router_minus_naive": report["auroc"] - naive[best]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--datasets", type=Path, default=load_settings().home / "datasets")
    parser.add_argument("--out", type=Path, default=Path("docs/reports/loso"))
    args = parser.parse_args(argv)
    splits = {name: list(jsonl_rows(args.datasets / f"{name}.jsonl"))
              for name in ("train", "dev", "test", "pool")}
    sources = sorted({r["source"] for name in ("train", "dev", "test") for r in splits[name]})
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgesdk-loso-") as tmp:
        for source in sources:
            work = Path(tmp) / source.replace("/", "_")
            work.mkdir()
            rows.append(left_out(args.model, source, splits, work))
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.model}.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [f"# Leave-one-source-out: {args.model}", "",
             "Fitted without the source (training rows and answer bank), evaluated on all of "
             "its items; `python scripts/loso.py --model " + args.model + "`.", "",
             "| left-out source | n | skills | local acc. | router AUROC | best naive (AUROC) "
             "| router − naive | ECE |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['source']} | {r['n']} | {r['skill_answered']} | "
                     f"{r['local_accuracy']:.3f} | {r['auroc']:.3f} | {r['best_naive']} "
                     f"({r['best_naive_auroc']:.3f}) | {r['router_minus_naive']:+.3f} | "
                     f"{r['ece']:.3f} |")
    (args.out / f"{args.model}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
