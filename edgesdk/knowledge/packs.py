"""Fleet answer packs: the questions many devices sent up, with the cloud's answers, signed and
sent back down so every device answers them on its own (knowledge down, data up).

Server side, ``edgesdk packs build`` is one SQL query over the Parquet files the ingest server
writes (``fleet.py``; partitioned by day and campaign), run by DuckDB embedded — and the same
query runs unchanged on Spark SQL or a DuckDB-compatible warehouse when a fleet outgrows one
machine (docs/knowledge.md). It keeps a question only when at least ``min_devices`` distinct
devices asked it (so no single device's text can be in a pack), only escalated, answered,
non-private, non-personal and not time-sensitive rows (flags the ingest server computed with
the device's own rules), and the answer most devices got. Python then merges paraphrases by
embedding and signs the result.

A pack is one file: a JSON envelope holding the gzipped payload and an Ed25519 signature over
it (``cryptography``). A device verifies the size before reading, the signature before
parsing, then the format and the embedding model, and only then swaps the entries in, in one
SQLite transaction (``LearnedAnswers.replace_pack``); any failure is ``PackError`` with the
reason and the pack in use stays.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgesdk.errors import MissingExtra, PackError
from edgesdk.protocols import Embedder

FORMAT = 1
MAX_PACK_BYTES = 32_000_000
MERGE_COSINE = 0.92
"""Two pack questions this alike (and with the same answer) are one entry; below it, the
learned-answer scorer decides, as it would on a device."""
PACK_QUERY = """
SELECT key, arg_max(question, created_at) AS question, answer,
       count(DISTINCT device) AS devices, count(*) AS asked
FROM read_parquet($files, hive_partitioning = true, union_by_name = true)
WHERE kind = 'interaction' AND escalated AND NOT declined AND NOT private AND NOT personal
  AND NOT time_sensitive AND length(answer) > 0 AND device IS NOT NULL
GROUP BY key, answer
HAVING count(DISTINCT device) >= $min_devices
QUALIFY row_number() OVER (PARTITION BY key ORDER BY count(DISTINCT device) DESC,
                                                   count(*) DESC) = 1
