"""The device's knowledge end to end, with the real MiniLM embeddings, the real index and the
phone's real document reader (the cross-encoder): the app's documents answered with a
citation, also when asked in other words, cloud answers kept and reused for paraphrases (and
forgotten on bad feedback, or when private, personal or past their expiry), kill -9, and a
fleet pack's round trip: uploads → Parquet → DuckDB → signed pack → served → pulled →
verified → answered — with tampered, foreign and oversized packs refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from edgesdk.assistant import Assistant
from edgesdk.config import Settings
from edgesdk.data.fleet import parquet_files, write_partitions
from edgesdk.errors import PackError
from edgesdk.knowledge.base import Knowledge
from edgesdk.knowledge.packs import build_pack, generate_keys, pull_pack, verify_pack
from edgesdk.local.rerank import CrossEncoderReader
from edgesdk.testing.ingest import IngestServer
from edgesdk.testing.knowledge_sets import docs_dir
from tests.fakes import FakeLLM, FakeRouter, FakeTier

pytestmark = pytest.mark.integration
EMBEDDER = "minilm-l6-int8"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 15, 12, 0).astimezone()

    def __call__(self) -> datetime:
        return self.now


def assistant(home: Path, tier: FakeTier, clock: Clock, **kw: object) -> Assistant:
    return Assistant(profile="phone", settings=Settings(home=home), llm=FakeLLM({}),
                     tiers=[tier], router=FakeRouter(threshold=0.99), now=clock, **kw)


def test_documents_answer_on_the_device_with_their_source(tmp_path: Path) -> None:
    clock = Clock()
    tier = FakeTier(text="from the cloud")
    with assistant(tmp_path, tier, clock, knowledge=[docs_dir("en")]) as a:
        answer = a.ask("How much is a day pass at Ironworks?")
        assert (answer.source, answer.tier, answer.escalated) == ("knowledge", "device", False)
        assert "$15" in answer.text and tier.calls == []
        assert answer.citations[0].kind == "document"
        assert answer.citations[0].source.endswith("ironworks-gym.md")
        assert any(r.startswith("knowledge documents: P(right)") for r in answer.reasons)
        general = a.ask("Who painted the Mona Lisa?")  # no document says: the usual path
        assert general.source == "tier" and general.citations == []
    with assistant(tmp_path, tier, clock, knowledge=True) as again:  # persisted, not re-added
        assert len(again.knowledge.sources()) == 10  # type: ignore[union-attr]
        assert again.ask("How much is a day pass at Ironworks?").source == "knowledge"


def test_the_phone_s_reader_answers_a_question_asked_in_other_words(tmp_path: Path) -> None:
    reader = CrossEncoderReader.load()
    scores = reader.score("When does the library open on Saturday?", [
        "It opens at 10 am on Saturdays.", "It opens at 9 am on weekdays.",
        "Penguins are flightless birds that live in the Southern Hemisphere."])
    assert scores[0] > 3.0 and scores[0] - 3.0 > scores[1] > scores[2]
    tier = FakeTier(text="from the cloud")
    with assistant(tmp_path, tier, Clock(), knowledge=[docs_dir("en")]) as a:
        answer = a.ask("is there somewhere safe to leave my bike at the hive")
        assert (answer.source, tier.calls) == ("knowledge", [])
        assert "basement" in answer.text
        assert answer.citations[0].source.endswith("hive-coworking.txt")


def test_knowledge_the_app_passed_in_stays_open_after_the_assistant_closes(
        tmp_path: Path) -> None:
    shared = Knowledge(tmp_path / "shared", embedder_id="hashed-words-v1", max_chunks=100,
                       max_learned=10)
    shared.add_text("Day pass: $15. A 10-visit pass costs $120.", source="gym.txt",
                    title="Ironworks Fitness")
    with assistant(tmp_path, FakeTier(text="from the cloud"), Clock(), knowledge=shared) as a:
        assert a.knowledge is shared
    assert shared.search("How much is a day pass?")[0].source == "gym.txt"  # still open
    shared.close()


def test_cloud_answers_are_kept_reused_and_forgotten(tmp_path: Path) -> None:
    clock = Clock()
    tier = FakeTier(text="Canberra")
    with assistant(tmp_path, tier, clock, knowledge=True) as a:
        first = a.ask("What is the capital of Australia?")
        assert first.escalated and len(tier.calls) == 1
        again = a.ask("australia's capital?")
        assert (again.source, again.text, len(tier.calls)) == ("knowledge", "Canberra", 1)
        assert again.citations[0].kind == "learned"
        assert again.citations[0].title == "What is the capital of Australia?"
        other = a.ask("What is the capital of Austria?")  # alike, and another question
        assert other.escalated and len(tier.calls) == 2
        a.feedback(again, good=False)  # the kept answer was wrong: it goes
        assert a.ask("australia's capital?").escalated
        # never kept: private, personal, time-sensitive past ten minutes
        a.ask("Email jane.doe@example.com the capital of Peru")
        a.ask("What is my blood type?")
        a.ask("What's the weather in Paris?")
        learned = a.knowledge.learned.rows()  # type: ignore[union-attr]
        assert not any("jane" in q.lower() or "blood" in q for q, _, _ in learned)
        clock.now += timedelta(minutes=5)
        assert a.ask("weather in paris now?").source == "knowledge"  # within its expiry
        clock.now += timedelta(minutes=10)
        assert a.ask("weather in paris now?").escalated  # past it: never stale
        a.knowledge.forget()  # type: ignore[union-attr]
        assert a.ask("australia's capital?").escalated


def test_a_kept_answer_survives_kill_9(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, signal
        from edgesdk.knowledge.base import Knowledge
        k = Knowledge({str(tmp_path)!r}, embedder_id="hashed-words-v1", max_chunks=10,
                      max_learned=10)
        k.learned.keep("capital of japan", "Tokyo", k.vector("capital of japan"))
        os.kill(os.getpid(), signal.SIGKILL)
    """).replace("Knowledge('", "Knowledge(__import__('pathlib').Path('").replace(
        "', embedder_id", "'), embedder_id")
    done = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), check=False)
    assert done.returncode == -signal.SIGKILL
    k = Knowledge(tmp_path, embedder_id="hashed-words-v1", max_chunks=10, max_learned=10)
    assert [a for _, a, _ in k.learned.rows()] == ["Tokyo"]


