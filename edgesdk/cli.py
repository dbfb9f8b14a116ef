"""The ``edgesdk`` command line: one entry point that dispatches to per-area subcommands.

Each area's commands live in ``edgesdk.commands.<area>`` and expose ``register(subparsers)``;
this module only lists them and turns every ``EdgeSDKError`` into a one-line message on stderr
and a non-zero exit, so users never see a traceback for a problem they can fix.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edgesdk.errors import EdgeSDKError, InputError

COMMAND_MODULES: tuple[str, ...] = (
    "edgesdk.commands.ask",
    "edgesdk.commands.chat",
    "edgesdk.commands.knowledge",
    "edgesdk.commands.models",
    "edgesdk.commands.eval",
    "edgesdk.commands.router",
    "edgesdk.commands.bench",
    "edgesdk.commands.perceive",
    "edgesdk.commands.transcribe",
    "edgesdk.commands.cloud",
    "edgesdk.commands.standin",
    "edgesdk.commands.data",
    "edgesdk.commands.bridge",
    "edgesdk.commands.edge",
    "edgesdk.commands.doctor",
)

EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgesdk",
        description="Run AI on the device; escalate to the cloud only when needed.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.handler(args)
    except EdgeSDKError as exc:
        print(f"edgesdk: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, InputError) else EXIT_ERROR
    except KeyboardInterrupt:
        print("edgesdk: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
