"""``edgesdk doctor [--json]``: check that every native runtime runs on this machine."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "doctor", help="check the CPU, the native builds, each runtime and the model store",
        description="Print Python, OS, the CPU's features, the instruction sets the installed "
        "llama.cpp build uses, a smoke inference of each runtime (llama.cpp, onnxruntime, "
        "LiteRT) in a child process with its time, every model's sha256 and the EDGESDK_* "
        "settings. Exits 1 when something would crash or is missing.")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds each smoke test may take (default 180)")
    parser.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from edgesdk.doctor import diagnose, render

    report = diagnose(timeout_s=args.timeout)
    print(report.model_dump_json(indent=2) if args.json else render(report))
    return 0 if report.ok else 1
