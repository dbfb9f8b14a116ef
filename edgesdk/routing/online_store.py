"""Where the opt-in online recalibration keeps its free labels between runs: one SQLite file.

A phone or watch app is killed and restarted all the time; an online layer that forgets its
labels at every restart would never reach ``min_samples`` and never recalibrate. So every label
is committed the moment it arrives (WAL, ``synchronous=FULL``: it survives ``kill -9`` and power
loss) and the next run starts where the last one stopped.

Labels are only meaningful on the scale of the calibration that produced them (they store the
*shipped* scorer's logit), so each row carries the calibration's key (``calibration_key``: a
digest of the base scorer and its signals' state). Opening the store with another key — a refit, a
new SDK version — discards the old rows rather than learning a correction for a scorer that is
gone. At most ``capacity`` rows are kept (the newest): bounded on disk as in memory.

No question text, answer or cloud reply is stored: a row is two numbers and a timestamp.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path

from edgesdk.errors import StorageError
from edgesdk.routing.calibration import Calibration

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    calibration TEXT NOT NULL,
    logit REAL NOT NULL,
    agreed REAL NOT NULL,
    at REAL NOT NULL
)
"""


def store_path(model_id: str, home: Path) -> Path:
    """``$EDGESDK_HOME/online/<model_id>.sqlite3``: one file per local model."""
    return home / "online" / f"{model_id}.sqlite3"


def calibration_key(calibration: Calibration) -> str:
    """What the stored logits are relative to: the base scorer and its signals' state."""
    h = hashlib.sha256(json.dumps(asdict(calibration.scorer), sort_keys=True).encode())
    for name, signal in calibration.signals.items():
        h.update(f"|{name}|".encode())
        h.update(json.dumps(signal.state(), sort_keys=True).encode())
    return f"{calibration.model_id}:{h.hexdigest()[:16]}"


class OnlineLabelStore:
    """The newest ``capacity`` (logit, agreed) labels of one calibration, on disk."""

    def __init__(self, path: Path, *, key: str, capacity: int) -> None:
        self.path = Path(path)
        self.key = key
        self.capacity = capacity
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute(_SCHEMA)
            stale = self._db.execute("DELETE FROM labels WHERE calibration != ?",
                                     (key,)).rowcount
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(
                f"online recalibration store {self.path}: could not open ({exc}). Point "
                "EDGESDK_HOME at a writable directory, or leave online recalibration off"
            ) from exc
        if stale:
            log.info("online recalibration: %d labels from another calibration discarded", stale)

    def labels(self) -> list[tuple[float, float]]:
        """The stored labels, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT logit, agreed FROM labels WHERE calibration = ? ORDER BY seq DESC "
                "LIMIT ?", (self.key, self.capacity)).fetchall()
        return [(float(z), float(y)) for z, y in reversed(rows)]

    def add(self, logit: float, agreed: float) -> bool:
        """Commit one label and trim to ``capacity``. False (logged, never raised) when the disk
        refuses: a lost free label costs nothing but itself."""
        try:
            with self._lock:
                cur = self._db.execute(
                    "INSERT INTO labels (calibration, logit, agreed, at) VALUES (?, ?, ?, ?)",
                    (self.key, logit, agreed, time.time()))
                self._db.execute("DELETE FROM labels WHERE calibration = ? AND seq <= ?",
                                 (self.key, int(cur.lastrowid or 0) - self.capacity))
            return True
        except sqlite3.Error as exc:
            log.warning("online recalibration: label not stored in %s (%s)", self.path, exc)
            return False

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM labels")

    def close(self) -> None:
        with self._lock:
            self._db.close()
