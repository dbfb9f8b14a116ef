"""Smart-glasses demo: a scripted session of real inputs through the ``glasses`` profile.

Photos (a person, a cat, a cup), signs in English and Chinese (one tilted and blurred), spoken
questions after a wake word, a noisy café, typed questions, a correction from the user — each
goes through the same ``Assistant.ask`` an app would call. The glasses run SmolLM2-135M plus
face, object and text detection, voice activity, wake word, noise suppression and speech
recognition. With no ``DEEPSEEK_API_KEY`` a phone is simulated as the edge tier: a separate
process serving the ``phone`` profile (Gemma 3 270M) on 127.0.0.1 — so escalation is real.
With a key, the glasses escalate to DeepSeek.

Every interaction is scored and redacted on the glasses; the few worth learning from go to a
crash-safe outbox, and at the end the uploader drains it to an ingest server on 127.0.0.1.

    python examples/smart_glasses_demo.py [--frames N] [--summary out/summary.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from edgesdk import Answer, Assistant, DeviceState, EdgeSDKError
from edgesdk.catalog import Catalog
from edgesdk.cloud.tier import build_tier
from edgesdk.config import load_settings
from edgesdk.data.curate import Curator
from edgesdk.data.outbox import Outbox
from edgesdk.data.redact import Redactor
from edgesdk.data.uploader import Uploader
from edgesdk.devices import get_profile
from edgesdk.local.embed import MiniLMEmbedder
from edgesdk.local.perceive import build_perceivers
from edgesdk.local.vision import FaceDetector
from edgesdk.native import CRASH_HINT, describe_exit
from edgesdk.testing import media
from edgesdk.testing.ingest import IngestServer
from edgesdk.wiring import build_default_tiers

console = Console(width=160)


@dataclass
class Event:
    title: str
    question: str | None = None
    image: bytes | None = None
    audio: bytes | None = None
    correction: str | None = None
    """Feedback on the previous answer instead of a question."""


def build_session(workdir: Path, frames: int) -> list[Event]:
    """The scripted session, made from real photos, rendered signs and synthesised speech."""
    def speech(text: str, name: str) -> bytes:
        return media.espeak(text, workdir / name, voice="en-us+f2", speed=120).read_bytes()

    clean = media.read_wav_16k(media.espeak("Who wrote Romeo and Juliet?",
                                            workdir / "q_noisy_clean.wav",
                                            voice="en-us+f2", speed=120))
    noisy = media.mix_at_snr(clean, media.babble_noise(len(clean) / 16000), 8.0)
    routine = [media.photo(name) for name in ("rocket", "chelsea", "coffee")]
    events = [
        Event("Person ahead", "Is anyone in front of me?",
              image=media.jpeg(media.photo("astronaut"))),
        Event("Station sign (English)", "What does the sign say?",
              image=media.jpeg(media.sign(["PLATFORM 3", "Trains to Airport"]))),
        Event("Exit sign (Chinese, tilted, blurred)", "这个牌子上写的是什么？",
              image=media.jpeg(media.sign(["出口", "禁止吸烟"], angle=3, blur=0.8))),
        Event("Spoken after wake word", None,
              audio=speech("Alexa. What is the capital of Japan?", "q_japan.wav")),
        Event("Noisy café, spoken", None, audio=media.wav_bytes(noisy)),
        Event("Arithmetic", "What is 17 times 23?"),
        Event("Units", "How many feet are in 3 meters?"),
        Event("Coffee on the table", "What is on the table?",
              image=media.jpeg(media.photo("coffee"))),
        Event("Fact", "Who painted the Mona Lisa?"),
        Event("Fact", "What is the largest ocean on Earth?"),
        Event("Multi-step word problem",
              "A shop sells pens at 3 for 2 dollars. How much do 12 pens cost in dollars?"),
        Event("A command (a tool call)", "Set a timer for ten minutes"),
        Event("Private details in a command",
              "Remind me to email jane.doe@example.com and call +1 415 555 0100 about card "
              "4111 1111 1111 1111"),
        Event("User corrects the last answer", correction="Twelve pens cost 8 dollars."),
    ]
    for i in range(frames):  # frames seen while walking, nobody asked about them
        events.insert(1 + i * len(events) // max(frames, 1) if frames else 1,
                      Event("Walking (frame)", image=media.jpeg(routine[i % len(routine)])))
    return events


EVENT_SPACING_S = 45.0
"""The session is replayed quickly; the curator's rate caps see the time it would really take."""