ORDER BY devices DESC, asked DESC
LIMIT $max_entries
"""
"""Standard SQL plus DuckDB's ``read_parquet``/``arg_max``/``QUALIFY`` (Spark SQL and
Snowflake spell them ``parquet.`path` ``, ``max_by`` and ``QUALIFY``)."""


@dataclass(frozen=True)
class PackEntry:
    question: str
    answer: str
    devices: int
    asked: int
    vector: NDArray[np.float32]


@dataclass(frozen=True)
class Pack:
    version: str
    embedder: str
    created: float
    entries: tuple[PackEntry, ...]
    thresholds: dict[str, float]


# --------------------------------------------------------------------------- keys


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:
        raise MissingExtra(module="cryptography", extra="knowledge",
                           purpose="signing and verifying answer packs") from exc
    return ed25519


def generate_keys() -> tuple[bytes, bytes]:
    """(private, public) raw Ed25519 keys, 32 bytes each."""
    from cryptography.hazmat.primitives import serialization as s

    key = _ed25519().Ed25519PrivateKey.generate()
    return (key.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()),
            key.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw))


def key_id(public: bytes) -> str:
    import hashlib

    return hashlib.sha256(public).hexdigest()[:16]


# --------------------------------------------------------------------------- building


def select_entries(files: Sequence[str | Path], *, min_devices: int = 3,
                   max_entries: int = 5000) -> list[tuple[str, str, int, int]]:
    """(question, answer, devices, asked) per question many devices asked (the SQL above)."""
    try:
        import duckdb
    except ImportError as exc:
        raise MissingExtra(module="duckdb", extra="fleet", purpose="building answer packs"
                           ) from exc
    if not files:
        return []
    con = duckdb.connect()
    try:
        rows = con.execute(PACK_QUERY, {"files": [str(f) for f in files],
                                        "min_devices": min_devices,
                                        "max_entries": max_entries}).fetchall()
    finally:
        con.close()
    return [(str(q), str(a), int(d), int(n)) for _, q, a, d, n in rows]


def merge_paraphrases(rows: Sequence[tuple[str, str, int, int]], embedder: Embedder,
                      embedder_id: str) -> list[PackEntry]:
    """One entry per meaning: a row whose question is this alike an earlier (more asked) one
    with the same answer joins it."""
    if not rows:
        return []
    vectors = np.asarray(embedder.embed([q for q, _, _, _ in rows]), dtype=np.float32)
    kept: list[int] = []
    devices = [d for _, _, d, _ in rows]
    asked = [n for _, _, _, n in rows]
    for i, (question, answer, _, _) in enumerate(rows):
        twin = next((j for j in kept if rows[j][1].strip().lower() == answer.strip().lower()
                     and _same_question(question, rows[j][0], float(vectors[i] @ vectors[j]),
                                        embedder_id)),
                    None)
        if twin is None:
            kept.append(i)
        else:
            devices[twin] = max(devices[twin], devices[i])
            asked[twin] += asked[i]
    return [PackEntry(rows[i][0], rows[i][1], devices[i], asked[i], vectors[i]) for i in kept]


def _same_question(question: str, other: str, cosine: float, embedder_id: str) -> bool:
    """The device's own test: the learned-answer scorer's P(same) clears its threshold (or the
    two are near-identical in meaning)."""
    if cosine >= MERGE_COSINE:
        return True
    from edgesdk.knowledge.learned import LEARNED, Stored, match_features
    from edgesdk.routing.knowledge import load_knowledge_calibration

    scorer = load_knowledge_calibration(embedder_id).learned
    stored = Stored("", LEARNED, other, "", 0.0, None, 1, cosine)
    return scorer.probability(match_features(question, stored, now=0.0)) >= scorer.threshold


def build_pack(files: Sequence[str | Path], *, embedder: Embedder, embedder_id: str,
               private_key: bytes, version: str | None = None, min_devices: int = 3,
               max_entries: int = 5000, thresholds: dict[str, float] | None = None) -> bytes:
    """A signed pack of the questions at least ``min_devices`` devices asked."""
    entries = merge_paraphrases(select_entries(files, min_devices=min_devices,
                                               max_entries=max_entries), embedder, embedder_id)
    payload = {
        "format": FORMAT, "version": version or time.strftime("%Y%m%d%H%M%S"),
        "created": time.time(), "embedder": embedder_id, "dim": int(embedder.dim),
        "thresholds": thresholds or {}, "min_devices": min_devices,
        "entries": [{"q": e.question, "a": e.answer, "devices": e.devices, "asked": e.asked,
                     "v": base64.b64encode(e.vector.astype(np.float16).tobytes()).decode()}
                    for e in entries],
    }
    return sign(gzip.compress(json.dumps(payload, ensure_ascii=False).encode(), mtime=0),
                private_key)


def sign(payload: bytes, private_key: bytes) -> bytes:
    key = _ed25519().Ed25519PrivateKey.from_private_bytes(private_key)
    from cryptography.hazmat.primitives import serialization as s

    public = key.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    envelope = {"format": FORMAT, "key_id": key_id(public),
                "signature": base64.b64encode(key.sign(payload)).decode(),
                "payload": base64.b64encode(payload).decode()}
    return json.dumps(envelope).encode()


# --------------------------------------------------------------------------- verifying


def verify_pack(blob: bytes, *, public_key: bytes, embedder_id: str,
                max_bytes: int = MAX_PACK_BYTES) -> Pack:
    """The pack in ``blob``, or ``PackError`` saying why it is refused."""
    if len(blob) > max_bytes:
        raise PackError(f"the pack is {len(blob)} bytes, over the {max_bytes} limit")
    try:
        envelope = json.loads(blob)
        signature = base64.b64decode(envelope["signature"], validate=True)
        payload = base64.b64decode(envelope["payload"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise PackError(f"not an answer pack ({type(exc).__name__}: {exc})") from exc
    if envelope.get("format") != FORMAT:
        raise PackError(f"pack format {envelope.get('format')}; this edgesdk reads {FORMAT}. "
                        "Update edgesdk to use newer packs")
    from cryptography.exceptions import InvalidSignature

    try:
        _ed25519().Ed25519PublicKey.from_public_bytes(public_key).verify(signature, payload)
    except (InvalidSignature, ValueError) as exc:
        raise PackError("the pack's signature does not verify with the trusted key "
                        f"{key_id(public_key)}: refused") from exc
    try:
        data = json.loads(gzip.decompress(payload))
    except (OSError, ValueError) as exc:
        raise PackError(f"the signed payload does not decompress ({exc})") from exc
    if data.get("format") != FORMAT:
        raise PackError(f"pack payload format {data.get('format')}; this edgesdk reads {FORMAT}")
    if data.get("embedder") != embedder_id:
        raise PackError(f"the pack was built for the embedding model '{data.get('embedder')}' "
                        f"but this device uses '{embedder_id}': refused")
    dim = int(data["dim"])
    entries = tuple(
        PackEntry(e["q"], e["a"], int(e["devices"]), int(e["asked"]),
                  np.frombuffer(base64.b64decode(e["v"]), dtype=np.float16).astype(np.float32))
        for e in data["entries"])
    if any(len(e.vector) != dim for e in entries):
        raise PackError("a pack entry's vector has the wrong dimension")
    return Pack(version=str(data["version"]), embedder=str(data["embedder"]),
                created=float(data["created"]), entries=entries,
                thresholds=dict(data.get("thresholds") or {}))


def install_pack(pack: Pack, learned: Any) -> int:
    """Swap ``pack``'s entries into a ``LearnedAnswers`` store; returns how many."""
    learned.replace_pack([(e.question, e.answer, e.vector, e.devices) for e in pack.entries],
                         version=pack.version)
    return len(pack.entries)


def pull_pack(url: str, *, learned: Any, public_key: bytes, embedder_id: str,
              timeout_s: float = 30.0, max_bytes: int = MAX_PACK_BYTES,
              transport: Any = None) -> Pack:
    """Download, verify and install the pack at ``url``; ``PackError`` leaves the old one."""
    import httpx

    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as client, \
                client.stream("GET", url) as response:
            if response.status_code != 200:
                raise PackError(f"GET {url} answered {response.status_code}")
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > max_bytes:
                raise PackError(f"the pack is {declared} bytes, over the {max_bytes} limit")
            for part in response.iter_bytes():
                size += len(part)
                if size > max_bytes:
                    raise PackError(f"the pack passed the {max_bytes}-byte limit while "
                                    "downloading: refused")
                chunks.append(part)
    except httpx.HTTPError as exc:
        raise PackError(f"could not download the pack from {url}: {exc}") from exc
    pack = verify_pack(b"".join(chunks), public_key=public_key, embedder_id=embedder_id,
                       max_bytes=max_bytes)
    install_pack(pack, learned)
    return pack
