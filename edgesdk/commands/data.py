"""``edgesdk upload``, ``edgesdk ingest-server`` and ``edgesdk data stats | export-distill``.

The uploader runs as its own process (a phone's background job, a cron entry) so that it can be
killed at any moment without touching the app; these commands are thin wrappers over
``edgesdk.data`` and ``edgesdk.testing.ingest``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_up = sub.add_parser("upload", help="send the outbox to an ingest server")
    p_up.add_argument("--ingest-url", required=True, metavar="URL")
    p_up.add_argument("--once", action="store_true", help="drain, then exit 0 when empty")
    p_up.add_argument("--outbox", type=Path, default=None, help="outbox file (default: "
                      "$EDGESDK_HOME/outbox/outbox.sqlite3)")
    p_up.add_argument("--token", default=os.environ.get("EDGESDK_INGEST_TOKEN"),
                      help="bearer token (default: $EDGESDK_INGEST_TOKEN)")
    p_up.add_argument("--batch", type=int, default=100, help="records per request")
    p_up.add_argument("--lease-s", type=float, default=60.0,
                      help="seconds a killed uploader's batch stays reserved")
    p_up.add_argument("--network", choices=("none", "metered", "unmetered"), default="unmetered")
    p_up.add_argument("--profile", default=None,
                      help="device profile whose battery floor applies (default: "
                           "$EDGESDK_PROFILE)")
    p_up.add_argument("--battery", type=_fraction, default=None, metavar="FRACTION",
                      help="battery level 0-1 (default: as the OS reports it, "
                           "/sys/class/power_supply; none there: on mains)")
    p_up.add_argument("--charging", action=argparse.BooleanOptionalAction, default=None,
                      help="charging or not (default: as the OS reports it)")
    p_up.add_argument("--allow-metered", action="store_true")
    p_up.add_argument("--charging-only", action="store_true")
    p_up.add_argument("--daily-mb", type=float, default=50.0, help="daily upload budget (MB)")
    p_up.add_argument("--max-wait-s", type=float, default=None,
                      help="with --once: give up waiting for retries after this long")
    p_up.add_argument("--idle-s", type=float, default=5.0,
                      help="without --once: seconds to sleep when there is nothing to send")
    p_up.set_defaults(handler=_upload)

    p_srv = sub.add_parser("ingest-server", help="run the reference ingest server")
    p_srv.add_argument("--port", type=int, default=8765)
    p_srv.add_argument("--host", default="127.0.0.1")
    p_srv.add_argument("--db", type=Path, required=True, metavar="PATH")
    p_srv.add_argument("--token", default=None)
    p_srv.add_argument("--campaigns", type=Path, default=None,
                       help="JSON file: a list of campaigns to serve")
    p_srv.set_defaults(handler=_ingest_server)

    p_data = sub.add_parser("data", help="inspect the outbox, export the distillation set")
    dsub = p_data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p_stats = dsub.add_parser("stats", help="outbox counters")
    p_stats.add_argument("--outbox", type=Path, default=None)
    p_stats.add_argument("--json", action="store_true")
    p_stats.set_defaults(handler=_stats)
    p_ex = dsub.add_parser("export-distill",
                           help="escalated questions + teacher answers as chat JSONL")
    p_ex.add_argument("--out", type=Path, required=True)
    src = p_ex.add_mutually_exclusive_group()
    src.add_argument("--outbox", type=Path, default=None, help="read the device outbox")
    src.add_argument("--ingest-db", type=Path, default=None, help="read an ingest server DB")
    p_ex.add_argument("--system", default=None, help="system prompt to prepend")
    p_ex.add_argument("--min-confidence", type=float, default=None,
                      help="skip teacher answers their tier was less sure of (default 0.5: "
                           "the cloud reports 1.0, 0.5 when cut off; an edge tier its P(right))")
    p_ex.set_defaults(handler=_export_distill)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a battery level between 0 and 1 "
                                         "(e.g. 0.35)")
    return value


def _upload(args: argparse.Namespace) -> int:
    from edgesdk.config import load_settings
    from edgesdk.data.outbox import Outbox
    from edgesdk.data.uploader import Uploader, UploadPolicy
    from edgesdk.devices import DeviceState, get_profile

    profile = get_profile(args.profile or load_settings().profile)
    policy = UploadPolicy.for_profile(profile, unmetered_only=not args.allow_metered,
                                      charging_only=args.charging_only,
                                      daily_bytes=int(args.daily_mb * 1024 * 1024))

    def state() -> DeviceState:  # read again before every batch: the battery drains
        now = DeviceState.from_system(network=args.network)
        return now.model_copy(update={
            **({"battery": args.battery} if args.battery is not None else {}),
            **({"charging": args.charging} if args.charging is not None else {})})

    with Outbox(args.outbox) as outbox, Uploader(
        outbox=outbox, ingest_url=args.ingest_url, token=args.token, policy=policy,
        device_state=state, batch_records=args.batch, lease_s=args.lease_s,
    ) as uploader:
        if not args.once:
            uploader.run_forever(idle_s=args.idle_s)
            return 0
        report = uploader.run_once(max_wait_s=args.max_wait_s)
    print(json.dumps(report.model_dump()))
    if report.blocked is not None:
        print(f"edgesdk: upload stopped: {report.blocked}", file=sys.stderr)
        return 3
    return 0


def _ingest_server(args: argparse.Namespace) -> int:
    from edgesdk.testing.ingest import IngestServer

    campaigns = json.loads(args.campaigns.read_text()) if args.campaigns else []
    args.db.parent.mkdir(parents=True, exist_ok=True)
    server = IngestServer(db_path=args.db, host=args.host, port=args.port, token=args.token,
                          campaigns=campaigns)
    print(f"ingest server on {server.url} (db {args.db})", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0


def _stats(args: argparse.Namespace) -> int:
    from edgesdk.data.outbox import Outbox

    with Outbox(args.outbox) as outbox:
        stats = outbox.stats()
    if args.json:
        print(json.dumps(stats.model_dump(), indent=2))
    else:
        for key, value in stats.model_dump().items():
            print(f"{key:>14}: {value}")
    return 0


def _export_distill(args: argparse.Namespace) -> int:
    from edgesdk.data.distill import (
        MIN_TEACHER_CONFIDENCE,
        export_distill,
        records_from_ingest_db,
        records_from_outbox,
    )
    from edgesdk.data.outbox import Outbox

    floor = MIN_TEACHER_CONFIDENCE if args.min_confidence is None else args.min_confidence
    if not 0.0 <= floor <= 1.0:
        print("edgesdk: --min-confidence must be between 0 and 1", file=sys.stderr)
        return 2
    if args.ingest_db is not None:
        n = export_distill(records_from_ingest_db(args.ingest_db), args.out, system=args.system,
                           min_confidence=floor)
    else:
        with Outbox(args.outbox) as outbox:
            n = export_distill(records_from_outbox(outbox), args.out, system=args.system,
                               min_confidence=floor)
    print(f"wrote {n} examples to {args.out}")
    return 0
