"""Simulate an hour of smart-glasses use and measure what the data filter uploads.

Why: the claim of edgesdk.data is that a device can observe ~100+ MB an hour and upload a few
hundred KB while keeping most of what is worth learning from. This script checks it end to end
with the real pieces: real JPEG frames (scikit-image photos, 640x480, 1 fps), 16 kHz 16-bit
mono audio (counted, never uploaded), questions with ground-truth labels, the real Curator
(MiniLM embeddings and BlazeFace face blurring when those models are fetched), the SQLite
outbox, and the uploader posting over HTTP to the reference ingest server on 127.0.0.1.

Ground truth ("high-value" events) is decided by the generator, not by the Curator:
  * ``device_wrong``  the local model's answer was wrong (whatever its confidence said);
  * ``correction``    the user corrected an answer;
  * ``novel_topic``   the first time a long-tail topic is asked this hour;
  * ``rare_object``   a rare object (cat, rocket) came into view.
The router is simulated by a noisy confidence signal (AUROC ~0.8) with an escalation threshold.

Deterministic for a given --seed. Writes JSON and Markdown to --out.

    .venv/bin/python scripts/simulate_glasses_hour.py --out out/sim
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.data.curate import Curator
from edgesdk.data.outbox import Outbox
from edgesdk.data.redact import ImagePolicy, Redactor
from edgesdk.data.uploader import Uploader
from edgesdk.data.value import Triggers
from edgesdk.protocols import Embedder
from edgesdk.testing.ingest import IngestServer
from edgesdk.types import Answer, DetectedObject, Face, Percept

AUDIO_BYTES_PER_S = 16_000 * 2  # 16 kHz, 16-bit mono PCM
SCENES = {  # scene -> (skimage image, object labels, has a face, share of the hour)
    "desk": ("coffee", ["Coffee cup"], False, 0.45),
    "colleague": ("astronaut", ["Person"], True, 0.35),
    "street": ("rocket", ["Building"], False, 0.15),
    "cat": ("chelsea", ["Cat"], False, 0.04),
    "launch": ("rocket", ["Rocket"], False, 0.01),
}
RARE_LABELS = {"Cat", "Rocket"}

# (topic, kind, P(local answer wrong), question variants); the first TOPICS_HEAD are common.
TOPICS: list[tuple[str, str, float, list[str]]] = [
    ("time", "skill", 0.0, ["What time is it?", "what's the time now"]),
    ("math", "skill", 0.0, ["What is 17 times 23?", "what is 12 plus 30", "15% of 80?"]),
    ("weather", "fact", 0.3, ["Will it rain today?", "what's the weather like"]),
    ("cup", "scene", 0.2, ["What is on my desk?", "what am I looking at"]),
    ("who", "scene", 0.4, ["Who is in front of me?", "do I know this person"]),
    ("units", "skill", 0.0, ["How many miles is 10 km?", "convert 5 feet to metres"]),
    ("remind", "fact", 0.2, ["Remind me to call mum at 6", "set a reminder for the meeting"]),
    ("capital", "fact", 0.5, ["What is the capital of Australia?", "capital city of Canada"]),
    ("translate", "fact", 0.6, ["How do I say thank you in Japanese?",
                                "translate 'where is the station' into German"]),
    ("email", "fact", 0.3, ["Send the notes to anna.li@example.com",
                            "email the slides to tom@corp.example.org"]),
    ("call", "fact", 0.3, ["Call 13812345678", "phone +44 20 7946 0958 please"]),
    ("zh_food", "fact", 0.6, ["附近有什么好吃的餐厅？", "这道菜叫什么名字"]),
    ("zh_id", "fact", 0.5, ["帮我记住身份证号11010519491231002X",
                            "我的银行卡号是6222021234567890128"]),
    ("history", "fact", 0.7, ["When was the Great Wall built?", "who built the pyramids"]),
    ("plant", "scene", 0.7, ["What kind of plant is this?", "is this plant poisonous to cats"]),
    ("wine", "fact", 0.7, ["Which wine goes with fish?", "recommend a red wine for steak"]),
    ("bus", "fact", 0.6, ["When is the next bus to the airport?", "which bus goes downtown"]),
    ("cat_breed", "scene", 0.7, ["What breed is this cat?", "how old is this cat"]),
    ("rocket", "scene", 0.8, ["What rocket is that?", "how tall is this rocket"]),
    ("physics", "fact", 0.8, ["Why is the sky blue?", "how do magnets work"]),
    ("chess", "fact", 0.8, ["What is the best chess opening for beginners?",
                            "how does castling work"]),
    ("medicine", "fact", 0.8, ["Can I take ibuprofen with coffee?",
                               "what is a normal resting heart rate"]),
    ("tax", "fact", 0.8, ["How do I file taxes as a freelancer?",
                          "what expenses can I deduct"]),
    ("poem", "fact", 0.7, ["Write a haiku about autumn", "a short poem about the sea"]),
]
TOPICS_HEAD = 8
QUESTIONS_PER_HOUR = 60


@dataclass
class Event:
    at: float
    kind: str  # "question" | "scene"
    high_value: set[str]
    answer: Answer
    image: bytes | None
    feedback: tuple[bool, str | None] | None = None


def frame_variants(name: str, rng: random.Random, n: int = 12) -> list[bytes]:
    """Real JPEGs: random 85-100% crops of a scikit-image photo, 640x480, quality 80."""
    from PIL import Image
    from skimage import data as skdata

    img = Image.fromarray(getattr(skdata, name)()).convert("RGB")
    out = []
    for _ in range(n):
        f = rng.uniform(0.85, 1.0)
        w, h = int(img.width * f), int(img.height * f)
        x, y = rng.randrange(img.width - w + 1), rng.randrange(img.height - h + 1)
        buf = io.BytesIO()
        img.crop((x, y, x + w, y + h)).resize((640, 480)).save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


def percepts_for(scene: str, rng: random.Random) -> list[Percept]:
    _, labels, face, _ = SCENES[scene]
    out: list[Percept] = [DetectedObject(label=lb, box=(100, 100, 300, 300),
                                         score=round(rng.uniform(0.6, 0.95), 2))
                          for lb in labels]
    if face:
        out.append(Face(box=(200, 60, 330, 220), score=0.9))
    return out


def generate(minutes: float, seed: int) -> tuple[list[Event], dict[str, Any]]:
    rng = random.Random(seed)
    duration = int(minutes * 60)
    frames = {s: frame_variants(SCENES[s][0], rng) for s in SCENES}
    events: list[Event] = []
    frame_bytes = 0
    scene, scene_left = "desk", 0.0
    asked: set[str] = set()
    q_rate = QUESTIONS_PER_HOUR / 3600.0
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(TOPICS))]
    n = 0
    for t in range(duration):
        if scene_left <= 0:
            names = list(SCENES)
            scene = rng.choices(names, weights=[SCENES[s][3] for s in names])[0]
            scene_left = rng.expovariate(1 / 60.0)
            frame = rng.choice(frames[scene])
            labels = set(SCENES[scene][1])
            n += 1
            events.append(Event(
                at=float(t), kind="scene",
                high_value={"rare_object"} if labels & RARE_LABELS else set(),
                answer=Answer(text="", tier="device", confidence=1.0, escalated=False,
                              latency_ms=8.0, source="percept", id=f"s{n}",
                              percepts=percepts_for(scene, rng)),
                image=frame))
        scene_left -= 1
        frame = rng.choice(frames[scene])
        frame_bytes += len(frame)
        if rng.random() < q_rate:
            idx = rng.choices(range(len(TOPICS)), weights=weights)[0]
            if TOPICS[idx][1] == "scene" and idx > TOPICS_HEAD:  # scene questions follow the view
                idx = {"cat": 17, "launch": 18}.get(scene, 3)
            topic, kind, p_wrong, variants = TOPICS[idx]
            question = rng.choice(variants)
            wrong = rng.random() < p_wrong
            # router signal: confident when right, less so when wrong (noisy, AUROC ~0.8)
            conf = 1.0 if kind == "skill" else float(np.clip(
                rng.gauss(0.72 if not wrong else 0.42, 0.18), 0.0, 1.0))
            escalate = conf < 0.5
            local_text = f"local answer to {topic}" + (" (wrong)" if wrong else "")
            truth = f"correct answer about {topic}"
            device_text = truth if not wrong else local_text
            high: set[str] = set()
            if wrong:
                high.add("device_wrong")
            if idx >= TOPICS_HEAD and topic not in asked:
                high.add("novel_topic")
            asked.add(topic)
            feedback = None
            if wrong and not escalate and rng.random() < 0.5:
                feedback = (False, f"No, the {truth}")
                high.add("correction")
            n += 1
            answer = Answer(
                text=truth if escalate else device_text, tier="cloud" if escalate else "device",
                confidence=round(conf, 3), escalated=escalate, latency_ms=900.0 if escalate else
                250.0, question=question, device_text=device_text if escalate else None,
                source="skill" if kind == "skill" else "llm", id=f"q{n}",
                percepts=percepts_for(scene, rng))
            events.append(Event(at=float(t), kind="question", high_value=high, answer=answer,
                                image=frame if kind == "scene" else None, feedback=feedback))
    observed = {"frames": frame_bytes, "audio": AUDIO_BYTES_PER_S * duration,
                "questions": sum(len(e.answer.question.encode()) for e in events)}
    return events, observed


class SimClock:
    def __init__(self, t0: float) -> None:
        self.t = t0

    def __call__(self) -> float:
        return self.t


def load_models() -> tuple[Embedder | None, Any, list[str]]:
    notes: list[str] = []
    embedder: Embedder | None = None
    faces: Any = None
    try:
        from edgesdk.local.embed import MiniLMEmbedder

        embedder = MiniLMEmbedder.load()
        notes.append("embeddings: MiniLM-L6 int8 (real)")
    except Exception as exc:  # models not fetched: run without novelty
        notes.append(f"embeddings: none ({type(exc).__name__}); novelty trigger off")
    try:
        from edgesdk.catalog import Catalog
        from edgesdk.local.vision import FaceDetector

        faces = FaceDetector.load(catalog=Catalog())
        notes.append("faces: BlazeFace short-range (real)")
    except Exception as exc:
        notes.append(f"faces: none ({type(exc).__name__}); images dropped")
    return embedder, faces, notes


def simulate(minutes: float, seed: int, workdir: Path, triggers: Triggers | None = None
             ) -> dict[str, Any]:
    events, observed = generate(minutes, seed)
    embedder, faces, notes = load_models()
    t0 = 1_767_225_600.0  # 2026-01-01T00:00Z
    clock = SimClock(t0)
    redactor = Redactor(face_detector=faces, image_policy=ImagePolicy(thumbnail_px=96,
                                                                      jpeg_quality=50))
    triggers = (triggers or Triggers()).model_copy(
        update={"rare_labels": frozenset(RARE_LABELS)})
    hv_total: Counter[str] = Counter()
    hv_kept: Counter[str] = Counter()
    kept_events = kept_routine = hv_events = hv_events_kept = hv_as_repeat = 0
    with Outbox(workdir / "outbox.sqlite3", clock=clock, seed=seed) as box, \
            IngestServer(db_path=workdir / "ingest.sqlite3") as server:
        curator = Curator(outbox=box, triggers=triggers, redactor=redactor, embedder=embedder,
                          clock=clock, seed=seed)
        uploader = Uploader(outbox=box, ingest_url=server.url, clock=clock,
                            sleep=lambda s: None)
        next_upload = t0 + 300
        reports = []
        for ev in events:
            clock.t = t0 + ev.at
            if clock.t >= next_upload:  # on Wi-Fi: the uploader wakes every 5 minutes
                reports.append(uploader.run_once(max_wait_s=0))
                next_upload += 300
            decision = curator.consider(ev.answer, image=ev.image)
            kept = decision.kept
            as_repeat = decision.repeat_of is not None
            if ev.feedback is not None:
                clock.t += 5
                fb = curator.feedback(ev.answer.id, good=ev.feedback[0],
                                      correction=ev.feedback[1])
                kept = kept or fb.kept
                as_repeat = as_repeat and not fb.kept
            kept_events += kept
            if ev.high_value:
                hv_events += 1
                hv_events_kept += kept
                hv_as_repeat += kept and as_repeat
                for label in ev.high_value:
                    hv_total[label] += 1
                    hv_kept[label] += kept
            elif kept:
                kept_routine += 1
        clock.t = t0 + minutes * 60
        reports.append(uploader.run_once(max_wait_s=0))
        uploader.close()
        wire = sum(r.bytes_sent for r in reports)
        raw = sum(r.bytes_raw for r in reports)
        server_stats = server.stats()
        thumbs = [len(r["payload"]["image_jpeg_b64"]) * 3 // 4 for r in server.records()
                  if "image_jpeg_b64" in r["payload"]]
        stats = curator.stats()
    total_observed = sum(observed.values())
    return {
        "minutes": minutes, "seed": seed, "models": notes,
        "observed_bytes": observed, "observed_total": total_observed,
        "events": {"questions": sum(e.kind == "question" for e in events),
                   "scene_changes": sum(e.kind == "scene" for e in events),
                   "frames": int(minutes * 60)},
        "uploaded": {"records": server_stats["records"], "wire_bytes": wire,
                     "json_bytes": raw, "requests": server_stats["requests"],
                     "thumbnails": len(thumbs), "thumbnail_bytes": sum(thumbs)},
        "ratio_observed_to_uploaded": round(total_observed / max(wire, 1), 1),
        "high_value": {"events": hv_events, "kept": hv_events_kept,
                       "kept_as_repeat": hv_as_repeat,
                       "share_kept": round(hv_events_kept / max(hv_events, 1), 3),
                       "by_label": {k: {"events": hv_total[k], "kept": hv_kept[k]}
                                    for k in sorted(hv_total)}},
        "routine": {"events": len(events) - hv_events, "kept": kept_routine},
        "kept_events": kept_events,
        "precision": round((kept_events - kept_routine) / max(kept_events, 1), 3),
        "curator": stats.model_dump(),
    }


def markdown(r: dict[str, Any]) -> str:
    ob = r["observed_bytes"]
    hv = r["high_value"]
    lines = [
        f"# Simulated {r['minutes']:g} min of smart-glasses use (seed {r['seed']})", "",
        *[f"- {n}" for n in r["models"]], "",
        "| | bytes |", "|---|---:|",
        f"| frames observed (1 fps 640x480 JPEG) | {ob['frames']:,} |",
        f"| audio observed (16 kHz 16-bit mono) | {ob['audio']:,} |",
        f"| question text observed | {ob['questions']:,} |",
        f"| **observed total** | **{r['observed_total']:,}** |",
        f"| uploaded on the wire (gzip JSON lines) | {r['uploaded']['wire_bytes']:,} |",
        f"| uploaded JSON before gzip | {r['uploaded']['json_bytes']:,} |",
        f"| **observed / uploaded** | **{r['ratio_observed_to_uploaded']:,}x** |", "",
        f"Records uploaded: {r['uploaded']['records']} in {r['uploaded']['requests']} requests, "
        f"{r['uploaded']['thumbnails']} with a face-blurred thumbnail "
        f"({r['uploaded']['thumbnail_bytes']:,} bytes).",
        f"High-value events kept: **{hv['kept']}/{hv['events']} "
        f"({hv['share_kept']:.0%})**, {hv['kept_as_repeat']} of them as a repeat count "
        "(a question kept earlier asked again); routine events kept: {r['routine']['kept']}/"
        f"{r['routine']['events']}; precision of what was kept: {r['precision']:.0%}.", "",
        "| high-value label | events | kept |", "|---|---:|---:|",
        *[f"| {k} | {v['events']} | {v['kept']} |" for k, v in hv["by_label"].items()], "",
        f"Curator drops: {r['curator']['dropped']}; kept reasons: {r['curator']['reasons']}; "
        f"redactions: {r['curator']['redactions']}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/sim"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgesdk-sim-") as tmp:
        result = simulate(args.minutes, args.seed, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "glasses_hour.json").write_text(json.dumps(result, indent=2))
    (args.out / "glasses_hour.md").write_text(markdown(result))
    sys.stdout.write(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