def fleet_records(n_devices: int) -> dict[str, list[dict[str, object]]]:
    """What each device uploaded: a common question, a rare one, a private and a personal one."""
    out: dict[str, list[dict[str, object]]] = {}
    for d in range(n_devices):
        rows = [("Who wrote Pride and Prejudice?", "Jane Austen"),
                ("who is the author of pride and prejudice", "Jane Austen"),
                ("What is my blood type?", "O positive"),
                ("Send [EMAIL] the boiling point of water", "100 °C"),
                ("bitcoin price today", "$97,000")]
        if d == 0:
            rows.append(("What is the airspeed of an unladen swallow?", "11 m/s"))
        out[f"device-{d}"] = [
            {"id": f"{d}-{i}", "kind": "interaction", "created_at": 1768478400.0 + i,
             "reasons": ["campaign:trivia"] if i == 0 else [],
             "payload": {"question": q, "answer": a, "tier": "cloud", "escalated": True,
                         "declined": False, "source": "tier"}}
            for i, (q, a) in enumerate(rows)]
    return out


def test_a_pack_round_trip_and_what_is_refused(tmp_path: Path) -> None:
    parquet = tmp_path / "parquet"
    with IngestServer(parquet_dir=parquet) as server:
        import httpx

        for device, records in fleet_records(4).items():
            body = "\n".join(json.dumps(r) for r in records)
            httpx.post(f"{server.url}/v1/records", content=body,
                       headers={"X-EdgeSDK-Device": device}).raise_for_status()
        files = parquet_files(parquet)
        assert files and any("campaign=trivia" in str(f) for f in files)
        assert all("day=2026-01-15" in str(f) for f in files)
        knowledge = Knowledge(tmp_path / "device", embedder_id=EMBEDDER, max_chunks=10,
                              max_learned=100)
        private, public = generate_keys()
        blob = build_pack(files, embedder=knowledge.embedder, embedder_id=EMBEDDER,
                          private_key=private, version="v1", min_devices=3)
        pack = verify_pack(blob, public_key=public, embedder_id=EMBEDDER)
        # only what at least 3 devices asked, and nothing private, personal or time-sensitive
        assert {e.question.lower() for e in pack.entries} <= {
            "who wrote pride and prejudice?", "who is the author of pride and prejudice"}
        assert pack.entries and all(e.answer == "Jane Austen" and e.devices == 4
                                    for e in pack.entries)
        server.pack = blob
        pulled = pull_pack(f"{server.url}/v1/packs/latest", learned=knowledge.learned,
                           public_key=public, embedder_id=EMBEDDER)
        assert pulled.version == "v1" and knowledge.learned.pack_version() == "v1"

        tampered = bytearray(blob)
        envelope = json.loads(bytes(tampered))
        envelope["signature"] = envelope["signature"][:-4] + "AAA="
        server.pack = json.dumps(envelope).encode()
        with pytest.raises(PackError, match="signature"):
            pull_pack(f"{server.url}/v1/packs/latest", learned=knowledge.learned,
                      public_key=public, embedder_id=EMBEDDER)
        _, stranger = generate_keys()
        with pytest.raises(PackError, match="signature"):
            verify_pack(blob, public_key=stranger, embedder_id=EMBEDDER)
        with pytest.raises(PackError, match="embedding model"):
            verify_pack(blob, public_key=public, embedder_id="minilm-l3-paraphrase")
        with pytest.raises(PackError, match="limit"):
            verify_pack(blob, public_key=public, embedder_id=EMBEDDER, max_bytes=100)
        newer = json.loads(blob)
        newer["format"] = 99
        with pytest.raises(PackError, match="Update edgesdk"):
            verify_pack(json.dumps(newer).encode(), public_key=public, embedder_id=EMBEDDER)
        assert knowledge.learned.pack_version() == "v1"  # the old pack stayed

    clock = Clock()
    tier = FakeTier(text="from the cloud")
    with assistant(tmp_path / "device-home", tier, clock, knowledge=knowledge) as a:
        answer = a.ask("who wrote pride and prejudice")
        assert (answer.source, answer.text, tier.calls) == ("knowledge", "Jane Austen", [])
        assert answer.citations[0].kind == "pack"


