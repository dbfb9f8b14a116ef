"""Replay a labelled split through a router with online recalibration and compare calibration.

Why: online recalibration (``edgesdk/routing/online.py``) learns from the only labels a device
gets for free — whether the cloud agreed with an escalated answer — and must never make the
shipped calibration worse. This replays the cached device answers of a split in a seeded random
order: every LLM answer the online router would escalate (confidence below the profile's
threshold) is labelled by its gold correctness (the cloud taken as right), and the shipped and
the online confidences are compared over the whole stream and over its second half (after the
learner has seen labels). Optionally only some categories, to mimic a user whose questions
differ from the fitting mix.

    .venv/bin/python scripts/simulate_online.py --model gemma3-270m --profile phone \
        [--category fact] [--seed 0]

Needs the datasets (``scripts/build_datasets.py``) and the generation cache of the model
(``edgesdk eval`` fills it); runs no LLM.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

import numpy as np

from edgesdk.commands.eval import collect
from edgesdk.config import load_settings
from edgesdk.devices import get_profile
from edgesdk.routing.fitting import metrics
from edgesdk.routing.online import OnlineConfig
from edgesdk.routing.router import Router


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--category", action="append", default=[],
                    help="keep only these categories (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    settings = load_settings()
    dataset = settings.home / "datasets" / f"{args.split}.jsonl"
    if not dataset.exists():
        print(f"no {dataset}: build the datasets first (python scripts/build_datasets.py)",
              file=sys.stderr)
        return 2
    records = [r for r in collect(dataset, args.model, limit=None, threads=1, cached_only=True)
               if r.skill is None and r.generation is not None
               and (not args.category or r.item.category in args.category)]
    random.Random(args.seed).shuffle(records)
    profile = get_profile(args.profile)
    shipped = Router.for_model(args.model, profile=profile)
    online = Router.for_model(args.model, profile=profile, online=OnlineConfig(persist=False))
    learner = online.online
    assert learner is not None
    threshold = shipped.policy.threshold
    p0: list[float] = []
    p1: list[float] = []
    y: list[bool] = []
    for r in records:
        q, g = r.item.question, r.generation
        c0 = shipped.confidence(question=q, generation=g, skill=None)[0]
        c1 = online.confidence(question=q, generation=g, skill=None)[0]
        if c0 is None or c1 is None:
            continue
        p0.append(c0)
        p1.append(c1)
        y.append(r.correct)
        if c1 < threshold:  # escalated: the cloud's answer labels the device's
            online.observe(question=q, generation=g, agreed=r.correct)
    a0, a1, ya = np.array(p0), np.array(p1), np.array(y)
    half = len(ya) // 2
    out: dict[str, object] = {"model": args.model, "profile": args.profile,
                              "categories": args.category or "all", "n": len(ya),
                              "labels": len(learner), "slope": learner.a,
                              "offset": learner.b, "threshold": threshold}
    for name, part in (("all", slice(None)), ("second_half", slice(half, None))):
        out[name] = {"ece_shipped": metrics.ece(a0[part], ya[part]),
                     "ece_online": metrics.ece(a1[part], ya[part]),
                     "auroc_shipped": metrics.auroc(a0[part], ya[part]),
                     "auroc_online": metrics.auroc(a1[part], ya[part])}
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
