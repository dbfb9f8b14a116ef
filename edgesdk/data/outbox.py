"""The on-device outbox: a crash-safe SQLite queue of redacted records waiting for upload.

Why SQLite in WAL mode with ``synchronous=FULL``: a record that ``put`` returned an id for is
committed to the write-ahead log and fsynced, so neither ``kill -9`` nor a power cut can lose it,
and a reader (the uploader, ``edgesdk data stats``) never blocks the writer (the app). Every
change is one transaction, so a crash leaves either the old or the new state, never a mix.

Delivery is at-least-once: the uploader *leases* a batch (so two uploaders do not send the same
records), posts it, and only then *acks* (deletes) it. A crash between post and ack re-sends the
batch after the lease expires; the ingest server drops the duplicates by record id, which gives
an exactly-once effect. A failed batch is *nacked*: retried after an exponential backoff.

Nothing unredacted reaches the disk: ``put`` runs the outbox's :class:`Redactor` over every
string of the payload (keys too) unless it is handed a :class:`~edgesdk.data.redact.Redacted`,
the proof only ``Redactor.redacted`` makes (the Curator's records are). A record the uploader
still finds a secret in before sending is *quarantined*: kept on the device, counted, never
sent (``edgesdk data stats``).

The store is bounded: past ``max_bytes`` the lowest-value records are evicted first (the record
just put may be the one evicted, when it is worth less than everything stored). Disk problems
(read-only file system, full disk, unopenable file) surface as :class:`StorageError`, and since
every write is a single transaction nothing already stored is lost.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from edgesdk.config import load_settings
from edgesdk.data.redact import Redacted, Redactor
from edgesdk.errors import StorageError

Clock = Callable[[], float]

MIGRATIONS: tuple[str, ...] = (
    # 1: records and a small key/value table for counters and budgets.
    """
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL,
        value REAL NOT NULL,
        reasons TEXT NOT NULL,
        payload TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        lease_token TEXT,
        lease_until REAL NOT NULL DEFAULT 0,
        dead INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX records_ready ON records (dead, next_attempt_at, lease_until);
    CREATE INDEX records_value ON records (value, created_at);
    CREATE TABLE meta (key TEXT PRIMARY KEY, num REAL NOT NULL DEFAULT 0);
    """,
)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class OutboxRecord(BaseModel):
    """One stored record, as leased to the uploader (``line()`` is its wire form)."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    created_at: float
    value: float
    reasons: tuple[str, ...]
    payload: dict[str, Any]
    bytes: int
    attempts: int = 0

    def line(self) -> str:
        return json.dumps(
            {"id": self.id, "kind": self.kind, "created_at": self.created_at,
             "value": self.value, "reasons": list(self.reasons), "payload": self.payload},
            ensure_ascii=False, separators=(",", ":"),
        )


class OutboxStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    pending: int
    pending_bytes: int
    leased: int
    waiting_retry: int
    dead: int
    quarantined: int = 0
    """Records the uploader found a secret in before sending: kept here, never sent."""
    put_total: int
    acked_total: int
    evicted_total: int
    evicted_bytes: int
    max_bytes: int


def new_record_id(now: float) -> str:
    """Time-ordered, globally unique: 12 hex digits of milliseconds plus 80 random bits."""
    return f"{int(now * 1000):012x}{secrets.token_hex(10)}"


def default_outbox_path() -> Path:
    return load_settings().home / "outbox" / "outbox.sqlite3"


