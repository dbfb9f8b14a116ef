"""``edgesdk serve-bridge`` and ``edgesdk bridge-schema``: the assistant for other languages.

``serve-bridge`` loads an Assistant once and serves it on loopback until SIGINT/SIGTERM, so an
Android app (or anything speaking HTTP) can use it through ``android_bridge/``. The token comes
from ``--token`` or ``EDGESDK_BRIDGE_TOKEN`` (the environment keeps it out of ``ps`` output) and
is never printed or logged. ``--fake`` serves a model-free stand-in, for building clients.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING, cast

from edgesdk.commands.options import add_knowledge_option, knowledge_arg
from edgesdk.commands.serving import add_listen_options, bind, listen_config, serve_until_stopped
from edgesdk.errors import ConfigError
from edgesdk.types import MODES

if TYPE_CHECKING:
    from edgesdk.protocols import PerceptionLike


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from edgesdk.bridge.server import DEFAULT_PORT, TOKEN_ENV

    parser = sub.add_parser(
        "serve-bridge", help="serve the assistant over loopback HTTP for Android/Java clients"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (0: any free)")
    parser.add_argument("--token", default=None,
                        help=f"bearer token clients must send (or set {TOKEN_ENV})")
    parser.add_argument("--profile", default=None, help="device profile: watch, glasses, ...")
    parser.add_argument("--mode", choices=MODES, default=None, help="default routing mode")
    parser.add_argument("--model", default=None, help="local model id")
    parser.add_argument("--perception", action="store_true",
                        help="load the profile's perceivers (needs their models fetched)")
    add_knowledge_option(parser)
    add_listen_options(parser, remote_who="other machines", max_body_bytes=16 * 1024 * 1024,
                       max_deadline_help="largest deadline a client may ask for",
                       max_in_flight=64,
                       in_flight_help="concurrent model calls before answering 503 busy")
    parser.add_argument("--fake", action="store_true",
                        help="serve a model-free stand-in backend (for client development)")
    parser.set_defaults(handler=serve)

    schema = sub.add_parser("bridge-schema", help="regenerate or check the bridge's JSON Schema")
    schema.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    schema.set_defaults(handler=_schema)


def serve(args: argparse.Namespace) -> int:
    from edgesdk.bridge.backend import AssistantBackend, BridgeBackend, FakeBackend
    from edgesdk.bridge.server import TOKEN_ENV, BridgeConfig, BridgeServer

    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        raise ConfigError(f"no bridge token: pass --token or set {TOKEN_ENV}")
    logging.getLogger("edgesdk.bridge").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    config = BridgeConfig(token=token, **listen_config(args),
                          profile="fake" if args.fake else args.profile)
    closer = None
    backend: BridgeBackend
    if args.fake:
        backend = FakeBackend()
    else:
        from edgesdk.assistant import Assistant
        from edgesdk.config import load_settings

        settings = load_settings()
        profile = args.profile or settings.profile
        config = BridgeConfig(**{**config.__dict__, "profile": profile})
        assistant = Assistant(profile=profile, mode=args.mode or settings.mode,
                              model=args.model, settings=settings,
                              perception=_perception(profile) if args.perception else None,
                              knowledge=knowledge_arg(args))
        closer = assistant.close
        backend = AssistantBackend(assistant=assistant)
    server = bind(lambda: BridgeServer(backend=backend, config=config), args, on_error=closer)
    return serve_until_stopped(
        server, then=closer,
        banner=f"edgesdk bridge listening on {server.url} (protocol v1, profile "
               f"{config.profile or 'default'}); Ctrl-C to stop")


def _perception(profile: str) -> PerceptionLike:
    from edgesdk.catalog import Catalog
    from edgesdk.devices import get_profile
    from edgesdk.local.perceive import build_perceivers

    return cast("PerceptionLike", build_perceivers(get_profile(profile), catalog=Catalog()))


def _schema(args: argparse.Namespace) -> int:
    from edgesdk.bridge.schema import run

    return run(check=args.check)