class SessionClock:
    """Wall-clock time of the replayed session: each event happens ``seconds_per_event`` later."""

    def __init__(self, *, start: float, seconds_per_event: float) -> None:
        self.now = start
        self.step = seconds_per_event

    def advance(self) -> None:
        self.now += self.step

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_edge(profile: str = "phone") -> tuple[subprocess.Popen[bytes], str]:
    """Serve the phone profile as an OpenAI-compatible edge tier on 127.0.0.1."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgesdk.cli", "serve-edge", "--profile", profile,
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (proc.stderr.read().decode() if proc.stderr else "").strip()
            how = describe_exit(proc.returncode)
            hint = f"; {CRASH_HINT}" if proc.returncode < 0 else ""
            last = err.splitlines()[-1] if err else ""  # serve-edge's one-line error, if any
            raise SystemExit(f"the edge tier did not start: serve-edge {how}{hint}"
                             + (f"\n{last}" if last else ""))
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the edge tier did not answer /health within 120 s")


def create_reminder(text: str, at: str | None = None) -> str:
    """Remind the user to do something, optionally at a time.

    Args:
        text: What to remind the user of.
        at: When, as local date and time YYYY-MM-DDTHH:MM.
    """
    return f"Reminder saved: {text}" + (f" at {at}" if at else "")


def set_timer(duration_seconds: int, label: str | None = None) -> str:
    """Start a countdown timer.

    Args:
        duration_seconds: How long the timer runs, in seconds.
        label: What the timer is for, if the user says.
    """
    return f"Timer set for {duration_seconds // 60} min {duration_seconds % 60} s"


def take_photo() -> str:
    """Take a picture with the glasses' camera."""
    return "Photo taken"


GLASSES_TOOLS = [create_reminder, set_timer, take_photo]
"""The glasses app's own actions: the demo's commands become calls of these, on the glasses."""


