"""``edgesdk bench [--profile P] [--quick] --out DIR``: the on-device benchmark."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("bench", help="measure speed, memory and cost on this device")
    parser.add_argument("--profile", default="phone", help="device profile to benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (< 5 minutes)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the report")
    parser.add_argument("--dataset", type=Path, default=None,
                        help="labelled JSONL request mix for the cost figures")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from edgesdk.bench_report import run_bench
    from edgesdk.devices import get_profile

    get_profile(args.profile)  # unknown profile -> typed error before any work
    report = run_bench(profile=args.profile, quick=args.quick, out=args.out,
                       dataset=args.dataset)
    for key, target in report["targets"].items():
        mark = {True: "ok ", False: "MISS", None: "n/a"}[target["met"]]
        print(f"{mark} {key} = {target['value']} (target {target['op']} {target['target']})")
    return 0
