"""Outbox: durability contract, leases, backoff, eviction, typed storage errors."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from edgesdk.data.outbox import Outbox
from edgesdk.errors import StorageError


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_put_returns_stable_unique_ids_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with Outbox(path) as box:
        ids = [box.put("interaction", {"q": f"question {i}", "中文": "你好"}, value=0.5,
                       reasons=["low_confidence"]) for i in range(20)]
    assert len(set(ids)) == 20
    with Outbox(path) as box:
        assert box.stats().pending == 20
        rec = box.get(ids[3])
        assert rec is not None
        assert rec.payload == {"q": "question 3", "中文": "你好"}
        assert rec.reasons == ("low_confidence",)


def test_put_with_record_id_is_idempotent(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3") as box:
        a = box.put("k", {"x": 1}, record_id="fixed-id")
        b = box.put("k", {"x": 2}, record_id="fixed-id")
        assert a == b == "fixed-id"
        assert box.stats().pending == 1
        rec = box.get("fixed-id")
        assert rec is not None and rec.payload == {"x": 1}


def test_default_path_is_under_edgesdk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.setenv("EDGESDK_HOME", str(tmp_path / "home"))
    with Outbox() as box:
        box.put("k", {})
    assert box.path == tmp_path / "home" / "outbox" / "outbox.sqlite3"
    assert box.path.exists()


def test_wal_mode_and_migration_version(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    Outbox(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()


def test_lease_orders_by_value_and_excludes_leased(tmp_path: Path) -> None:
    clock = Clock()
    with Outbox(tmp_path / "o.sqlite3", clock=clock) as box:
        low = box.put("k", {"v": "low"}, value=0.1)
        high = box.put("k", {"v": "high"}, value=0.9)
        mid = box.put("k", {"v": "mid"}, value=0.5)
        batch = box.lease(max_records=2, lease_s=10)
        assert [r.id for r in batch] == [high, mid]
        assert [r.id for r in box.lease(max_records=10, lease_s=10)] == [low]
        assert box.lease() == []
        clock.t += 11  # leases expire: a killed uploader's batch comes back
        assert {r.id for r in box.lease(max_records=10)} == {low, high, mid}


def test_ack_deletes_and_nack_backs_off_exponentially(tmp_path: Path) -> None:
    clock = Clock()
    with Outbox(tmp_path / "o.sqlite3", clock=clock, backoff_base_s=2.0, seed=1) as box:
        rid = box.put("k", {})
        delays = []
        for _ in range(5):
            [rec] = box.lease()
            box.nack([rec.id])
            ready = box.next_ready_at()
            assert ready is not None
            delays.append(ready - clock.t)
            assert box.lease() == []
            clock.t = ready
        assert all(b > a for a, b in itertools.pairwise(delays))
        assert 1.0 <= delays[0] <= 2.0 and 16.0 <= delays[4] <= 32.0
        [rec] = box.lease()
        assert rec.attempts == 5
        box.nack([rid], retry_after_s=500)
        assert box.next_ready_at() == pytest.approx(clock.t + 500, abs=100)
        clock.t += 600
        box.ack([rid])
        stats = box.stats()
        assert stats.pending == 0 and stats.acked_total == 1


def test_release_does_not_count_an_attempt_and_park_stops_sending(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3") as box:
        a = box.put("k", {})
        b = box.put("k", {})
        batch = box.lease()
        box.release([r.id for r in batch])
        again = box.lease()
        assert {r.attempts for r in again} == {0}
        box.park([a])
        box.release([b])
        assert [r.id for r in box.lease()] == [b]
        assert box.stats().dead == 1
        assert box.contains(a)


def test_size_cap_evicts_lowest_value_first(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3", max_bytes=3000) as box:
        blob = "x" * 600
        ids = {v: box.put("k", {"b": blob}, value=v) for v in (0.5, 0.1, 0.9, 0.3)}
        assert box.stats().pending == 4
        new = box.put("k", {"b": blob}, value=0.7)
        stats = box.stats()
        assert stats.pending_bytes <= 3000
        assert not box.contains(ids[0.1])
        assert box.contains(new) and box.contains(ids[0.9])
        worthless = box.put("k", {"b": blob}, value=0.0)
        assert not box.contains(worthless)  # the least valuable record is the one evicted
        assert box.stats().evicted_total == 2


def test_full_disk_raises_storage_error_and_keeps_stored_records(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3") as box:
        kept = [box.put("k", {"i": i}) for i in range(5)]
        pages = box._db.execute("PRAGMA page_count").fetchone()[0]
        box._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now "full"
        with pytest.raises(StorageError, match="full"):
            for i in range(1000):
                box.put("k", {"big": "y" * 4000, "i": i})
        assert all(box.contains(r) for r in kept)
    with Outbox(tmp_path / "o.sqlite3") as box:
        assert all(box.contains(r) for r in kept)


def test_unwritable_location_raises_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError) as info:
        Outbox(blocker / "outbox.sqlite3")
    assert isinstance(info.value, OSError)
    assert "EDGESDK_HOME" in str(info.value)


def test_counters_persist(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3") as box:
        assert box.counter("uploaded_bytes:2026-01-01") == 0
        box.add_counter("uploaded_bytes:2026-01-01", 100)
    with Outbox(tmp_path / "o.sqlite3") as box:
        assert box.add_counter("uploaded_bytes:2026-01-01", 5) == 105
