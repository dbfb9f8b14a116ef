"""What ``serve-bridge`` and ``serve-edge`` share: the listening options and the foreground loop.

Both put an Assistant behind a loopback HTTP server with the same guards (host, remote opt-in,
body size, deadlines, concurrency) and stop the same way on SIGINT/SIGTERM, so the options, the
bind error and the serve loop are written once; each command keeps its own defaults and help.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from edgesdk.errors import ConfigError
from edgesdk.httpserver import BackgroundHTTPServer

S = TypeVar("S", bound=BackgroundHTTPServer)


def add_listen_options(parser: argparse.ArgumentParser, *, remote_who: str, max_body_bytes: int,
                       max_deadline_help: str, max_in_flight: int, in_flight_help: str) -> None:
    """--host, --allow-remote, --max-body-bytes, --deadline, --max-deadline, --max-in-flight."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--allow-remote", action="store_true",
                        help=f"allow a non-loopback --host ({remote_who} can then connect)")
    parser.add_argument("--max-body-bytes", type=int, default=max_body_bytes)
    parser.add_argument("--deadline", type=float, default=30.0, metavar="S",
                        help="default per-request deadline in seconds")
    parser.add_argument("--max-deadline", type=float, default=120.0, metavar="S",
                        help=max_deadline_help)
    parser.add_argument("--max-in-flight", type=int, default=max_in_flight, help=in_flight_help)


def listen_config(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields those options (and ``--port``) set, for BridgeConfig / EdgeConfig."""
    return {"host": args.host, "port": args.port, "allow_remote": args.allow_remote,
            "max_body_bytes": args.max_body_bytes, "default_deadline_s": args.deadline,
            "max_deadline_s": max(args.max_deadline, args.deadline),
            "max_in_flight": args.max_in_flight}


def bind(make: Callable[[], S], args: argparse.Namespace, *,
         on_error: Callable[[], None] | None = None) -> S:
    """Build the server; a port that cannot be bound becomes a ConfigError that says what to do
    (after ``on_error``, which frees what was loaded for it)."""
    try:
        return make()
    except OSError as exc:
        if on_error is not None:
            on_error()
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({exc}); pick another "
                          "--port or stop the process using it") from exc


def stop_on_ctrl_c() -> None:
    """Make SIGINT raise ``KeyboardInterrupt`` even if our parent ignored it. A shell runs
    background jobs (``cmd &``, CI steps) with SIGINT ignored, children inherit that, and Python
    then installs no handler: Ctrl-C or ``kill -INT`` would not stop a foreground server whose
    contract is "Ctrl-C stops"."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def serve_until_stopped(server: BackgroundHTTPServer, *, banner: str,
                        then: Callable[[], None] | None = None) -> int:
    """Print ``banner`` (to stderr, once SIGTERM is handled, so a supervisor that reads it may
    stop us), serve in the foreground until Ctrl-C or SIGTERM, then close and run ``then``."""

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    stop_on_ctrl_c()
    try:  # announce inside: a Ctrl-C sent as soon as the banner is read still closes cleanly
        print(banner, file=sys.stderr, flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if then is not None:
            then()
    return 0
