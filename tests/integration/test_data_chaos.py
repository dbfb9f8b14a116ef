"""Chaos: kill -9 the uploader and the writer at random moments; fill and freeze the disk.

The promise under test: every record ``put`` returned an id for reaches the ingest server
exactly once, whatever happens to the processes, and a full or read-only disk gives a typed
:class:`StorageError` while everything already stored survives.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgesdk.data.outbox import Outbox
from edgesdk.data.uploader import Uploader
from edgesdk.errors import StorageError
from edgesdk.testing.ingest import IngestServer

pytestmark = pytest.mark.integration

RECORDS = 400
KILLS = 30
MIN_KILLS_MID_FLIGHT = 10
"""Issue 25: the uploader process itself (``edgesdk upload``, not a wrapper) is killed with
SIGKILL at least this many times after it has started sending."""


def test_uploader_killed_many_times_delivers_every_record_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as box:
        ids = {box.put("interaction", {"i": i, "text": "x" * rng.randrange(50, 2000)},
                       value=rng.random(), reasons=["low_confidence"]) for i in range(RECORDS)}
    assert len(ids) == RECORDS
    cmd = [sys.executable, "-m", "edgesdk.cli", "upload", "--once", "--outbox", str(path),
           "--batch", "4", "--lease-s", "0.4"]
    progressed_kills = 0
    with IngestServer(db_path=tmp_path / "ingest.sqlite3", delay_s=0.03) as server:
        cmd[4:4] = ["--ingest-url", server.url]
        kills = 0
        for _ in range(KILLS):
            kills += 1
            before = server.requests
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while server.requests == before and time.monotonic() < deadline:
                time.sleep(0.01)  # wait out interpreter start-up, then kill mid-work
            time.sleep(rng.uniform(0.0, 0.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            progressed_kills += server.requests > before
            if progressed_kills >= MIN_KILLS_MID_FLIGHT and len(server.ids()) > RECORDS * 0.85:
                break  # leave work for the final, unkilled drain
        killed_with_work_left = RECORDS - len(server.ids())
        final = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        stored = server.ids()
        duplicates = server.counter("duplicates")
    assert progressed_kills >= MIN_KILLS_MID_FLIGHT, "the kills must land while it is sending"
    assert killed_with_work_left > 0, "the last kill must leave work for the final drain"
    assert len(stored) == len(set(stored)) == RECORDS
    assert set(stored) == ids
    with Outbox(path) as box:
        assert box.stats().pending == 0
    print(f"kills={kills} progressed={progressed_kills} re-sent duplicates={duplicates}")


WRITER = textwrap.dedent("""
    import sys
    from edgesdk.data.outbox import Outbox
    box = Outbox(sys.argv[1])
    i = 0
    while True:
        rid = box.put("interaction", {"i": i, "pad": "y" * 500}, value=0.5)
        print(rid, flush=True)
        i += 1
""")


def test_writer_killed_mid_put_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "outbox.sqlite3"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    acknowledged: list[str] = []
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, str(script), str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # started (imports take a while on a busy machine)
        time.sleep(rng.uniform(0.05, 0.5))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged += [line for line in (first + out).splitlines() if len(line) == 32]
    assert len(acknowledged) > 20
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Outbox(path) as box:
        missing = [rid for rid in acknowledged if not box.contains(rid)]
        assert missing == []


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs (root only), so 'disk full' and 'read-only' are the kernel's."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr!r}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_gives_storage_error_and_keeps_stored_records(tiny_fs: Path) -> None:
    path = tiny_fs / "outbox.sqlite3"
    stored: list[str] = []
    with Outbox(path) as box:
        with pytest.raises(StorageError, match="full"):
            for i in range(10_000):
                stored.append(box.put("interaction", {"i": i, "pad": "z" * 2000}))
        assert len(stored) > 10
        assert all(box.contains(r) for r in stored)
    with Outbox(path) as box:
        assert [r for r in stored if not box.contains(r)] == []


def test_read_only_disk_gives_storage_error_and_loses_nothing(tiny_fs: Path, tmp_path: Path
                                                              ) -> None:
    path = tiny_fs / "outbox.sqlite3"
    with Outbox(path) as box:
        stored = [box.put("interaction", {"i": i}) for i in range(20)]
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    try:
        with pytest.raises(StorageError, match="read-only file system"):
            box = Outbox(path)
            box.put("interaction", {"late": True})
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tiny_fs)], check=True)
    with Outbox(path) as box:
        assert all(box.contains(r) for r in stored) and box.stats().pending == 20
        with IngestServer() as server:  # and it can still be delivered
            with Uploader(outbox=box, ingest_url=server.url) as up:
                assert up.run_once().sent == 20
            assert sorted(server.ids()) == sorted(stored)