class Outbox:
    """A durable, bounded queue of records; safe to share between threads and processes."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Clock = time.time,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 3600.0,
        max_attempts: int = 30,
        seed: int | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else default_outbox_path()
        self.redactor = redactor or Redactor()
        """Applied by ``put`` to every payload that is not already ``Redacted``."""
        self.max_bytes = max_bytes
        self._clock = clock
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_attempts = max_attempts
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        with self._storage("open"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._migrate()

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _storage(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._storage_error(action, exc) from exc
        except OSError as exc:
            if isinstance(exc, StorageError):
                raise
            raise self._storage_error(action, exc) from exc

    def _storage_error(self, action: str, exc: BaseException) -> StorageError:
        text = str(exc).lower()
        if "full" in text or getattr(exc, "errno", None) == 28:
            hint = "the disk is full: free space on the device, or lower the outbox max_bytes"
        elif ("readonly" in text or "read-only" in text or getattr(exc, "errno", None) == 30
              or self._on_read_only_fs()):
            hint = ("the outbox is on a read-only file system: point EDGESDK_HOME "
                    "(or Outbox(path=...)) at a writable directory")
        else:
            hint = ("check that the directory exists, is writable and has free space, "
                    "or set EDGESDK_HOME to another directory")
        return StorageError(
            f"outbox {self.path}: could not {action} ({exc}). Records already stored are kept; "
            f"{hint}"
        )

    def _on_read_only_fs(self) -> bool:
        try:
            return bool(os.statvfs(self.path.parent).f_flag & os.ST_RDONLY)
        except (OSError, AttributeError):
            return False

    @contextmanager
    def _tx(self, action: str) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it is committed, or none of it."""
        with self._lock, self._storage(action):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx("migrate") as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            for number, script in enumerate(MIGRATIONS, start=1):
                if number > version:
                    for statement in script.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ producer side

    def put(
        self,
        kind: str,
        payload: dict[str, Any] | Redacted,
        value: float = 1.0,
        reasons: Sequence[str] = (),
        *,
        record_id: str | None = None,
    ) -> str:
        """Redact one record (unless ``payload`` is a ``Redacted``), store it durably and
        return its stable id. ``kind`` and ``reasons`` are redacted too.

        Raises ``UnredactablePayload`` for what the redactor cannot inspect (bytes, objects).
        Passing ``record_id`` makes the put idempotent: a second put with the same id is a no-op.
        When the store exceeds ``max_bytes``, lowest-value records are evicted first; check
        ``contains(id)`` if the new record might be the least valuable of all.
        """
        clean = (payload.payload if isinstance(payload, Redacted)
                 else self.redactor.redacted(payload).payload)
        kind = self.redactor.redact_text(kind)
        reasons = [self.redactor.redact_text(str(r)) for r in reasons]
        now = self._clock()
        rid = record_id or new_record_id(now)
        body = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
        reasons_json = json.dumps(list(reasons), ensure_ascii=False)
        size = len(body.encode()) + len(reasons_json.encode()) + len(kind) + len(rid) + 64
        with self._tx("store a record") as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO records (id, kind, created_at, value, reasons, payload, "
                "bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rid, kind, now, float(value), reasons_json, body, size),
            )
            if cur.rowcount:
                self._bump(db, "put_total", 1)
                self._evict(db)
        return rid

    def _evict(self, db: sqlite3.Connection) -> None:
        total = int(db.execute("SELECT COALESCE(SUM(bytes), 0) FROM records").fetchone()[0])
        if total <= self.max_bytes:
            return
        excess = total - self.max_bytes
        victims: list[str] = []
        freed = 0
        for rid, size in db.execute(
            "SELECT id, bytes FROM records ORDER BY dead DESC, value ASC, created_at ASC"
        ):
            victims.append(rid)
            freed += int(size)
            if freed >= excess:
                break
        db.executemany("DELETE FROM records WHERE id = ?", [(v,) for v in victims])
        self._bump(db, "evicted_total", len(victims))
        self._bump(db, "evicted_bytes", freed)

    @staticmethod
    def _bump(db: sqlite3.Connection, key: str, amount: float) -> None:
        db.execute(
            "INSERT INTO meta (key, num) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET num = num + excluded.num",
            (key, amount),
        )

    # ------------------------------------------------------------------ uploader side

    def lease(
        self, *, max_records: int = 100, max_bytes: int = 1 << 20, lease_s: float = 60.0
    ) -> list[OutboxRecord]:
        """Reserve up to ``max_records``/``max_bytes`` ready records, most valuable first.

        The lease ends at ``ack``/``nack``/``release`` or after
        ``lease_s`` (so a killed uploader's records come back by themselves).
        """
        now = self._clock()
        token = secrets.token_hex(8)
        chosen: list[OutboxRecord] = []
        with self._tx("lease records") as db:
            rows = db.execute(
                "SELECT id, kind, created_at, value, reasons, payload, bytes, attempts "
                "FROM records WHERE dead = 0 AND next_attempt_at <= ? AND lease_until <= ? "
                "ORDER BY value DESC, created_at ASC LIMIT ?",
                (now, now, max_records),
            ).fetchall()
            used = 0
            for rid, kind, created, value, reasons, payload, size, attempts in rows:
                if chosen and used + size > max_bytes:
                    break
                used += size
                chosen.append(OutboxRecord(
                    id=rid, kind=kind, created_at=created, value=value,
                    reasons=tuple(json.loads(reasons)), payload=json.loads(payload),
                    bytes=size, attempts=attempts,
                ))
            db.executemany(
                "UPDATE records SET lease_token = ?, lease_until = ? WHERE id = ?",
                [(token, now + lease_s, r.id) for r in chosen],
            )
        return chosen

    def ack(self, ids: Sequence[str]) -> int:
        """The server has these records: delete them. Unknown ids are ignored."""
        with self._tx("acknowledge records") as db:
            cur = db.executemany("DELETE FROM records WHERE id = ?", [(i,) for i in ids])
            removed = max(cur.rowcount, 0)
            self._bump(db, "acked_total", removed)
        return removed

    def nack(self, ids: Sequence[str], *, retry_after_s: float | None = None) -> None:
        """Upload failed: retry after an exponential backoff (or the server's Retry-After)."""
        now = self._clock()
        with self._tx("reschedule records") as db:
            marks = ",".join("?" * len(ids))
            rows = db.execute(f"SELECT id, attempts FROM records WHERE id IN ({marks})",
                              list(ids)).fetchall()
            if not rows:
                return
            # one delay for the whole batch, so it is retried together
            attempts = max(int(a) for _, a in rows) + 1
            delay = self.backoff_s(attempts)
            if retry_after_s is not None:
                delay = max(delay, retry_after_s)
            db.executemany(
                "UPDATE records SET attempts = attempts + 1, next_attempt_at = ?, "
                "lease_token = NULL, lease_until = 0, dead = (attempts + 1 >= ?) WHERE id = ?",
                [(now + delay, self._max_attempts, rid) for rid, _ in rows],
            )

    def backoff_s(self, attempts: int) -> float:
        """Jittered exponential backoff: uniform in [base*2^(n-1)/2, base*2^(n-1)], capped."""
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2.0 ** max(attempts - 1, 0))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def release(self, ids: Sequence[str]) -> None:
        """Give leased records back without counting a failed attempt (policy stop, 401)."""
        with self._tx("release records") as db:
            db.executemany(
                "UPDATE records SET lease_token = NULL, lease_until = 0 WHERE id = ?",
                [(i,) for i in ids],
            )

    def park(self, ids: Sequence[str]) -> None:
        """The server refuses these for good (e.g. too large alone): keep them, stop sending."""
        with self._tx("park records") as db:
            db.executemany(
                "UPDATE records SET dead = 1, lease_token = NULL, lease_until = 0 WHERE id = ?",
                [(i,) for i in ids],
            )

    def quarantine(self, ids: Sequence[str]) -> None:
        """These still hold a detectable secret: keep them on the device, never send them."""
        with self._tx("quarantine records") as db:
            cur = db.executemany(
                "UPDATE records SET dead = 2, lease_token = NULL, lease_until = 0 WHERE id = ?",
                [(i,) for i in ids])
            self._bump(db, "quarantined_total", max(cur.rowcount, 0))

    def next_ready_at(self) -> float | None:
        """When the earliest not-yet-ready pending record becomes ready (None if none pending)."""
        with self._lock, self._storage("read"):
            row = self._db.execute(
                "SELECT MIN(MAX(next_attempt_at, lease_until)) FROM records WHERE dead = 0"
            ).fetchone()
        return None if row[0] is None else float(row[0])

    # ------------------------------------------------------------------ inspection

    def contains(self, record_id: str) -> bool:
        with self._lock, self._storage("read"):
            row = self._db.execute("SELECT 1 FROM records WHERE id = ?", (record_id,)).fetchone()
        return row is not None

    def get(self, record_id: str) -> OutboxRecord | None:
        with self._lock, self._storage("read"):
            row = self._db.execute(
                "SELECT id, kind, created_at, value, reasons, payload, bytes, attempts "
                "FROM records WHERE id = ?", (record_id,),
            ).fetchone()
        if row is None:
            return None
        rid, kind, created, value, reasons, payload, size, attempts = row
        return OutboxRecord(id=rid, kind=kind, created_at=created, value=value,
                            reasons=tuple(json.loads(reasons)), payload=json.loads(payload),
                            bytes=size, attempts=attempts)

    def records(self, *, kind: str | None = None) -> Iterator[OutboxRecord]:
        """Every stored record (oldest first), for export and inspection."""
        with self._lock, self._storage("read"):
            ids = [r[0] for r in self._db.execute(
                "SELECT id FROM records WHERE (? IS NULL OR kind = ?) ORDER BY created_at, id",
                (kind, kind),
            )]
        for rid in ids:
            record = self.get(rid)
            if record is not None:
                yield record

    def counter(self, key: str) -> float:
        with self._lock, self._storage("read"):
            row = self._db.execute("SELECT num FROM meta WHERE key = ?", (key,)).fetchone()
        return 0.0 if row is None else float(row[0])

    def add_counter(self, key: str, amount: float) -> float:
        with self._tx("update a counter") as db:
            self._bump(db, key, amount)
            row = db.execute("SELECT num FROM meta WHERE key = ?", (key,)).fetchone()
            return float(row[0])

    def stats(self) -> OutboxStats:
        now = self._clock()
        with self._lock, self._storage("read"):
            pending, pending_bytes, leased, waiting, dead, quarantined = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0), "
                "COALESCE(SUM(dead = 0 AND lease_until > ?), 0), "
                "COALESCE(SUM(dead = 0 AND next_attempt_at > ?), 0), "
                "COALESCE(SUM(dead = 1), 0), COALESCE(SUM(dead = 2), 0) "
                "FROM records", (now, now),
            ).fetchone()
        return OutboxStats(
            path=str(self.path), pending=pending, pending_bytes=pending_bytes, leased=leased,
            waiting_retry=waiting, dead=dead, quarantined=quarantined,
            put_total=int(self.counter("put_total")),
            acked_total=int(self.counter("acked_total")),
            evicted_total=int(self.counter("evicted_total")),
            evicted_bytes=int(self.counter("evicted_bytes")), max_bytes=self.max_bytes,
        )
