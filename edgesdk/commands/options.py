"""Command-line options that several commands share (``ask``, ``chat``, ``bridge serve``), so
each means the same everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_contacts_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contacts", default=None, metavar="NAMES",
                        help="comma-separated contact names a command may call or message")


def contacts_arg(args: argparse.Namespace) -> list[str]:
    return [c.strip() for c in (args.contacts or "").split(",") if c.strip()]


def add_knowledge_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knowledge", nargs="*", type=Path, default=None, metavar="PATH",
                        help="use the device's knowledge: answers kept from the cloud, the "
                        "fleet's pack and documents indexed earlier (edgesdk knowledge add) "
                        "or given here; answers from it carry citations")


def knowledge_arg(args: argparse.Namespace) -> bool | list[Path]:
    """``--knowledge`` alone: on; with paths: on, and those documents indexed too."""
    if args.knowledge is None:
        return False
    return list(args.knowledge) or True
