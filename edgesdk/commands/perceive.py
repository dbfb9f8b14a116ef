"""``edgesdk perceive PATH [--json] [--profile P]``: run the device's perceivers on one file.

Lets a developer see what the glasses would "see" or "hear" in a photo or a WAV file, with the
same models and thresholds the assistant uses, before wiring anything into an app.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

AUDIO_SUFFIXES = {".wav", ".wave"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("perceive", help="detect faces, objects, text or speech in a file")
    parser.add_argument("path", metavar="PATH", help="an image (JPEG/PNG/...) or a WAV file")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--profile", default="glasses", help="device profile (default: glasses)")
    parser.add_argument("--only", default=None,
                        help="comma-separated perceivers to run (e.g. faces,ocr)")
    parser.set_defaults(handler=_perceive)


def percept_row(percept: Any) -> dict[str, Any]:
    """The CLI/JSON shape of one percept: kind, score, and box/label/text when it has them."""
    row: dict[str, Any] = {"kind": percept.kind, "score": round(float(percept.score), 4)}
    if hasattr(percept, "box"):
        row["box"] = [round(float(v), 1) for v in percept.box]
    for attr in ("label", "text", "name"):
        if hasattr(percept, attr):
            row["label" if attr == "name" else attr] = getattr(percept, attr)
    if percept.kind == "speech":
        row["segments"] = [[s.start_s, s.end_s] for s in percept.segments]
    if percept.kind == "wake_word":
        row["at_s"] = percept.at_s
    return row


def _perceive(args: argparse.Namespace) -> int:
    from edgesdk.catalog import Catalog
    from edgesdk.devices import get_profile
    from edgesdk.errors import InvalidImage
    from edgesdk.local.audio import to_mono16k
    from edgesdk.local.images import to_rgb
    from edgesdk.local.perceive import build_perceivers

    path = Path(args.path)
    if not path.is_file():
        raise InvalidImage(f"{path} does not exist; pass an image or a WAV file")
    is_audio = path.suffix.lower() in AUDIO_SUFFIXES
    (to_mono16k if is_audio else to_rgb)(path)  # fail fast, before loading any model
    profile = get_profile(args.profile)
    modality = {"vad", "wakeword", "denoise", "asr"} if is_audio else {"faces", "objects", "ocr"}
    names = [n for n in (args.only.split(",") if args.only else profile.perceivers)
             if n in modality]
    suite = build_perceivers(profile, catalog=Catalog(), names=names)
    result = suite.perceive(audio=path) if is_audio else suite.perceive(image=path)
    rows = [percept_row(p) for p in result.percepts]
    if args.json:
        print(json.dumps({"percepts": rows, "transcript": result.transcript,
                          "timings_ms": result.timings}, ensure_ascii=False))
        return 0
    if not rows:
        print("nothing found")
    for row in rows:
        extra = row.get("text") or row.get("label") or ""
        box = " box=" + ",".join(f"{v:.0f}" for v in row["box"]) if "box" in row else ""
        print(f"{row['kind']:<10} {row['score']:.2f} {extra}{box}")
    return 0
