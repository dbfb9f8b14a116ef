"""A reference ingest server: what the uploader talks to, small enough to run in a test.

Real HTTP on 127.0.0.1 (stdlib ``ThreadingHTTPServer``), SQLite storage, dedupe by record id
(``INSERT OR IGNORE``, committed before the 200 goes out), so an uploader that crashes after the
server stored a batch but before it deleted the batch locally re-sends it harmlessly: the reply
counts it under ``duplicates``. It also serves campaigns and can be told to misbehave (413 above a
body size, queued 429/503/401 replies, a per-request delay) so the uploader's error paths are
tested against real sockets, not mocks.

Protocol::

    POST /v1/records   body: JSON lines {id, kind, created_at, value, reasons, payload}
                       (optionally Content-Encoding: gzip; Authorization: Bearer <token>)
                       -> 200 {"accepted": n, "duplicates": m}
    GET  /v1/campaigns -> 200 {"campaigns": [...]}
    GET  /v1/stats     -> 200 {"records": n, "requests": n, "duplicates": n, "bytes": n}
    GET  /v1/packs/latest -> 200 the newest signed answer pack (``knowledge/packs.py``), or 404

With ``parquet_dir`` it also writes what it accepts as Parquet partitions by day and campaign
(``data/fleet.py``), the input of ``edgesdk packs build``; the device's pseudonymous install id
(header ``X-EdgeSDK-Device``) is kept per record so a pack can require several devices.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from edgesdk.httpserver import BackgroundHTTPServer, ThreadedHTTPServer

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at REAL, value REAL, reasons TEXT,
    payload TEXT NOT NULL, received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, num INTEGER NOT NULL DEFAULT 0);
"""


class IngestServer(BackgroundHTTPServer):
    """``with IngestServer(db_path=...) as server: server.url`` — a live ingest endpoint."""

    thread_name = "edgesdk-ingest"
    poll_interval_s = 0.5

    def __init__(
        self,
        *,
        db_path: str | Path = ":memory:",
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        max_body_bytes: int | None = None,
        delay_s: float = 0.0,
        campaigns: Sequence[dict[str, Any]] = (),
        parquet_dir: str | Path | None = None,
        pack: bytes | None = None,
    ) -> None:
        self.db_path = str(db_path)
        self.parquet_dir = Path(parquet_dir) if parquet_dir is not None else None
        self.pack = pack
        """The signed pack served at ``/v1/packs/latest`` (set it after ``packs build``)."""
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.delay_s = delay_s
        self.campaigns: list[dict[str, Any]] = list(campaigns)
        self.requests = 0
        self.bytes_received = 0
        self._faults: deque[tuple[int, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        if self.db_path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)
        httpd = _QuietServer((host, port), _handler_for(self))
        self._init_http(httpd, url_host=str(httpd.server_address[0]))

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        super().close()
        with self._lock:
            self._db.close()

    stop = close

    # ------------------------------------------------------------------ test controls

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` record POSTs with ``status`` (e.g. 429, 503, 401)."""
        for _ in range(times):
            self._faults.append((status, headers or {}))

    def ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM records ORDER BY id")]

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, created_at, value, reasons, payload FROM records ORDER BY id"
            ).fetchall()
        return [{"id": r[0], "kind": r[1], "created_at": r[2], "value": r[3],
                 "reasons": json.loads(r[4] or "[]"), "payload": json.loads(r[5])} for r in rows]

    def counter(self, key: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT num FROM counters WHERE key = ?", (key,)).fetchone()
        return 0 if row is None else int(row[0])

    def stats(self) -> dict[str, int]:
        with self._lock:
            n = int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        return {"records": n, "requests": self.requests, "duplicates": self.counter("duplicates"),
                "bytes": self.bytes_received}

    # ------------------------------------------------------------------ request handling

    def _store(self, lines: list[dict[str, Any]], device: str | None = None) -> tuple[int, int]:
        now = time.time()
        fresh: list[dict[str, Any]] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            accepted = 0
            try:
                for rec in lines:
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO records (id, kind, created_at, value, reasons, "
                        "payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (str(rec["id"]), str(rec["kind"]), rec.get("created_at"),
                         rec.get("value"), json.dumps(rec.get("reasons", [])),
                         json.dumps(rec.get("payload", {}), ensure_ascii=False), now),
                    )
                    accepted += cur.rowcount
                    if cur.rowcount:
                        fresh.append(rec)
                duplicates = len(lines) - accepted
                self._db.execute(
                    "INSERT INTO counters (key, num) VALUES ('duplicates', ?) "
                    "ON CONFLICT(key) DO UPDATE SET num = num + excluded.num", (duplicates,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            if self.parquet_dir is not None and fresh:
                from edgesdk.data.fleet import write_partitions

                write_partitions(fresh, self.parquet_dir, device=device)
        return accepted, duplicates


class _QuietServer(ThreadedHTTPServer):
    """Clients that vanish mid-request (a killed uploader) are normal here, not errors."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: IngestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/campaigns":
                self._reply(200, {"campaigns": server.campaigns})
            elif self.path.rstrip("/") == "/v1/stats":
                self._reply(200, server.stats())
            elif self.path.rstrip("/") == "/v1/packs/latest" and server.pack is not None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.pack)))
                self.end_headers()
                self.wfile.write(server.pack)
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with server._lock:
                server.requests += 1
                server.bytes_received += len(raw)
            if self.path.rstrip("/") != "/v1/records":
                self._reply(404, {"error": "not found"})
                return
            if server.delay_s:
                time.sleep(server.delay_s)
            if server._faults:
                try:
                    status, headers = server._faults.popleft()
                except IndexError:
                    pass
                else:
                    self._reply(status, {"error": f"injected {status}"}, headers)
                    return
            if server.token is not None and (
                    self.headers.get("Authorization") != f"Bearer {server.token}"):
                self._reply(401, {"error": "missing or wrong token"})
                return
            if server.max_body_bytes is not None and len(raw) > server.max_body_bytes:
                self._reply(413, {"error": "body too large"})
                return
            try:
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    raw = gzip.decompress(raw)
                lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
                if not all(isinstance(x, dict) and "id" in x and "kind" in x for x in lines):
                    raise ValueError("each line needs id and kind")
            except (ValueError, OSError, EOFError) as exc:
                self._reply(400, {"error": f"bad body: {exc}"})
                return
            device = self.headers.get("X-EdgeSDK-Device")
            accepted, duplicates = server._store(lines, device=device[:64] if device else None)
            self._reply(200, {"accepted": accepted, "duplicates": duplicates})

    return Handler
