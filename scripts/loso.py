"""Leave-one-source-out: how the router does on questions from a source it was never fitted on.

For each source (TriviaQA, HaluEval, GSM8K, our synthetic, Chinese, natural-wording English and
Chinese, commands, follow-ups), fit the router on every other source (training rows and the
answer bank's pool alike) and evaluate it on every item of the left-out one, beside the best
single naive signal (the minimum or the mean token log-prob) on the same items. Two held-out
sets are never fitted on at all and are scored by the calibration fitted on everything: 300
Natural Questions (real search-engine queries) and the everyday mix the benchmark's cost uses.

Every record comes from the device path users run (``device_path.DevicePath`` through the
generation cache: ``evalrun.run_items``) and every confidence from ``Router.decide``, as in
``edgesdk eval``. Each signal set is reported (``--signals`` sets, default: the generic signals
alone, and with the ``neighbours`` lookup), so a signal earns its place here or not at all.

Usage::

    python scripts/loso.py --model gemma3-270m [--out docs/reports/loso]

Needs the generation cache a refit leaves behind (``docs/router.md``); ``--cached-only`` is
implied (items without a cached generation are skipped and counted).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.config import load_settings
from edgesdk.devices import PROFILES, DeviceProfile, get_profile
from edgesdk.evalrun import Record, default_cache, jsonl_rows, load_dataset, run_items
from edgesdk.routing.fitting import metrics
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from edgesdk.routing.signal import LabelledRow

REPO = Path(__file__).resolve().parents[1]
HELD_OUT = {"nq": "nq.jsonl", "edgesdk/mix_everyday": None}
"""Never fitted on: scored by the calibration fitted on every source."""
NATURAL = ("edgesdk/natural_en", "edgesdk/natural_zh", "edgesdk/commands",
           "edgesdk/followups", "edgesdk/mix_everyday")
"""The natural-wording sources, pooled for the issue's "as a whole" figure."""
BANK_EMBEDDER = {"gemma3-270m": "minilm-l6-int8", "smollm2-135m-instruct": "minilm-l3-paraphrase"}
"""The question embedder of the ``neighbours`` lookup per model: L6 where the phone can hold
it, the smaller L3 for the watch's model (catalog ids)."""
SETS = {"generic": ("evidence", "surface", "percepts"),
        "generic+neighbours": ("evidence", "surface", "percepts", "neighbours")}
MIN_CLASS = 5


def _embedder(model: str) -> Any:
    from edgesdk.local.embed import MiniLMEmbedder

    return MiniLMEmbedder.load(threads=2, model_id=BANK_EMBEDDER.get(model, "minilm-l6-int8"))


def _memo(embed: Callable[[Sequence[str]], Any]) -> Callable[[Sequence[str]], Any]:
    """Each distinct text embedded once across all folds."""
    seen: dict[str, Any] = {}

    def cached(texts: Sequence[str]) -> Any:
        missing = [t for t in dict.fromkeys(texts) if t not in seen]
        for i in range(0, len(missing), 256):
            chunk = missing[i:i + 256]
            seen.update(zip(chunk, np.asarray(embed(chunk)), strict=True))
        return np.stack([seen[t] for t in texts]) if texts else np.zeros((0, 1))

    return cached


def _rows(records: Sequence[Record]) -> list[LabelledRow]:
    return [LabelledRow(question=r.item.question, generation=r.generation, skill=r.skill,
                        correct=r.correct, answers=r.item.answers, same_as=r.item.same_as,
                        source=r.item.source) for r in records]


def score(records: Sequence[Record], router: Router) -> dict[str, Any]:
    """The report's figures for ``records`` under ``router`` (``Router.decide``, as
    ``edgesdk eval`` scores: a fail-safe decision's confidence is 0)."""
    y = np.array([r.correct for r in records], dtype=bool)
    p = np.array([router.decide(question=r.item.question,
                                generation=None if r.skill else r.generation, skill=r.skill,
                                percepts=()).confidence for r in records])
    llm = [r for r in records if r.skill is None and r.generation is not None]
    naive: dict[str, float] = {}
    if llm and min(sum(r.correct for r in llm), sum(not r.correct for r in llm)) >= MIN_CLASS:
        ly = [r.correct for r in llm]
        for name, how in (("min_logprob", min), ("mean_logprob", np.mean)):
            naive[name] = round(metrics.auroc(
                [float(how(r.generation.evidence.logprobs)) if r.generation and
                 r.generation.evidence.logprobs else -1e9 for r in llm], ly), 4)
    scorable = min(int(y.sum()), int((~y).sum())) >= MIN_CLASS
    return {"n": len(records), "skills": sum(r.skill is not None for r in records),
            "local_accuracy": round(float(y.mean()), 4) if len(y) else math.nan,
            "auroc": round(metrics.auroc(p, y), 4) if scorable else None,
            "llm_auroc": (round(metrics.auroc(
                [p[i] for i, r in enumerate(records) if r.skill is None],
                [r.correct for r in records if r.skill is None]), 4) if naive else None),
            "ece": round(metrics.ece(p, y), 4),
            "mean_confidence": round(float(p.mean()), 4),
            "best_naive": max(naive.items(), key=lambda kv: kv[1]) if naive else None}


