"""``edgesdk router fit``: fit and save the calibrated confidence combiner for one local model;
``edgesdk router online``: show (or forget) what on-device online recalibration learnt.

Fitting reads the same generation cache as ``edgesdk eval``: the LLM runs once per question
and model, every refit after that is seconds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("router", help="fit the confidence router, inspect its online layer")
    rsub = p.add_subparsers(dest="router_command", metavar="ACTION", required=True)
    fit = rsub.add_parser("fit", help="fit a calibration from a labelled JSONL (train split)")
    fit.add_argument("--dataset", type=Path, required=True, action="append",
                     help="JSONL of {id, question, answers, category, same_as?} (same_as: the "
                          "question this one rewords); repeatable")
    fit.add_argument("--model", required=True, help="local LLM id")
    fit.add_argument("--out", type=Path, default=None,
                     help="calibration path (default: $EDGESDK_HOME/calibrations/MODEL.json, "
                          "which the Assistant and edgesdk eval then use instead of the shipped "
                          "one; delete it to go back)")
    fit.add_argument("--method", choices=("platt", "isotonic"), default="platt")
    fit.add_argument("--limit", type=int, default=None)
    fit.add_argument("--probe", action="store_true",
                     help="also fit the hidden-state probe (runs the model once per answer)")
    fit.add_argument("--cached-only", action="store_true",
                     help="fit on the questions whose generation is cached (no LLM run)")
    fit.add_argument("--peer", default=None, metavar="MODEL",
                     help="also fit the scorer that reads this second local model's answer "
                          "(peer agreement; its generations are cached like the main model's)")
    fit.add_argument("--bank-embedder",
                     choices=("auto", "hashed", "minilm", "minilm-l3", "none"), default="auto",
                     help="question representation of the neighbours lookup signal: hashed "
                          "words (built in), MiniLM-L6 (~160 MB more memory at run time), "
                          "paraphrase-MiniLM-L3 (~100 MB), or none (no lookup); auto (default): "
                          "what the model's shipped calibration uses; see docs/router.md")
    fit.add_argument("--signals", default=None,
                     help="comma-separated signal names to fit (registered ones: see "
                          "edgesdk.routing.signal.registered()); default: evidence, surface, "
                          "percepts, neighbours (unless --bank-embedder none), peer with --peer, "
                          "probe with --probe")
    fit.add_argument("--bank-pool", type=Path, action="append", default=[],
                     help="JSONL of more labelled {question, answers} for the answer bank only "
                          "(no generation needed; scripts/build_datasets.py writes pool.jsonl "
                          "with no test-split item); repeatable")
    fit.set_defaults(handler=_fit)
    online = rsub.add_parser(
        "online", help="what on-device online recalibration has learnt for a model (or forget it)")
    online.add_argument("--model", required=True, help="local LLM id")
    online.add_argument("--reset", action="store_true",
                        help="forget the stored labels: back to the shipped calibration")
    online.set_defaults(handler=_online)


def _fit(args: argparse.Namespace) -> int:
    from edgesdk.catalog import Catalog
    from edgesdk.commands.eval import collect
    from edgesdk.config import load_settings
    from edgesdk.evalrun import jsonl_rows
    from edgesdk.routing.calibration import save, user_path
    from edgesdk.routing.fitting.fit import fit_calibration
    from edgesdk.routing.signal import LabelledRow

    records = []
    for path in args.dataset:
        records += collect(path, args.model, limit=args.limit, threads=2,
                           cached_only=args.cached_only)
    peers = {}
    if args.peer is not None:
        for path in args.dataset:
            peers.update({r.item.id: r.generation for r in collect(
                path, args.peer, limit=args.limit, threads=2, cached_only=args.cached_only)})
    rows = [LabelledRow(question=r.item.question, generation=r.generation, skill=r.skill,
                        correct=r.correct, peer=peers.get(r.item.id), answers=r.item.answers,
                        same_as=r.item.same_as, source=r.item.source)
            for r in records]
    embedder = _bank_embedder(args.bank_embedder, args.model)
    signals = (tuple(n.strip() for n in args.signals.split(",") if n.strip()) if args.signals
               else None)
    hidden = None
    if args.probe:
        from edgesdk.evalrun import hidden_cache

        hc = hidden_cache(args.model)

        def hidden(question: str, answer: str) -> list[float]:
            return list(hc.state(question, answer))

    pool = [(str(row["question"]), [str(a) for a in row["answers"]])
            for path in args.bank_pool for row in jsonl_rows(path)]
    cal = fit_calibration(rows, bank_pool=pool, model_id=args.model, signals=signals,
                          hidden=hidden, model_sha256=Catalog().manifest(args.model).sha256,
                          method=args.method, peer_model_id=args.peer,
                          embed=embedder.embed if embedder is not None else None,
                          embedder_id=embedder.model_id if embedder is not None else None,
                          dataset=",".join(p.name for p in args.dataset))
    if args.probe:
        hc.save()
    path = save(cal, args.out or user_path(args.model, load_settings().home))
    print(json.dumps({"saved": str(path), **cal.fit_info}))
    return 0


def _bank_embedder(choice: str, model: str) -> Any:
    """The question embedder of the neighbours signal: ``choice``, or with ``auto`` the one
    the model's shipped calibration uses (none when it has no lookup); ``None``: no bank."""
    from edgesdk.local.embed import L3_MODEL_ID, MODEL_ID, MiniLMEmbedder
    from edgesdk.routing.calibration import shipped_question_embedder
    from edgesdk.routing.neighbours import HashedWords

    models = {"minilm": MODEL_ID, "minilm-l3": L3_MODEL_ID}
    if choice == "auto":
        shipped = shipped_question_embedder(model)
        choice = next((name for name, mid in models.items() if mid == shipped),
                      "hashed" if shipped else "none")
    if choice == "hashed":
        return HashedWords()
    if choice in models:
        return MiniLMEmbedder.load(threads=2, model_id=models[choice])
    return None


def _online(args: argparse.Namespace) -> int:
    from edgesdk.config import load_settings
    from edgesdk.devices import get_profile
    from edgesdk.routing.router import Router

    settings = load_settings()
    router = Router.for_model(args.model, profile=get_profile(settings.profile), online=True,
                              check_model_file=False, home=settings.home)
    assert router.online is not None
    try:
        if args.reset:
            router.online.reset()
        print(json.dumps({"model": args.model, **router.online.status()}, indent=1))
    finally:
        router.online.close()
    return 0
