"""``edgesdk models list | fetch [ID] | verify [ID]``: manage the on-device model store."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgesdk.errors import EdgeSDKError, ModelError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("models", help="list, fetch and verify model files")
    msub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    p_list = msub.add_parser("list", help="show every model in the catalog")
    p_list.add_argument("--json", action="store_true", help="print JSON")
    p_list.set_defaults(handler=_list)

    p_fetch = msub.add_parser("fetch", help="download, extract and verify models (all if no ID)")
    p_fetch.add_argument("ids", nargs="*", metavar="ID")
    p_fetch.add_argument("--force", action="store_true", help="re-download even if present")
    p_fetch.set_defaults(handler=_fetch)

    p_verify = msub.add_parser("verify", help="check sha256 of stored models (all if no ID)")
    p_verify.add_argument("ids", nargs="*", metavar="ID")
    p_verify.set_defaults(handler=_verify)


def _list(args: argparse.Namespace) -> int:
    from edgesdk.catalog import Catalog

    catalog = Catalog()
    rows: list[dict[str, Any]] = []
    for model_id, manifest in sorted(catalog.manifests.items()):
        status = catalog.status(model_id)
        rows.append({
            "id": model_id,
            "task": manifest.task,
            "runtime": manifest.runtime,
            "size": manifest.size,
            "licence": manifest.licence,
            "profiles": list(manifest.profiles),
            "fetched": status.fetched,
            "path": status.path,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "task", "runtime", "size", "fetched", "profiles", "licence")
    for row in rows:
        table.add_row(
            str(row["id"]), str(row["task"]), str(row["runtime"]),
            f"{int(row['size']) / 1e6:.1f} MB", "yes" if row["fetched"] else "no",
            ",".join(row["profiles"]), str(row["licence"]),
        )
    Console().print(table)
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from edgesdk.catalog import Catalog

    catalog = Catalog()
    ids = args.ids or sorted(catalog.manifests)
    for model_id in ids:
        catalog.manifest(model_id)  # unknown id -> typed error before any download
    for model_id in ids:
        print(f"fetching {model_id} ...", flush=True)
        path = catalog.fetch(model_id, force=args.force)
        print(f"  ok {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from edgesdk.catalog import Catalog

    catalog = Catalog()
    ids = args.ids or sorted(catalog.manifests)
    failures = 0
    for model_id in ids:
        try:
            path = catalog.verify(model_id, progress=True)
        except ModelError as exc:
            failures += 1
            print(f"FAIL {model_id}: {exc}")
        except EdgeSDKError:
            raise
        else:
            print(f"ok   {model_id} {path}")
    return 1 if failures else 0