def test_parquet_rows_carry_the_flags_the_pack_query_filters_on(tmp_path: Path) -> None:
    import duckdb

    for device, records in fleet_records(1).items():
        write_partitions(records, tmp_path, device=device)
    rows = duckdb.connect().execute(
        "SELECT question, private, personal, time_sensitive, campaign FROM read_parquet(?, "
        "hive_partitioning = true) ORDER BY question", [[str(f) for f in parquet_files(
            tmp_path)]]).fetchall()
    flags = {q: (p, m, t, c) for q, p, m, t, c in rows}
    assert flags["Send [EMAIL] the boiling point of water"][0] is True
    assert flags["What is my blood type?"][1] is True
    assert flags["bitcoin price today"][2] is True
    assert flags["Who wrote Pride and Prejudice?"] == (False, False, False, "trivia")


def test_the_uploader_sends_its_install_id_and_pulls_the_pack_after_a_drain(
        tmp_path: Path) -> None:
    import duckdb

    from edgesdk.data.outbox import Outbox
    from edgesdk.data.uploader import PackSubscription, Uploader

    hashed = "hashed-words-v1"  # no model: this test is about the cycle
    knowledge = Knowledge(tmp_path / "k", embedder_id=hashed, max_chunks=10, max_learned=10)
    private, public = generate_keys()
    with IngestServer(parquet_dir=tmp_path / "parquet") as server, \
            Outbox(tmp_path / "outbox" / "o.sqlite3") as box:
        box.put("interaction", {"question": "Who wrote Hamlet?", "answer": "Shakespeare",
                                "tier": "cloud", "escalated": True, "declined": False})
        subscription = PackSubscription(url=f"{server.url}/v1/packs/latest",
                                        public_key=public, knowledge=knowledge, every_s=3600)
        up = Uploader(outbox=box, ingest_url=server.url, packs=subscription)
        first = up.run_once()
        assert first.sent == 1 and first.pack_pulled is None
        assert first.pack_error is not None and "404" in first.pack_error  # none served yet
        device = (tmp_path / "outbox" / "install_id").read_text().strip()
        rows = duckdb.connect().execute(
            "SELECT device FROM read_parquet(?, hive_partitioning = true)",
            [[str(f) for f in parquet_files(tmp_path / "parquet")]]).fetchall()
        assert rows == [(device,)] and len(device) == 32
        server.pack = build_pack(parquet_files(tmp_path / "parquet"),
                                 embedder=knowledge.embedder, embedder_id=hashed,
                                 private_key=private, version="v2", min_devices=1)
        not_due = up.run_once()
        assert not_due.sent == 0 and knowledge.learned.pack_version() is None
        assert (not_due.pack_pulled, not_due.pack_error) == (None, None)
        subscription.last = 0.0
        taken = up.run_once()
        assert (taken.pack_pulled, taken.pack_error) == ("v2", None)
        assert knowledge.learned.pack_version() == "v2"
        up.close()
