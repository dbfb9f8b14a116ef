"""``edgesdk eval``: run the device path over a labelled JSONL and report the router's quality.

Generations are cached per model and prompt (see ``edgesdk.evalrun``), so re-running after a
refit costs seconds, not an LLM pass over the dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgesdk.evalrun import Record


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="evaluate the confidence router on a labelled dataset")
    p.add_argument("--dataset", type=Path, required=True, help="JSONL of {id, question, answers}")
    p.add_argument("--out", type=Path, required=True, help="directory for report.json/.md/.png")
    p.add_argument("--model", default=None, help="local LLM id (default: the profile's)")
    p.add_argument("--profile", default=None, help="device profile for the policy")
    p.add_argument("--cloud-answers", type=Path, default=None,
                   help="JSONL of {id, answer} from the cloud (default: the cloud is right)")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--cached-only", action="store_true",
                   help="skip questions whose local generation is not cached yet")
    p.add_argument("--probe", action="store_true",
                   help="also evaluate the router with the hidden-state probe (costlier)")
    p.add_argument("--calibration", type=Path, default=None,
                   help="calibration JSON to evaluate instead of the shipped one")
    p.add_argument("--peer", default=None, metavar="MODEL",
                   help="second local model whose answers feed the peer-agreement signal "
                        "(its generations are cached like the main model's)")
    p.add_argument("--peer-calibration", type=Path, default=None,
                   help="with --peer, when the evaluated calibration has no peer scorer: a "
                        "calibration JSON that has one, reported as with_peer")
    p.set_defaults(handler=_eval)


def resolve(model: str | None, profile_name: str | None) -> tuple[str, str]:
    """(model id, profile name): the given ones, or the default pairing of either."""
    from edgesdk.config import load_settings
    from edgesdk.devices import PROFILES

    if profile_name is None and model is not None:
        profile_name = next((p.name for p in PROFILES.values() if p.llm == model),
                            load_settings().profile)
    profile_name = profile_name or load_settings().profile
    from edgesdk.devices import get_profile

    profile = get_profile(profile_name)
    return model or profile.llm, profile.name


def collect(dataset: Path, model_id: str, *, limit: int | None, threads: int,
            cached_only: bool = False) -> list[Record]:
    from edgesdk.evalrun import default_cache, load_dataset, run_items
    from edgesdk.local.llm import LlamaCppLLM

    items = load_dataset(dataset, limit=limit)

    def progress(n: int) -> None:
        if n % 100 == 0:
            print(f"  {n}/{len(items)}", file=sys.stderr, flush=True)

    return run_items(items, model_id=model_id,
                     llm_factory=lambda: LlamaCppLLM.load(model_id, n_ctx=1024, threads=threads),
                     cache=default_cache(model_id), progress=progress,
                     cached_only=cached_only)


def _eval(args: argparse.Namespace) -> int:
    from edgesdk.devices import get_profile
    from edgesdk.evaluate import evaluate, load_cloud_answers, write_report
    from edgesdk.routing.calibration import CALIBRATION_DIR
    from edgesdk.routing.calibration import resolve as resolve_calibration
    from edgesdk.routing.router import Router

    model_id, profile_name = resolve(args.model, args.profile)
    profile = get_profile(profile_name)
    # the file is checked against the model when it is the shipped or the user's one; an
    # explicit --calibration is taken as given (a leave-one-source-out fit, a colleague's)
    router = Router.for_model(model_id, profile=profile, path=args.calibration,
                              check_model_file=args.calibration is None)
    records = collect(args.dataset, model_id, limit=args.limit, threads=profile.threads,
                      cached_only=args.cached_only)
    cloud = load_cloud_answers(args.cloud_answers) if args.cloud_answers else None
    probe_router = None
    if args.probe:
        from edgesdk.evalrun import hidden_cache

        hc = hidden_cache(model_id, threads=profile.threads)
        probe_router = Router.for_model(model_id, profile=profile, path=args.calibration,
                                        check_model_file=False, hidden=hc)
    peers, peer_router = None, None
    if args.peer is not None:
        peers = {r.item.id: r.generation for r in collect(
            args.dataset, args.peer, limit=args.limit, threads=profile.threads,
            cached_only=args.cached_only)}
        if args.peer_calibration is not None:
            peer_router = Router.for_model(model_id, profile=profile,
                                           path=args.peer_calibration, check_model_file=False)
        if (router.peer_model_id or (peer_router and peer_router.peer_model_id)) != args.peer:
            print(f"warning: the calibration expects peer "
                  f"{router.peer_model_id or (peer_router and peer_router.peer_model_id)}, "
                  f"not {args.peer}", file=sys.stderr)
    report = evaluate(records, router=router, cloud_answers=cloud, probe_router=probe_router,
                      peers=peers, peer_router=peer_router)
    if probe_router is not None:
        hc.save()
    report["dataset"] = str(args.dataset)
    report["profile"] = profile_name
    used = args.calibration or resolve_calibration(model_id)
    report["calibration_file"] = (f"shipped:{used.name}" if used.resolve().parent
                                  == CALIBRATION_DIR.resolve() else str(used))
    write_report(report, args.out)
    keys = ("model", "n", "local_accuracy", "auroc", "ece", "cloud_share_at_95",
            "oracle_cloud_share_at_95", "router_latency_ms_p50")
    print(json.dumps({k: report[k] for k in keys}))
    return 0