def _fitter(model: str, by_source: dict[str, list[Record]], signals: Sequence[str],
            embed: Callable[[Sequence[str]], Any], pool: Sequence[tuple[str, list[str], str]],
            profile: DeviceProfile) -> Callable[[str | None], Router]:
    """``fit(source)``: the router fitted on every fitted source but ``source`` (rows and
    bank pool), kept, so each left-out fit runs once."""
    fits: dict[str | None, Router] = {}
    lookup = "neighbours" in signals

    def fit(without: str | None) -> Router:
        if without not in fits:
            rows = _rows([r for s, rs in by_source.items() if s != without
                          and s not in HELD_OUT for r in rs])
            cal = fit_calibration(
                rows, model_id=model, model_sha256="loso", signals=signals,
                embed=embed if lookup else None,
                embedder_id=BANK_EMBEDDER.get(model) if lookup else None,
                bank_pool=[(q, a) for q, a, s in pool if s != without] if lookup else ())
            fits[without] = Router(calibration=cal, policy=Policy.for_profile(
                profile, quantiles=cal.quantiles, refuse_below=profile.refuse_below))
        return fits[without]

    return fit


def run(model: str, data: Path, signal_sets: Sequence[str]) -> dict[str, Any]:
    fitted = [it for name in ("train", "dev", "test")
              for it in load_dataset(data / f"{name}.jsonl")]
    held = (load_dataset(data / "nq.jsonl")
            + load_dataset(REPO / "datasets" / "mix_everyday.jsonl"))
    cache = default_cache(model)
    records = run_items(fitted + held, model_id=model, llm_factory=None, cache=cache,
                        cached_only=True)
    print(f"{model}: {len(records)} of {len(fitted) + len(held)} items cached", file=sys.stderr)
    by_source: dict[str, list[Record]] = {}
    for r in records:
        by_source.setdefault(r.item.source, []).append(r)
    pool = [(str(row["question"]), [str(a) for a in row["answers"]], str(row.get("source")))
            for row in jsonl_rows(data / "pool.jsonl")]
    embed = _memo(_embedder(model).embed)
    profile = get_profile(next(p.name for p in PROFILES.values() if p.llm == model))
    report: dict[str, Any] = {"model": model, "profile": profile.name, "sets": {}}
    for set_name in signal_sets:
        signals = SETS[set_name]
        fit = _fitter(model, by_source, signals, embed, pool, profile)
        rows_out: dict[str, Any] = {}
        everything = fit(None)
        for source in sorted(by_source):
            router = everything if source in HELD_OUT else fit(source)
            rows_out[source] = score(by_source[source], router)
            print(f"  {set_name} {source}: {rows_out[source]}", file=sys.stderr)
        natural = [r for s in NATURAL for r in by_source.get(s, [])]
        nat_fit = [r for s in NATURAL if s not in HELD_OUT for r in by_source.get(s, [])]
        # natural sources as a whole: each scored by the fit that never saw it
        confs, ys = [], []
        for s in NATURAL:
            router = everything if s in HELD_OUT else fit(s)
            for r in by_source.get(s, []):
                confs.append(router.decide(question=r.item.question,
                                           generation=None if r.skill else r.generation,
                                           skill=r.skill, percepts=()).confidence)
                ys.append(r.correct)
        report["sets"][set_name] = {
            "by_source": rows_out,
            "natural_pooled": {"n": len(natural), "n_fitted_sources": len(nat_fit),
                               "auroc": round(metrics.auroc(confs, ys), 4),
                               "ece": round(metrics.ece(confs, ys), 4)},
            "fit_info": {k: everything.calibration.fit_info.get(k)
                         for k in ("l2", "interactions", "recipes", "cv_auroc", "cv_ece",
                                   "cv_auroc_by_source", "sources")},
        }
    return report


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model = report["model"]
    (out / f"{model}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    lines = [f"# Leave-one-source-out: {model}", "",
             "Each source scored by a router fitted without it (training rows and answer bank); "
             "`nq` and `edgesdk/mix_everyday` are never fitted on. Confidences from "
             "`Router.decide` on the device path's records. AUROC needs ≥ 5 right and ≥ 5 wrong "
             f"answers. `python scripts/loso.py --model {model}`.", ""]
    for set_name, body in report["sets"].items():
        lines += [f"## Signals: {set_name}", "",
                  "| left-out source | n | skills | local acc. | router AUROC | best naive "
                  "(AUROC, LLM answers) | router AUROC (LLM answers) | ECE |",
                  "|---|---|---|---|---|---|---|---|"]
        for source, row in body["by_source"].items():
            naive = row["best_naive"]
            lines.append(
                f"| {source} | {row['n']} | {row['skills']} | {row['local_accuracy']:.3f} | "
                f"{row['auroc'] if row['auroc'] is not None else 'n/a'} | "
                f"{f'{naive[0]} ({naive[1]:.3f})' if naive else 'n/a'} | "
                f"{row['llm_auroc'] if row['llm_auroc'] is not None else 'n/a'} | "
                f"{row['ece']:.3f} |")
        nat = body["natural_pooled"]
        lines += ["", f"Natural-wording sources pooled (n = {nat['n']}, each scored by a fit "
                      f"without it): AUROC {nat['auroc']:.3f}, ECE {nat['ece']:.3f}.", "",
                  f"Fit on every source: {json.dumps(body['fit_info'], ensure_ascii=False)}",
                  ""]
    (out / f"{model}.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--datasets", type=Path, default=None,
                        help="the splits (default $EDGESDK_HOME/datasets)")
    parser.add_argument("--signals", action="append", choices=sorted(SETS), default=None)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "reports" / "loso")
    args = parser.parse_args(argv)
    data = args.datasets or load_settings().home / "datasets"
    report = run(args.model, data, args.signals or list(SETS))
    write(report, args.out)
    print(json.dumps({s: b["natural_pooled"] for s, b in report["sets"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
