"""``edgesdk knowledge`` (the device's documents and learned answers) and ``edgesdk packs``
(the fleet's answer packs: keys, build, pull).

    edgesdk knowledge add docs/ manual.pdf      index files and folders for a profile
    edgesdk knowledge search "when does it open"
    edgesdk knowledge list | remove SOURCE | forget | clear
    edgesdk packs keygen --out keys/             an Ed25519 key pair (raw, 32 bytes each)
    edgesdk packs build --parquet DIR --key keys/pack.key --out pack.json [--min-devices 3]
    edgesdk packs pull URL --public-key keys/pack.pub
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("knowledge", help="the device's documents and learned answers")
    k.add_argument("--profile", default=None, help="device profile (its embedder and caps)")
    ks = k.add_subparsers(dest="action", required=True)
    add = ks.add_parser("add", help="index files and folders (txt, md, html, pdf)")
    add.add_argument("paths", nargs="+", type=Path)
    search = ks.add_parser("search", help="the passages and the answer for a question")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=3)
    ks.add_parser("list", help="the indexed documents")
    remove = ks.add_parser("remove", help="remove one document")
    remove.add_argument("source")
    ks.add_parser("forget", help="forget the answers learned from the cloud")
    ks.add_parser("clear", help="remove every document and learned answer")
    k.set_defaults(handler=run_knowledge)

    p = sub.add_parser("packs", help="the fleet's signed answer packs")
    ps = p.add_subparsers(dest="action", required=True)
    keygen = ps.add_parser("keygen", help="make an Ed25519 key pair for signing packs")
    keygen.add_argument("--out", type=Path, required=True, help="folder for pack.key/pack.pub")
    build = ps.add_parser("build", help="build a signed pack from the ingest server's Parquet")
    build.add_argument("--parquet", type=Path, required=True, help="the Parquet root folder")
    build.add_argument("--key", type=Path, required=True, help="the private key (pack.key)")
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--profile", default="phone", help="whose embedder the pack is for")
    build.add_argument("--min-devices", type=int, default=3)
    build.add_argument("--max-entries", type=int, default=5000)
    build.add_argument("--version", default=None)
    pull = ps.add_parser("pull", help="download, verify and install a pack")
    pull.add_argument("url")
    pull.add_argument("--public-key", type=Path, required=True, help="the trusted pack.pub")
    pull.add_argument("--profile", default=None)
    p.set_defaults(handler=run_packs)


def _knowledge(profile_name: str | None) -> object:
    from edgesdk.config import load_settings
    from edgesdk.devices import get_profile
    from edgesdk.knowledge.base import Knowledge

    settings = load_settings()
    profile = get_profile(profile_name or settings.profile)
    return Knowledge(settings.home / "knowledge" / profile.name,
                     embedder_id=profile.knowledge_embedder,
                     max_chunks=profile.knowledge_chunks, max_learned=profile.learned_answers,
                     reader_id=profile.knowledge_reader)


def run_knowledge(args: argparse.Namespace) -> int:
    from edgesdk.knowledge.base import Knowledge
    from edgesdk.knowledge.extract import extract

    knowledge = _knowledge(args.profile)
    assert isinstance(knowledge, Knowledge)
    try:
        if args.action == "add":
            report = knowledge.add(args.paths)
            print(f"indexed {len(report.indexed)} documents, {report.chunks} chunks")
            for path, why in report.skipped:
                print(f"skipped {path}: {why}")
            return 1 if report.skipped and not report.indexed else 0
        if args.action == "search":
            hits = knowledge.search(args.question, k=max(args.k, 8))
            found = extract(args.question, hits, embedder=knowledge.embedder,
                            reader=knowledge.reader)
            print(json.dumps({
                "answer": found.text if found else None,
                "source": found.source if found else None,
                "passages": [{"source": h.source, "title": h.title, "score": round(h.score, 3),
                              "text": h.text[:300]} for h in hits[:args.k]]},
                ensure_ascii=False, indent=1))
            return 0
        if args.action == "list":
            for source, title, chunks in knowledge.sources():
                print(f"{source}\t{chunks} chunks\t{title}")
            return 0
        if args.action == "remove":
            return 0 if knowledge.remove(args.source) else 1
        if args.action == "forget":
            knowledge.forget()
            return 0
        knowledge.clear()
        return 0
    finally:
        knowledge.close()


def run_packs(args: argparse.Namespace) -> int:
    from edgesdk.knowledge import packs

    if args.action == "keygen":
        private, public = packs.generate_keys()
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "pack.key").write_bytes(private)
        (args.out / "pack.key").chmod(0o600)
        (args.out / "pack.pub").write_bytes(public)
        print(f"wrote {args.out}/pack.key (keep it secret) and {args.out}/pack.pub "
              f"(key id {packs.key_id(public)})")
        return 0
    if args.action == "build":
        from edgesdk.data.fleet import parquet_files
        from edgesdk.devices import get_profile
        from edgesdk.routing.knowledge import load_knowledge_calibration
        from edgesdk.routing.signals.neighbours import bank_embedder

        embedder_id = get_profile(args.profile).knowledge_embedder
        calibration = load_knowledge_calibration(embedder_id)
        blob = packs.build_pack(
            parquet_files(args.parquet), embedder=bank_embedder(embedder_id),
            embedder_id=embedder_id, private_key=args.key.read_bytes(), version=args.version,
            min_devices=args.min_devices, max_entries=args.max_entries,
            thresholds={"learned": calibration.learned.threshold})
        args.out.write_bytes(blob)
        print(f"wrote {args.out} ({len(blob)} bytes)")
        return 0
    from edgesdk.knowledge.base import Knowledge

    knowledge = _knowledge(args.profile)
    assert isinstance(knowledge, Knowledge)
    try:
        pack = packs.pull_pack(args.url, learned=knowledge.learned,
                               public_key=args.public_key.read_bytes(),
                               embedder_id=knowledge.embedder_id)
        print(f"installed pack {pack.version}: {len(pack.entries)} answers")
        return 0
    finally:
        knowledge.close()
