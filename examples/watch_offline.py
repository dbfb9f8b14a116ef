"""A watch with no network: every question is answered or queued on the device.

The watch profile runs SmolLM2-135M and nothing else. With ``DeviceState(network="none")`` the
policy never tries to escalate (the reasons say "offline"), and the curator still decides what
is worth learning from — uncertain answers, the user's corrections — and puts it, redacted, in
the crash-safe SQLite outbox. The uploader refuses to send while offline; when the network is
back it drains the queue (here to a stand-in ingest server on 127.0.0.1).

    python examples/watch_offline.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edgesdk import Assistant, DeviceState
from edgesdk.data.curate import Curator
from edgesdk.data.outbox import Outbox
from edgesdk.data.uploader import Uploader, UploadPolicy
from edgesdk.testing.ingest import IngestServer

QUESTIONS = (
    "What is 48 divided by 6?",
    "Convert 10 kilometers to miles",
    "What is the capital of Australia?",
    "What is the chemical symbol for gold?",
)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="edgesdk-watch-"))
    offline = DeviceState(network="none", battery=0.6)
    outbox = Outbox(path=workdir / "outbox.sqlite3")
    curator = Curator(outbox=outbox)
    with Assistant(profile="watch", device_state=offline, tiers=[], curator=curator) as watch:
        print(f"watch: {watch.llm.model_id}, network={offline.network}, "
              f"outbox at {outbox.path}\n")
        answers = []
        for question in QUESTIONS:
            answer = watch.ask(question)
            answers.append(answer)
            print(f"Q: {question}\nA: {answer.text}")
            print(f"   tier={answer.tier} source={answer.source} "
                  f"confidence={answer.confidence:.2f} latency={answer.latency_ms:.0f} ms")
            print(f"   why: {'; '.join(answer.reasons)}\n")
        # the user says the capital answer was wrong: a correction is the most valuable record
        # (personal data in it, like this e-mail address, is redacted before it is stored)
        watch.feedback(answers[2], good=False, correction="Canberra - jo@example.com")

    stats = outbox.stats()
    print(f"queued on the watch: {stats.pending} records, {stats.pending_bytes} bytes")
    for record in outbox.records():
        payload = record.payload
        what = (f"correction={payload.get('correction')!r}" if record.kind == "feedback"
                else f"question={payload.get('question')!r} answer={payload.get('answer')!r}")
        print(f"  - {record.kind:<11} value={record.value:.2f} reasons={list(record.reasons)} "
              f"{what}")

    state = {"now": offline}
    with IngestServer(db_path=workdir / "ingest.sqlite3") as ingest, Uploader(
            outbox=outbox, ingest_url=ingest.url, device_state=lambda: state["now"],
            policy=UploadPolicy(unmetered_only=True)) as uploader:
        report = uploader.run_once(max_wait_s=5)
        print(f"\nupload while offline: blocked ({report.blocked}), {report.remaining} waiting")
        state["now"] = DeviceState(network="unmetered", battery=0.6, charging=True)
        report = uploader.run_once(max_wait_s=5)
        print(f"back on Wi-Fi: sent {report.accepted} records ({report.bytes_sent} bytes "
              f"gzipped), {report.remaining} left; the ingest server holds {len(ingest.ids())}")
    outbox.close()


if __name__ == "__main__":
    main()
