"""What a fleet's ingest server accepts, as Parquet partitions a query engine can read.

Each accepted batch becomes one file under ``<root>/day=YYYY-MM-DD/campaign=<name>/`` (Hive
partitioning, which DuckDB, Spark, Trino and the warehouses read as columns), written to a
temporary name and renamed, so a reader never sees half a file. The columns are flat: what
``packs build`` filters and groups on is a column, computed here once with the device's own
rules — the question's key, whether the record carries a redaction placeholder (``private``),
whether it is about the user (``personal``) or changes with time (``time_sensitive``) — so the
pack query is plain SQL with no Python inside it.

pyarrow (the ``fleet`` extra) writes the files; it is imported when a server is told to.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgesdk.errors import MissingExtra
from edgesdk.knowledge.path import PERSONAL
from edgesdk.knowledge.timely import time_sensitive
from edgesdk.textnorm import question_key

PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]{1,20}\]")
"""A redaction placeholder (``[EMAIL]``, ``[PHONE]``…): the record had personal data."""
COLUMNS = ("id", "kind", "created_at", "device", "question", "key", "answer", "tier",
           "escalated", "declined", "source", "private", "personal", "time_sensitive")


def campaign_of(reasons: Sequence[Any]) -> str:
    for reason in reasons:
        text = str(reason)
        if text.startswith("campaign:"):
            return re.sub(r"[^A-Za-z0-9_.-]", "_", text.split(":", 1)[1]) or "none"
    return "none"


def flatten(record: dict[str, Any], *, device: str | None) -> dict[str, Any]:
    payload = record.get("payload") or {}
    question = str(payload.get("question") or "")
    answer = str(payload.get("answer") or "")
    return {
        "id": str(record["id"]), "kind": str(record["kind"]),
        "created_at": float(record.get("created_at") or time.time()), "device": device,
        "question": question, "key": question_key(question) if question else "",
        "answer": answer, "tier": str(payload.get("tier") or ""),
        "escalated": bool(payload.get("escalated")), "declined": bool(payload.get("declined")),
        "source": str(payload.get("source") or ""),
        "private": bool(PLACEHOLDER.search(question) or PLACEHOLDER.search(answer)),
        "personal": bool(PERSONAL.search(question)),
        "time_sensitive": time_sensitive(question),
    }


def write_partitions(records: Sequence[dict[str, Any]], root: Path, *,
                     device: str | None) -> list[Path]:
    """Write ``records`` (the ingest protocol's lines) as Parquet, one file per partition."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingExtra(module="pyarrow", extra="fleet", purpose="writing Parquet") from exc
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        row = flatten(record, device=device)
        day = time.strftime("%Y-%m-%d", time.gmtime(row["created_at"]))
        groups.setdefault((day, campaign_of(record.get("reasons") or [])), []).append(row)
    written = []
    for (day, campaign), rows in groups.items():
        folder = root / f"day={day}" / f"campaign={campaign}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(rows, schema=parquet_schema())
        final = folder / f"part-{uuid.uuid4().hex}.parquet"
        tmp = folder / f".{final.name}.tmp"
        pq.write_table(table, tmp)
        tmp.rename(final)
        written.append(final)
    return written


def parquet_schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()), ("kind", pa.string()), ("created_at", pa.float64()),
        ("device", pa.string()), ("question", pa.string()), ("key", pa.string()),
        ("answer", pa.string()), ("tier", pa.string()), ("escalated", pa.bool_()),
        ("declined", pa.bool_()), ("source", pa.string()), ("private", pa.bool_()),
        ("personal", pa.bool_()), ("time_sensitive", pa.bool_())])


def parquet_files(root: Path) -> list[Path]:
    """Every complete Parquet file under ``root`` (temporary ones are skipped)."""
    return sorted(p for p in root.rglob("*.parquet") if not p.name.startswith("."))
