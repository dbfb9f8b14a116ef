"""``edgesdk serve-edge``: make this device an OpenAI-compatible upper tier for smaller ones.

Run it on a phone (``--profile phone``) and point a watch's or glasses' edge tier at the URL it
prints; any OpenAI client works too. The Assistant is loaded and warmed up (one tiny
generation) before the port opens, so a missing model or a budget the profile cannot hold fails
here with a one-line message, and the first request does not pay llama.cpp's first-evaluation
cost. It binds to loopback unless ``--host`` is given with ``--allow-remote``; the optional
token comes from ``--token`` or ``EDGESDK_EDGE_TOKEN`` (the environment keeps it out of ``ps``)
and is never printed. SIGINT/SIGTERM stop it cleanly.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from edgesdk.commands.serving import add_listen_options, bind, listen_config, serve_until_stopped
from edgesdk.types import MODES

if TYPE_CHECKING:
    from edgesdk.assistant import Assistant


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from edgesdk.bridge.openai_server import DEFAULT_PORT, TOKEN_ENV

    parser = sub.add_parser(
        "serve-edge", help="serve this device's assistant as an OpenAI-compatible edge tier",
        description="Serve an Assistant at /v1/chat/completions (OpenAI format, SSE streaming), "
        "/v1/models and /health, so watches/glasses can use it as their edge tier.")
    parser.add_argument("--profile", default="phone", help="device profile (default: phone)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (0: any free)")
    parser.add_argument("--mode", choices=MODES, default=None, help="routing mode of the served "
                        "assistant (default: the settings' mode, prefer-on-device)")
    parser.add_argument("--model", default=None, help="local model id (default: the profile's)")
    parser.add_argument("--token", default=None,
                        help=f"require this bearer token (or set {TOKEN_ENV}); default: none")
    add_listen_options(parser, remote_who="other devices", max_body_bytes=1024 * 1024,
                       max_deadline_help="largest deadline a request may ask for "
                                         "(edgesdk.deadline_s)",
                       max_in_flight=8, in_flight_help="concurrent requests before answering "
                                                       "503 busy")
    parser.add_argument("--no-warmup", action="store_true",
                        help="open the port at once instead of after one warm-up generation")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    from edgesdk.assistant import Assistant
    from edgesdk.bridge.openai_server import TOKEN_ENV, EdgeConfig, EdgeServer
    from edgesdk.bridge.server import is_loopback
    from edgesdk.config import load_settings

    token = args.token or os.environ.get(TOKEN_ENV) or None
    config = EdgeConfig(token=token, **listen_config(args), profile=args.profile, mode=args.mode)
    if not is_loopback(args.host):
        print(f"edgesdk: warning: listening on {args.host}: other machines can reach this "
              "assistant" + ("" if token else " and, without --token, use it freely"),
              file=sys.stderr, flush=True)
    settings = load_settings()
    assistant = Assistant(profile=args.profile, mode=args.mode or settings.mode,
                          model=args.model, settings=settings)
    if not args.no_warmup:
        warm_up(assistant)
    server = bind(lambda: EdgeServer.for_assistant(assistant, config=config), args,
                  on_error=assistant.close)
    upper = ", ".join(t.name for t in assistant.tiers) or "none"
    return serve_until_stopped(
        server, then=assistant.close,
        banner=f"edgesdk edge tier serving {server.model} (profile {args.profile}, upper "
               f"tiers: {upper}) at {server.url}; Ctrl-C to stop")


def warm_up(assistant: Assistant) -> None:
    """One tiny generation before the port opens: llama.cpp's first evaluation (page faults,
    buffer allocation, the few-shot prefix that later requests reuse from its cache) costs
    seconds, and the first glasses request should not pay for it against its deadline. Then
    waits for the Assistant's own warm-up (the units library, the router's question
    embedder)."""
    from edgesdk.assistant import WARM_UP_QUESTION
    from edgesdk.local.prompts import qa_prompt, stop_for

    llm = assistant.llm
    llm.generate(qa_prompt(llm.prompt_style, WARM_UP_QUESTION), max_tokens=1,
                 stop=stop_for(llm.prompt_style), evidence=False)
    assistant.wait_warm()  # the units library and the router's question embedder, if any
