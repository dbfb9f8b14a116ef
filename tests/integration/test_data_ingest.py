"""Outbox -> uploader -> reference ingest server over real HTTP on 127.0.0.1, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from edgesdk.data.curate import Curator
from edgesdk.data.outbox import Outbox
from edgesdk.data.uploader import Uploader
from edgesdk.data.value import Campaign, Triggers, fetch_campaigns
from edgesdk.errors import UploadAuthError
from edgesdk.testing.ingest import IngestServer
from edgesdk.types import Answer, DetectedObject

pytestmark = pytest.mark.integration


def fill(box: Outbox, n: int, size: int = 200) -> list[str]:
    return [box.put("interaction", {"question": f"q{i} " + "word " * (size // 5),
                                    "escalated": True, "tier": "cloud", "answer": f"a{i}"},
                    value=(i % 10) / 10, reasons=["escalated"]) for i in range(n)]


def test_upload_end_to_end_with_413_split_429_503_and_dedupe(tmp_path: Path) -> None:
    # backoff_base_s=0: retry at once, this test is about the protocol, not the waiting
    with IngestServer(db_path=tmp_path / "ingest.sqlite3", max_body_bytes=6000) as server, \
            Outbox(tmp_path / "o.sqlite3", backoff_base_s=0.0) as box:
        ids = fill(box, 60)
        server.fail_next(429, headers={"Retry-After": "0"})
        server.fail_next(503)
        up = Uploader(outbox=box, ingest_url=server.url, batch_records=50, sleep=lambda s: None,
                      clock=time.time)
        report = up.run_once(max_wait_s=30)
        assert report.remaining == 0 and report.sent == 60 and report.retries >= 2
        assert sorted(server.ids()) == sorted(ids)
        assert server.requests > 3  # 413 made it split
        # a re-sent batch (crash after the server stored it) is counted as duplicates
        rec = server.records()[0]
        line = json.dumps(rec).encode()
        reply = httpx.post(server.url + "/v1/records", content=line).json()
        assert reply == {"accepted": 0, "duplicates": 1}
        assert server.stats()["records"] == 60 and server.counter("duplicates") == 1
        up.close()


def test_401_is_a_typed_error_and_the_token_is_sent(tmp_path: Path) -> None:
    with IngestServer(token="s3cret") as server, Outbox(tmp_path / "o.sqlite3") as box:
        fill(box, 3)
        with Uploader(outbox=box, ingest_url=server.url, token="wrong") as up, \
                pytest.raises(UploadAuthError):
            up.run_once()
        assert box.stats().pending == 3
        with Uploader(outbox=box, ingest_url=server.url, token="s3cret") as up:
            assert up.run_once().sent == 3


def test_campaigns_are_served_fetched_and_steer_curation(tmp_path: Path) -> None:
    campaign = {"id": "cats", "labels": ["Cat"], "weight": 0.9, "until": time.time() + 3600}
    with IngestServer(campaigns=[campaign]) as server:
        assert fetch_campaigns(server.url) == [Campaign.model_validate(campaign)]
        with Outbox(tmp_path / "o.sqlite3") as box:
            curator = Curator(outbox=box, triggers=Triggers(sample_rates={"baseline": 0.0}))
            assert curator.refresh_campaigns(server.url) == 1
            cat = DetectedObject(label="Cat", box=(0, 0, 1, 1), score=0.7)
            decision = curator.consider(Answer(text="a cat", tier="device", confidence=0.99,
                                               escalated=False, latency_ms=1.0,
                                               percepts=[cat]))
            assert decision.kept and decision.reasons == ["campaign:cats"]
            assert decision.value == 0.9
    assert fetch_campaigns("http://127.0.0.1:9") == []  # unreachable: no campaigns, no crash


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgesdk.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_upload_once_stats_and_export_distill(tmp_path: Path) -> None:
    env = {**os.environ, "EDGESDK_HOME": str(tmp_path / "home")}
    with Outbox(tmp_path / "home" / "outbox" / "outbox.sqlite3") as box:
        fill(box, 12)
        box.put("interaction", {"question": "local one", "answer": "x", "escalated": False,
                                "tier": "device"})
    out = _cli("data", "stats", "--json", env=env)
    assert out.returncode == 0 and json.loads(out.stdout)["pending"] == 13
    out = _cli("data", "export-distill", "--out", str(tmp_path / "train.jsonl"), env=env)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert len(lines) == 12
    assert [m["role"] for m in lines[0]["messages"]] == ["user", "assistant"]
    with IngestServer(db_path=tmp_path / "ingest.sqlite3") as server:
        out = _cli("upload", "--ingest-url", server.url, "--once", env=env)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["sent"] == 13 and len(server.ids()) == 13
        blocked = _cli("upload", "--ingest-url", server.url, "--once", "--network", "metered",
                       env=env)
        assert blocked.returncode == 3 and "metered" in blocked.stderr
    out = _cli("data", "export-distill", "--ingest-db", str(tmp_path / "ingest.sqlite3"),
               "--out", str(tmp_path / "server.jsonl"), "--system", "Be brief.", env=env)
    assert out.returncode == 0, out.stderr
    first = json.loads((tmp_path / "server.jsonl").read_text().splitlines()[0])
    assert first["messages"][0] == {"role": "system", "content": "Be brief."}


def test_cli_upload_without_once_keeps_running(tmp_path: Path) -> None:
    env = {**os.environ, "EDGESDK_HOME": str(tmp_path / "home")}
    path = tmp_path / "home" / "outbox" / "outbox.sqlite3"
    with Outbox(path) as box:
        first = fill(box, 5)
    with IngestServer() as server:
        proc = subprocess.Popen([sys.executable, "-m", "edgesdk.cli", "upload", "--ingest-url",
                                 server.url, "--idle-s", "0.2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait(lambda: len(server.ids()) == 5)
            with Outbox(path) as box:
                later = box.put("interaction", {"question": "late"})
            _wait(lambda: len(server.ids()) == 6)
            assert proc.poll() is None  # still running
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        assert set(server.ids()) == {*first, later}


def _wait(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_cli_ingest_server_runs_and_serves(tmp_path: Path) -> None:
    campaigns = tmp_path / "campaigns.json"
    campaigns.write_text(json.dumps([{"id": "signs", "keywords": ["sign"]}]))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgesdk.cli", "ingest-server", "--port", str(port), "--db",
         str(tmp_path / "db.sqlite3"), "--campaigns", str(campaigns)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert "ingest server on" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        assert [c.id for c in fetch_campaigns(url)] == ["signs"]
        reply = httpx.post(url + "/v1/records",
                           content=b'{"id":"r1","kind":"k","payload":{}}\n').json()
        assert reply == {"accepted": 1, "duplicates": 0}
        assert httpx.get(url + "/v1/stats").json()["records"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
