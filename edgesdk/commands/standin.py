"""``edgesdk stand-in``: run the DeepSeek-compatible stand-in server for your own app's tests.

App developers need to see how their app behaves when the cloud tier rate-limits, overloads or
hangs, without an account or a network; this serves the same stand-in the SDK's tests use, with
the faults switched on from the command line.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from edgesdk.testing.standin import FAULT_KINDS

    parser = sub.add_parser(
        "stand-in", help="serve a DeepSeek-compatible test server on 127.0.0.1",
        description="Serve a DeepSeek-compatible API on 127.0.0.1 with injectable faults. "
        f"Fault kinds: {', '.join(FAULT_KINDS)}. A fault is KIND[*N][:retry-after=S,delay=S]; "
        "without *N it applies to every chat request.")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="e.g. 503*2, 429*1:retry-after=2, keep-alive, hang (repeatable)")
    parser.add_argument("--api-key", default=None,
                        help="require this bearer key (default: accept any)")
    parser.add_argument("--answers", type=Path, default=None, metavar="FILE.json",
                        help='scripted answers: {"question": "answer", ...}')
    parser.add_argument("--gguf", default=None, metavar="PATH|MODEL_ID",
                        help="answer with a local GGUF model (file or catalog id)")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from edgesdk.commands.serving import stop_on_ctrl_c
    from edgesdk.testing.responders import GGUFResponder, Responder, ScriptedResponder
    from edgesdk.testing.standin import StandIn

    responder: Responder
    if args.gguf:
        path = Path(args.gguf)
        if not path.exists():
            from edgesdk.catalog import Catalog

            path = Catalog().locate(args.gguf)
        responder = GGUFResponder(model_path=path)
    else:
        answers = json.loads(args.answers.read_text()) if args.answers else {}
        responder = ScriptedResponder(answers=answers)
    stop = threading.Event()
    # a supervisor's stop exits cleanly; installed before "listening" is announced, so a
    # supervisor that stops us as soon as it reads that line never kills us mid-setup
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop_on_ctrl_c()
    standin = StandIn(port=args.port, faults=args.fault, api_key=args.api_key,
                      responder=responder).start()
    try:  # announce inside: a Ctrl-C sent as soon as the line is read still reports
        print(f"stand-in listening on {standin.url}  (faults: "
              f"{', '.join(args.fault) or 'none'}; Ctrl-C stops)", flush=True)
        stop.wait()
    finally:
        standin.stop()
        print(f"served {standin.count()} chat requests")
    return 0
