"""Answers the cloud already gave, kept on the device and reused for the same question asked
again in other words: the cloud teaching the device.

One SQLite file (WAL, ``synchronous=FULL``: an answer kept is kept through kill -9) holds the
device's own learned answers and the entries of the fleet pack it trusts (``packs.py``), each
with its question's vector. A lookup takes the nearest stored questions by cosine and describes
the best match as numbers (``match_features``): how alike the two questions are in meaning and
in words, whether their numbers or names differ ("capital of Austria" vs "capital of
Australia" are close in meaning and a different question), how old the answer is. The router's
knowledge calibration turns them into P(the stored answer is right for this question); an entry
past its expiry is never a candidate (``timely.py``). The store is bounded (least recently
used goes first), ``clear()`` empties it, and feedback evicts the entry an answer came from.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgesdk.knowledge.index import open_sqlite
from edgesdk.knowledge.text import terms
from edgesdk.textnorm import CJK, question_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, origin TEXT NOT NULL, question TEXT NOT NULL, key TEXT NOT NULL,
    answer TEXT NOT NULL, tier TEXT, model TEXT, created REAL NOT NULL, expires REAL,
    last_used REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0, devices INTEGER NOT NULL DEFAULT 1,
    vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS answers_origin ON answers(origin);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
LEARNED = "learned"
PACK = "pack"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?|[零〇一二两三四五六七八九十百千万亿]+")
_QUALIFIER = re.compile(
    r"\b(first|second|third|fourth|fifth|last|next|previous|before|after|largest|smallest|"
    r"biggest|highest|lowest|longest|shortest|tallest|deepest|oldest|newest|youngest|most|"
    r"least|best|worst|fastest|slowest|hottest|coldest|north|south|east|west|northern|"
    r"southern|not|never|without|minimum|maximum|min|max|average|total|per|celsius|"
    r"fahrenheit|kelvin|miles?|km|kilometers?|meters?|feet|pounds?|kg|kilograms?)\b|"
    r"第[一二三四五六七八九十\d]+|最[大小高低长短深老新多少好差快慢热冷早晚]|之前|之后|以前|以后|"
    r"不是|没有|平均|总共|摄氏|华氏|公里|英里|米|英尺|公斤|磅|东|南|西|北", re.IGNORECASE)
"""Words that turn a question into another one however alike the rest is ("the first person
on the moon" / "the second"; "in Celsius" / "in Fahrenheit"; 最高 / 最低)."""
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'-]+|[A-Z]{2,}[A-Za-z0-9]*")


@dataclass(frozen=True)
class Stored:
    id: str
    origin: str
    """``learned`` (this device's escalations) or ``pack`` (the fleet's pack)."""
    question: str
    answer: str
    created: float
    expires: float | None
    devices: int
    cosine: float


def match_features(question: str, stored: Stored, *, now: float) -> dict[str, float]:
    """How well a stored question stands for ``question`` (the router's ``ln_*`` features)."""
    a, b = set(terms(question)), set(terms(stored.question))
    union = a | b
    nums_a, nums_b = set(_NUMBER.findall(question)), set(_NUMBER.findall(stored.question))
    names_a = {n.lower() for n in _NAME.findall(question)}
    names_b = {n.lower() for n in _NAME.findall(stored.question)}
    only = (a ^ b)
    quals_a = {m.group(0).lower() for m in _QUALIFIER.finditer(question)}
    quals_b = {m.group(0).lower() for m in _QUALIFIER.finditer(stored.question)}
    return {
        "ln_cosine": stored.cosine,
        "ln_jaccard": len(a & b) / len(union) if union else 0.0,
        "ln_only_terms": float(len(only)),
        "ln_number_differs": float(nums_a != nums_b),
        "ln_name_differs": float(bool(names_a ^ names_b) and bool(names_a and names_b)),
        "ln_qualifier_differs": float(quals_a != quals_b),
        "ln_same_key": float(question_key(question) == question_key(stored.question)),
        "ln_age_days": min(30.0, max(0.0, (now - stored.created) / 86400)),
        "ln_from_pack": float(stored.origin == PACK),
        "ln_devices": float(min(stored.devices, 50)),
        "ln_zh": float(bool(CJK.search(question))),
    }


def best_match(question: str, candidates: Sequence[Stored], scorer: Any, *, now: float
               ) -> tuple[float, Stored, dict[str, float]] | None:
    """The candidate the scorer (``routing.knowledge.KnowledgeScorer``) is surest of:
    (P(its answer is right for ``question``), it, its features), or None without any."""
    scored = []
    for stored in candidates:
        features = match_features(question, stored, now=now)
        scored.append((scorer.probability(features), stored, features))
    return max(scored, key=lambda s: s[0]) if scored else None


class LearnedAnswers:
    """``LearnedAnswers(path, dim=384, max_entries=...)``: ``keep``, ``nearest``, ``evict``,
    ``clear``. Thread-safe; vectors are kept in memory beside the file (≤ a few MB)."""

    def __init__(self, path: str | Path | None, *, dim: int, embedder_id: str,
                 max_entries: int = 5000) -> None:
        self.path = Path(path) if path is not None else None
        self.dim = dim
        self.embedder_id = embedder_id
        self.max_entries = max_entries
        self._lock = threading.RLock()
        self._db = open_sqlite(self.path, SCHEMA)
        found = self._db.execute("SELECT value FROM meta WHERE key='embedder'").fetchone()
        if found is None:
            self._db.execute("INSERT INTO meta VALUES ('embedder', ?)", (embedder_id,))
        elif found[0] != embedder_id:  # vectors of another model mean nothing here
            self._db.execute("DELETE FROM answers")
            self._db.execute("UPDATE meta SET value=? WHERE key='embedder'", (embedder_id,))
        self._reload()

    def _reload(self) -> None:
        rows = self._db.execute("SELECT id, vector FROM answers").fetchall()
        self._ids = [r[0] for r in rows]
        self._matrix: NDArray[np.float32] = (
            np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
                len(rows), self.dim).copy() if rows else np.zeros((0, self.dim), np.float32))

    def __len__(self) -> int:
        return len(self._ids)

    def count(self, origin: str | None = None) -> int:
        if origin is None:
            return len(self)
        return int(self._db.execute("SELECT count(*) FROM answers WHERE origin=?",
                                    (origin,)).fetchone()[0])

    def keep(self, question: str, answer: str, vector: NDArray[np.float32], *,
             tier: str | None = None, model: str | None = None, expires: float | None = None,
             now: float | None = None) -> str:
        """Keep a cloud answer (replacing an earlier one to the same question); its id."""
        now = time.time() if now is None else now
        key = question_key(question)
        entry = uuid.uuid4().hex
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM answers WHERE origin=? AND key=?", (LEARNED, key))
                self._db.execute(
                    "INSERT INTO answers (id, origin, question, key, answer, tier, model, "
                    "created, expires, last_used, vector) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (entry, LEARNED, question, key, answer, tier, model, now, expires, now,
                     np.asarray(vector, np.float32).tobytes()))
                over = self.count(LEARNED) - self.max_entries
                if over > 0:
                    self._db.execute(
                        "DELETE FROM answers WHERE id IN (SELECT id FROM answers WHERE origin=? "
                        "ORDER BY last_used LIMIT ?)", (LEARNED, over))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._reload()
        return entry

    def replace_pack(self, entries: Sequence[tuple[str, str, NDArray[np.float32], int]], *,
                     version: str, now: float | None = None) -> None:
        """Swap in a verified pack's entries ((question, answer, vector, devices)) in one
        transaction: a crash leaves the old pack or the new one, never half of each."""
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM answers WHERE origin=?", (PACK,))
                self._db.executemany(
                    "INSERT INTO answers (id, origin, question, key, answer, tier, model, created,"
                    " expires, last_used, devices, vector) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(uuid.uuid4().hex, PACK, q, question_key(q), a, "pack", version, now, None,
                      now, int(d), np.asarray(v, np.float32).tobytes())
                     for q, a, v, d in entries])
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('pack_version', ?)",
                                 (version,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._reload()

    def pack_version(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key='pack_version'").fetchone()
        return str(row[0]) if row else None

    def nearest(self, vector: NDArray[np.float32], *, k: int = 3,
                now: float | None = None) -> list[Stored]:
        """The ``k`` stored questions nearest ``vector`` that have not expired."""
        if not self._ids:
            return []
        now = time.time() if now is None else now
        with self._lock:
            sims = self._matrix @ np.asarray(vector, np.float32)
            order = np.argsort(-sims)[: k * 4]
            ids = [self._ids[i] for i in order]
            rows = {r[0]: r for r in self._db.execute(
                f"SELECT id, origin, question, answer, created, expires, devices FROM answers "
                f"WHERE id IN ({','.join('?' * len(ids))})", ids)}
        out = []
        for i in order:
            row = rows.get(self._ids[i])
            if row is None or (row[5] is not None and row[5] <= now):
                continue  # expired: never a candidate
            out.append(Stored(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                              float(sims[i])))
            if len(out) == k:
                break
        return out

    def used(self, entry: str, *, now: float | None = None) -> None:
        with self._lock:
            self._db.execute("UPDATE answers SET hits = hits + 1, last_used = ? WHERE id = ?",
                             (time.time() if now is None else now, entry))

    def evict(self, entry: str) -> bool:
        """Remove one entry (feedback said its answer was wrong)."""
        with self._lock:
            gone = self._db.execute("DELETE FROM answers WHERE id=?", (entry,)).rowcount > 0
            self._reload()
        return gone

    def clear(self, origin: str | None = LEARNED) -> None:
        """Forget this device's learned answers (``origin=None``: the pack's too)."""
        with self._lock:
            if origin is None:
                self._db.execute("DELETE FROM answers")
            else:
                self._db.execute("DELETE FROM answers WHERE origin=?", (origin,))
            self._reload()

    def rows(self, origin: str = LEARNED) -> list[tuple[str, str, float]]:
        """(question, answer, created) of the kept answers (distillation export)."""
        return [(q, a, c) for q, a, c in self._db.execute(
            "SELECT question, answer, created FROM answers WHERE origin=? ORDER BY created",
            (origin,))]

    def close(self) -> None:
        self._db.close()
