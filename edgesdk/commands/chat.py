"""``edgesdk chat``: a conversation in the terminal, one line per turn, history included.

Each line is a ``session.ask``: follow-ups are answered in context, and the turns can be saved
(``--save FILE`` at the end, or ``/save FILE``) and picked up later (``--load FILE``). Lines
starting with ``/`` are commands: ``/save FILE``, ``/turns``, ``/quit``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgesdk.commands.options import (
    add_contacts_option,
    add_knowledge_option,
    contacts_arg,
    knowledge_arg,
)
from edgesdk.types import MODES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("chat", help="an interactive conversation (history included)")
    parser.add_argument("--profile", default=None, help="device profile: watch, glasses, ...")
    parser.add_argument("--mode", choices=MODES, default=None)
    parser.add_argument("--tools", type=Path, default=None, metavar="FILE",
                        help="OpenAI-format tool definitions: commands become tool calls")
    add_contacts_option(parser)
    add_knowledge_option(parser)
    parser.add_argument("--load", type=Path, default=None, metavar="FILE",
                        help="continue a conversation saved with --save or /save")
    parser.add_argument("--save", type=Path, default=None, metavar="FILE",
                        help="save the conversation here when it ends")
    parser.add_argument("--cloud-url", default=None, help="OpenAI-compatible upper tier")
    parser.add_argument("--cloud-model", default=None, help="model name at the upper tier")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from edgesdk.assistant import Assistant
    from edgesdk.config import load_settings
    from edgesdk.session import Session
    from edgesdk.tools import load_tools

    settings = load_settings(cloud_base_url=args.cloud_url, cloud_model=args.cloud_model)
    tools = list(load_tools(args.tools)) if args.tools is not None else []
    contacts = contacts_arg(args)
    interactive = sys.stdin.isatty()
    with Assistant(profile=args.profile or settings.profile, mode=args.mode or settings.mode,
                   settings=settings, tools=tools, contacts=contacts,
                   knowledge=knowledge_arg(args)) as assistant:
        chat = (Session.load(assistant, args.load) if args.load is not None
                else assistant.session())
        while True:
            if interactive:
                print("you> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit"):
                break
            if text.startswith("/save "):
                chat.save(text.split(" ", 1)[1].strip())
                print("saved", file=sys.stderr)
                continue
            if text == "/turns":
                for turn in chat.turns:
                    print(f"  {turn.question} → {turn.answer} [{turn.tier}]")
                continue
            answer = chat.ask(text)
            calls = "".join(f"\n  → {c.name}({c.arguments})" for c in answer.tool_calls)
            print(f"assistant> {answer.text}{calls}")
            print(f"  [{answer.tier} · {answer.latency_ms:.0f} ms] {'; '.join(answer.reasons)}",
                  file=sys.stderr)
        if args.save is not None:
            chat.save(args.save)
    return 0
