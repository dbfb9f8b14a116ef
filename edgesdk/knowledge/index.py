"""The app's documents as a searchable index on the device: SQLite for the chunks and the
lexical index (FTS5, BM25), numpy for the vectors, one file that survives a crash.

Why not an ANN library: at the sizes a device holds (the phone profile caps 20k chunks; the
acceptance figure is 10k), an exact scan of a float32 matrix is ~1 ms on this machine, while
hnswlib, faiss and usearch add a native wheel, a second file to keep consistent and, for HNSW,
a build that costs more than the scan saves (``scripts/measure_knowledge.py --index`` measures
numpy, sqlite-vec and usearch side by side; docs/knowledge.md has the figures). sqlite-vec would
keep everything in one file but its scan is slower than numpy's BLAS and its wheel is young.

The vectors live in the chunks table (the truth, written in the same transaction as the text)
and in sidecar ``.npy`` files (the matrix, memory-mapped at open, and the chunk ids headed by
the index's generation), so a 10k-chunk index opens in milliseconds; they are rebuilt from
SQLite when stale or missing (after a crash between the commit and the sidecar write, say).

Lexical matching is FTS5 over :func:`~edgesdk.knowledge.text.terms` (English words, Chinese
bigrams) written as space-separated tokens, so SQLite's tokenizer needs no language support.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edgesdk.errors import KnowledgeError, KnowledgeFileError, KnowledgeIndexMismatch
from edgesdk.knowledge.text import SUFFIXES, Chunk, chunk, read_file, terms
from edgesdk.protocols import Embedder

FORMAT = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY, title TEXT NOT NULL, sha256 TEXT NOT NULL, added_at REAL NOT NULL,
    chunks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, ordinal INTEGER NOT NULL, title TEXT NOT NULL,
    text TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(terms, tokenize='unicode61');
"""
CANDIDATES = 24
"""Chunks taken from each of the vector scan and the lexical index before they are fused."""


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk and how it matched: ``cosine`` (question vs chunk), ``bm25`` (FTS5's
    score, higher is better, 0 when no term matched), ``coverage`` (share of the question's
    terms, weighted by rarity, found in the chunk) and the fused ``score``."""

    id: int
    source: str
    ordinal: int
    title: str
    text: str
    cosine: float
    bm25: float
    coverage: float
    score: float


@dataclass
class AddReport:
    """What ``add`` indexed and what it skipped (a file's error does not stop a folder)."""

    indexed: list[str] = field(default_factory=list)
    chunks: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, why) per file that was not indexed."""


class KnowledgeIndex:
    """``KnowledgeIndex(path, embedder=...)``: ``add`` texts, files and folders; ``search``."""

    def __init__(self, path: str | Path | None, *, embedder: Embedder, embedder_id: str,
                 max_chunks: int = 20_000) -> None:
        """``path``: the SQLite file (``None``: in memory, for tests and one-off use);
        ``max_chunks``: the profile's cap — adding beyond it is refused with the cap named."""
        self.path = Path(path) if path is not None else None
        self.embedder = embedder
        self.embedder_id = embedder_id
        self.max_chunks = max_chunks
        self._lock = threading.RLock()
        self._db = open_sqlite(self.path, SCHEMA)
        self._check_meta()
        self._df: dict[str, int] = {}
        self._df_generation = -1
        self._ids: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._matrix: NDArray[np.float32] = np.zeros((0, embedder.dim), dtype=np.float32)
        self._load_vectors()

    # ------------------------------------------------------------------ setup

    def _check_meta(self) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            with self._tx():
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", str(FORMAT)), ("embedder", self.embedder_id),
                    ("dim", str(self.embedder.dim)), ("generation", "0")])
            return
        if meta.get("format") != str(FORMAT):
            raise KnowledgeError(f"{self.path}: knowledge index format {meta.get('format')}; "
                                 f"this edgesdk reads {FORMAT}. Delete it and add the documents "
                                 "again")
        if meta.get("embedder") != self.embedder_id:
            raise KnowledgeIndexMismatch(
                f"{self.path} was indexed with '{meta.get('embedder')}', but this device embeds "
                f"questions with '{self.embedder_id}'. Re-index: assistant.knowledge.reindex()")

    def _sidecars(self) -> tuple[Path, Path] | None:
        """(ids, vectors): the generation then the chunk ids; the float32 matrix."""
        if self.path is None:
            return None
        return self.path.with_suffix(".ids.npy"), self.path.with_suffix(".vectors.npy")

    def _generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def _load_vectors(self) -> None:
        """The vectors from the sidecars when current, else from SQLite (then rewritten)."""
        sidecars, generation = self._sidecars(), self._generation()
        if sidecars is not None and all(p.exists() for p in sidecars):
            try:
                ids = np.load(sidecars[0], allow_pickle=False)
                matrix = np.load(sidecars[1], mmap_mode="r", allow_pickle=False)
                if int(ids[0]) == generation and matrix.shape == (len(ids) - 1,
                                                                   self.embedder.dim):
                    self._ids, self._matrix = ids[1:].astype(np.int64), matrix
                    return
            except (OSError, ValueError, IndexError):
                pass  # a torn or foreign file: rebuilt below
        rows = self._db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        self._ids = np.array([r[0] for r in rows], dtype=np.int64)
        self._matrix = (np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
                        .reshape(len(rows), self.embedder.dim).copy()) if rows else np.zeros(
                            (0, self.embedder.dim), dtype=np.float32)
        self._write_sidecars(generation)

    def _write_sidecars(self, generation: int) -> None:
        sidecars = self._sidecars()
        if sidecars is None:
            return
        ids = np.concatenate([[generation], self._ids]).astype(np.int64)
        for path, array in ((sidecars[1], self._matrix), (sidecars[0], ids)):  # ids last
            tmp = path.with_suffix(".tmp.npy")
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(array), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    # ------------------------------------------------------------------ adding

    def __len__(self) -> int:
        return len(self._ids)

    def sources(self) -> list[tuple[str, str, int]]:
        """(source, title, chunks) of every indexed document."""
        return [(s, t, n) for s, t, n in self._db.execute(
            "SELECT source, title, chunks FROM sources ORDER BY source")]

    def add_text(self, text: str, *, source: str, title: str | None = None) -> int:
        """Index ``text`` as ``source`` (replacing an earlier version); returns its chunks."""
        if not text.strip():
            raise KnowledgeFileError(f"{source}: no text to index")
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            old = self._db.execute("SELECT sha256, chunks FROM sources WHERE source=?",
                                   (source,)).fetchone()
            if old is not None and old[0] == digest:
                return int(old[1])
            pieces = chunk(text, source=source, title=title)
            existing = int(old[1]) if old else 0
            if len(self) - existing + len(pieces) > self.max_chunks:
                raise KnowledgeError(
                    f"{source}: {len(pieces)} more chunks would pass this profile's cap of "
                    f"{self.max_chunks} (now {len(self)}). Remove documents, or use a profile "
                    "with a larger knowledge_chunks")
            vectors = self._embed([f"{p.title}: {p.text}" for p in pieces])
            self._insert(source, digest, pieces, vectors)
            return len(pieces)

    def _insert(self, source: str, digest: str, pieces: Sequence[Chunk],
                vectors: NDArray[np.float32]) -> None:
        """Write one document's chunks and vectors in one transaction (replacing it)."""
        with self._lock:
            with self._tx():
                self._delete(source)
                for piece, vector in zip(pieces, vectors, strict=True):
                    cur = self._db.execute(
                        "INSERT INTO chunks (source, ordinal, title, text, vector) "
                        "VALUES (?, ?, ?, ?, ?)", (source, piece.ordinal, piece.title,
                                                   piece.text, vector.tobytes()))
                    self._db.execute("INSERT INTO chunk_terms (rowid, terms) VALUES (?, ?)",
                                     (cur.lastrowid, " ".join(terms(f"{piece.title} "
                                                                    f"{piece.text}"))))
                self._db.execute("INSERT INTO sources VALUES (?, ?, ?, ?, ?)",
                                 (source, pieces[0].title if pieces else source, digest,
                                  time.time(), len(pieces)))
                self._bump()
            self._load_vectors()

    def add(self, items: str | Path | Iterable[str | Path]) -> AddReport:
        """Index files and folders (recursively; by suffix: txt, md, html, pdf). A file that
        cannot be indexed is reported in ``skipped`` with the reason; the rest still index."""
        report = AddReport()
        paths = [items] if isinstance(items, (str, Path)) else list(items)
        for item in paths:
            path = Path(item)
            if path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.is_file()
                               and p.suffix.lower() in SUFFIXES)
            elif path.exists():
                files = [path]
            else:
                report.skipped.append((str(path), "no such file or folder"))
                continue
            for file in files:
                try:
                    report.chunks += self.add_text(read_file(file), source=str(file.resolve()))
                    report.indexed.append(str(file.resolve()))
                except KnowledgeError as exc:
                    report.skipped.append((str(file), str(exc)))
        return report

    def remove(self, source: str) -> bool:
        with self._lock, self._tx():
            found = self._delete(source)
            self._bump()
        self._load_vectors()
        return found

    def clear(self) -> None:
        with self._lock, self._tx():
            self._db.execute("DELETE FROM chunks")
            self._db.execute("DELETE FROM chunk_terms")
            self._db.execute("DELETE FROM sources")
            self._bump()
        self._load_vectors()

    def _delete(self, source: str) -> bool:
        ids = [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE source=?", (source,))]
        self._db.executemany("DELETE FROM chunk_terms WHERE rowid=?", [(i,) for i in ids])
        self._db.execute("DELETE FROM chunks WHERE source=?", (source,))
        return self._db.execute("DELETE FROM sources WHERE source=?", (source,)).rowcount > 0

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                         "WHERE key='generation'")

    def _embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)

    # ------------------------------------------------------------------ searching

    def search(self, question: str, *, k: int = 3,
               vector: NDArray[np.float32] | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``question``: vector and lexical candidates, fused."""
        if not len(self):
            return []
        q = self._embed([question])[0] if vector is None else vector
        sims = self._matrix @ q
        top = np.argpartition(-sims, min(CANDIDATES, len(sims)) - 1)[:CANDIDATES]
        cosine = {int(self._ids[i]): float(sims[i]) for i in top}
        q_terms = terms(question)
        lexical = self._lexical(q_terms)
        ids = list(dict.fromkeys([*cosine, *lexical]))
        marks = ",".join("?" * len(ids))
        rows = {r[0]: r[1:] for r in self._db.execute(
            f"SELECT id, source, ordinal, title, text FROM chunks WHERE id IN ({marks})",
            ids)} if ids else {}
        stored_terms = {r[0]: r[1] for r in self._db.execute(
            f"SELECT rowid, terms FROM chunk_terms WHERE rowid IN ({marks})", ids)} if ids else {}
        weights = self._idf(q_terms)
        hits = []
        for cid in ids:
            if cid not in rows:
                continue
            source, ordinal, title, text = rows[cid]
            cos = cosine.get(cid)
            if cos is None:  # a lexical candidate: its row of the scan (ids are sorted)
                cos = float(sims[int(np.searchsorted(self._ids, cid))])
            present = set(str(stored_terms.get(cid, "")).split(" "))
            cover = (sum(w for t, w in weights.items() if t in present) / sum(weights.values())
                     if weights else 0.0)
            bm = lexical.get(cid, 0.0)
            hits.append(Hit(cid, source, ordinal, title, text, cos, bm, cover,
                            fuse(cos, cover)))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _lexical(self, question_terms: Sequence[str]) -> dict[int, float]:
        q_terms = list(dict.fromkeys(question_terms))
        if not q_terms:
            return {}
        match = " OR ".join(f'"{t}"' for t in q_terms if '"' not in t)
        rows = self._db.execute(
            "SELECT rowid, -bm25(chunk_terms) FROM chunk_terms WHERE chunk_terms MATCH ? "
            "ORDER BY bm25(chunk_terms) LIMIT ?", (match, CANDIDATES)).fetchall()
        return {int(r[0]): float(r[1]) for r in rows}

    def _idf(self, q_terms: Sequence[str]) -> dict[str, float]:
        """Rarity weights of the question's terms in this index (log-scaled, ≥ 0.1); document
        frequencies are cached until the index changes."""
        n = max(1, len(self))
        generation = self._generation()
        if self._df_generation != generation:
            self._df.clear()
            self._df_generation = generation
        out = {}
        for t in dict.fromkeys(q_terms):
            if '"' in t:
                continue
            if t not in self._df:
                if len(self._df) > 50_000:
                    self._df.clear()
                self._df[t] = self._db.execute(
                    "SELECT count(*) FROM chunk_terms WHERE chunk_terms MATCH ?",
                    (f'"{t}"',)).fetchone()[0]
            out[t] = max(0.1, float(np.log((n + 1) / (self._df[t] + 0.5))))
        return out

    def close(self) -> None:
        self._db.close()


def open_sqlite(path: Path | None, schema: str) -> sqlite3.Connection:
    """A knowledge store's connection: WAL with ``synchronous=FULL``, so what was committed
    survives kill -9 and a power cut; autocommit, transactions explicit."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False,
                         isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(schema)
    return db


def fuse(cosine: float, coverage: float) -> float:
    """The hybrid score: the vector similarity plus half the rare-term coverage. Sentence
    vectors find paraphrases; the rare terms (a name, a model number, a Chinese bigram the
    English MiniLM cannot read) find what vectors blur."""
    return cosine + 0.5 * coverage


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def chunk_of(hit: Hit) -> Chunk:
    return Chunk(hit.source, hit.ordinal, hit.title, hit.text)