def describe_percepts(answer: Answer) -> str:
    parts = []
    for p in answer.percepts:
        if p.kind == "face":
            parts.append(f"face {p.score:.2f}")
        elif p.kind == "object":
            parts.append(f"{p.label} {p.score:.2f}")
        elif p.kind == "text":
            parts.append(f'"{p.text}"')
        elif p.kind == "wake_word":
            parts.append(f"wake:{p.name}")
        elif p.kind == "transcript":
            parts.append(f"heard ({p.language or '?'}, {p.confidence:.2f}): {p.text!r}")
    return ", ".join(parts) or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6, help="routine frames seen walking")
    parser.add_argument("--summary", type=Path, default=None, help="write a JSON summary here")
    args = parser.parse_args()

    settings = load_settings()
    catalog = Catalog(settings=settings)
    workdir = Path(tempfile.mkdtemp(prefix="edgesdk-demo-"))
    console.print("[bold]edgesdk smart-glasses demo[/bold] — preparing inputs and models ...")
    events = build_session(workdir, args.frames)

    edge_proc = None
    if settings.deepseek_api_key is not None:
        tiers = build_default_tiers(settings)
        console.print("escalation: DeepSeek cloud (DEEPSEEK_API_KEY is set)")
    else:
        edge_proc, edge_url = start_edge()
        tiers = [build_tier(name="edge", tier="edge", base_url=edge_url, model="gemma3-270m",
                            api_key=None)]
        console.print(f"escalation: phone edge tier (Gemma 3 270M) at {edge_url}")

    glasses = get_profile("glasses")
    suite = build_perceivers(glasses, catalog=catalog)
    ingest = IngestServer(db_path=workdir / "ingest.sqlite3").start()
    outbox = Outbox(path=workdir / "outbox.sqlite3")
    session_clock = SessionClock(start=time.time(), seconds_per_event=EVENT_SPACING_S)
    curator = Curator(
        clock=session_clock,
        outbox=outbox,
        redactor=Redactor(face_detector=FaceDetector.load(catalog=catalog, threads=1)),
        embedder=MiniLMEmbedder.load(catalog=catalog),
    )
    table = Table("#", "event", "percepts", "question → answer", "tier", "conf", "ms", "cost",
                  "upload", show_lines=False)
    rows: list[dict[str, Any]] = []
    observed = 0
    last: Answer | None = None
    try:
        with Assistant(profile=glasses, settings=settings, catalog=catalog, tiers=tiers,
                       perception=suite, curator=curator, tools=GLASSES_TOOLS,
                       device_state=DeviceState(network="unmetered", charging=True)) as assistant:
            for i, event in enumerate(events, 1):
                session_clock.advance()
                observed += len(event.image or b"") + len(event.audio or b"")
                observed += len((event.question or event.correction or "").encode())
                if event.correction is not None and last is not None:
                    decision = curator.feedback(last.id, good=False, correction=event.correction)
                    table.add_row(str(i), event.title, "-", f"✎ {event.correction}", "-", "-",
                                  "-", "-", "kept: feedback" if decision.kept else "dropped")
                    rows.append({"event": event.title, "feedback": True,
                                 "uploaded": decision.kept})
                    continue
                if event.question is None and event.audio is None:
                    percepts = assistant.perceive(image=event.image)
                    seen = ", ".join(sorted({getattr(p, "label", p.kind) for p in percepts}))
                    table.add_row(str(i), event.title, seen or "-", "[dim](no question)[/dim]",
                                  "-", "-", "-", "-", "[dim]dropped: routine frame[/dim]")
                    rows.append({"event": event.title, "frame": True, "uploaded": False})
                    continue
                answer = assistant.ask(event.question, image=event.image, audio=event.audio)
                last = answer
                curate = next((s for s in answer.trace if s.step == "curate"), None)
                kept = bool(curate and curate.detail.get("kept"))
                why = str(curate.detail.get("why", "")) if curate else ""
                cost = f"{answer.cost.amount:.6f}" if answer.cost.amount else "0"
                tier_style = {"device": "green", "edge": "yellow", "cloud": "magenta"}[answer.tier]
                table.add_row(
                    str(i), event.title, describe_percepts(answer),
                    f"{answer.question[:48]} → "
                    + (f"[italic]{answer.text[:60]}[/italic] (declined)" if answer.declined
                       else f"[bold]{answer.text[:60]}[/bold]"),
                    f"[{tier_style}]{answer.tier}[/{tier_style}]",
                    f"{answer.confidence:.2f}" if answer.confidence_known else "n/a",
                    f"{answer.latency_ms:.0f}", cost,
                    f"kept: {why}" if kept else f"[dim]dropped: {why}[/dim]",
                )
                heard = next((p for p in answer.percepts if p.kind == "transcript"), None)
                rows.append({"event": event.title, "question": answer.question,
                             "heard": None if heard is None else {
                                 "text": heard.text, "confidence": heard.confidence,
                                 "language": heard.language},
                             "answer": answer.text, "tier": answer.tier,
                             "confidence": answer.confidence,
                             "confidence_known": answer.confidence_known,
                             "latency_ms": answer.latency_ms,
                             "cost": answer.cost.amount, "escalated": answer.escalated,
                             "declined": answer.declined,
                             "tool_calls": [c.model_dump() for c in answer.tool_calls],
                             "uploaded": kept, "upload_reason": why})
        console.print(table)
        home_wifi = DeviceState(network="unmetered", charging=True)
        with Uploader(outbox=outbox, ingest_url=ingest.url, token=None,
                      device_state=lambda: home_wifi) as uploader:
            report = uploader.run_once()
    finally:
        if edge_proc is not None:
            edge_proc.terminate()
            edge_proc.wait(timeout=10)
    stats = ingest.stats()
    asked = [r for r in rows if "tier" in r]
    summary = {
        "events": len(events),
        "questions": len(asked),
        "answered_on_device": sum(r["tier"] == "device" for r in asked),
        "escalated": sum(r["escalated"] for r in asked),
        "declined": sum(r["declined"] for r in asked),
        "tool_calls": sum(bool(r["tool_calls"]) for r in asked),
        "uploaded_records": stats.get("records", 0),
        "uploaded_bytes": ingest.bytes_received,
        "observed_bytes": observed,
        "upload_ratio": ingest.bytes_received / observed if observed else 0.0,
        "latency_ms_by_tier": {
            tier: sorted(r["latency_ms"] for r in asked if r["tier"] == tier)
            for tier in ("device", "edge", "cloud") if any(r["tier"] == tier for r in asked)},
        "cost": sum(r["cost"] for r in asked),
        "uploader": report.model_dump(),
        "rows": rows,
    }
    ingest.stop()
    console.print(
        f"\n[bold]Summary[/bold]: {summary['events']} events, {summary['questions']} questions — "
        f"{summary['answered_on_device']} answered on the glasses, {summary['escalated']} "
        f"escalated, {summary['declined']} declined as too unsure. Saw "
        f"{observed / 1e6:.2f} MB; uploaded {summary['uploaded_records']} "
        f"records, {summary['uploaded_bytes'] / 1e3:.1f} kB "
        f"({100 * summary['upload_ratio']:.2f}% of what was seen).")
    if args.summary is not None:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(summary, indent=2, default=str))
        console.print(f"summary written to {args.summary}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        sys.exit(main())
    except EdgeSDKError as exc:  # one line that says what to do, as the CLI prints it
        sys.exit(f"smart_glasses_demo: error: {exc}")
