"""``edgesdk ask QUESTION``: one request through the Assistant, printed for people or as JSON.

``--json`` prints exactly one JSON object (the Answer) on stdout, so scripts can pipe it; any
failure is a one-line message on stderr and a non-zero exit (see ``edgesdk.cli``).
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
from edgesdk.protocols import PerceptionLike
from edgesdk.types import MODES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("ask", help="ask a question (on the device, escalating if needed)")
    parser.add_argument("question", nargs="?", default=None,
                        help="the question (omit it when --audio asks the question)")
    parser.add_argument("--json", action="store_true", help="print the Answer as one JSON object")
    parser.add_argument("--mode", choices=MODES, default=None)
    parser.add_argument("--profile", default=None,
                        help="device profile: watch, glasses, phone, edge")
    parser.add_argument("--model", default=None, help="local model id (see: edgesdk models list)")
    parser.add_argument("--peer", default=None, metavar="ID",
                        help="a second local model whose agreement the router weighs")
    parser.add_argument("--probe", action="store_true", default=None,
                        help="add the hidden-state probe to the router's signals (one more "
                        "prompt pass per answer and a second llama.cpp context)")
    parser.add_argument("--deadline", type=float, default=None, metavar="S",
                        help="seconds the whole request may take")
    parser.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    parser.add_argument("--image", type=Path, default=None, help="image the question is about")
    parser.add_argument("--audio", type=Path, default=None, help="WAV file with a spoken question")
    parser.add_argument("--cloud-url", default=None,
                        help="OpenAI-compatible base URL of the upper tier "
                        "(or EDGESDK_CLOUD_BASE_URL)")
    parser.add_argument("--cloud-model", default=None, help="model name at the upper tier")
    parser.add_argument("--tools", type=Path, default=None, metavar="FILE",
                        help="JSON file with a list of OpenAI-format tool definitions: a command "
                        "is answered with tool_calls (never run by the CLI)")
    add_contacts_option(parser)
    add_knowledge_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from edgesdk.assistant import Assistant
    from edgesdk.config import load_settings
    from edgesdk.tools import load_tools

    settings = load_settings(cloud_base_url=args.cloud_url, cloud_model=args.cloud_model)
    profile = args.profile or settings.profile
    tools = list(load_tools(args.tools)) if args.tools is not None else []
    contacts = contacts_arg(args)
    with Assistant(profile=profile, mode=args.mode or settings.mode, model=args.model,
                   peer=args.peer, probe=args.probe, settings=settings,
                   perception=_perception(profile, args), tools=tools,
                   contacts=contacts, knowledge=knowledge_arg(args)) as assistant:
        if args.stream:
            stream = assistant.ask(args.question, image=args.image, audio=args.audio,
                                   stream=True, deadline_s=args.deadline)
            out = sys.stderr if args.json else sys.stdout
            for delta in stream:
                print(delta, end="", file=out, flush=True)
            print(file=out)
            answer = stream.answer
            assert answer is not None
        else:
            answer = assistant.ask(args.question, image=args.image, audio=args.audio,
                                   deadline_s=args.deadline)
    if args.json:
        print(answer.model_dump_json())
    elif not args.stream:
        print(answer.text)
        for call in answer.tool_calls:
            print(f"  → {call.name}({', '.join(f'{k}={v!r}' for k, v in call.arguments.items())})")
    if not args.json:
        cost = f"{answer.cost.amount:.6f} {answer.cost.currency}" if answer.cost.amount else "free"
        conf = (f"confidence {answer.confidence:.2f}" if answer.confidence_known
                else "confidence not measured")  # a placeholder number would read as a verdict
        print(f"[{answer.tier} · {conf} · {answer.latency_ms:.0f} ms · {cost}] "
              f"{'; '.join(answer.reasons)}", file=sys.stderr)
    return 0


def _perception(profile: str, args: argparse.Namespace) -> PerceptionLike | None:
    if args.image is None and args.audio is None:
        return None
    from edgesdk.catalog import Catalog
    from edgesdk.devices import get_profile
    from edgesdk.local.perceive import build_perceivers

    return build_perceivers(get_profile(profile), catalog=Catalog())
