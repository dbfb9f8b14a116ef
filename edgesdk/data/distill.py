"""Distillation set: escalated questions with the upper tier's answers, as chat JSONL — and
the device's own knowledge: answers it kept from the cloud (``records_from_learned``) and
answers read out of the app's documents, with the passage in the prompt.

Every escalation is a free lesson: the device could not answer well, and a bigger model (the
teacher) did. Exporting those pairs in the chat fine-tuning format
(``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}``) lets the small model be
fine-tuned on exactly the questions it gets wrong. Records are read after redaction (from the
outbox or from an ingest server's database), answers that are fallbacks, empty, declined or
below the teacher's own confidence floor are skipped, and repeated questions are kept once.

The export file leaves the device or the server (to a training job), so it is a boundary like
the outbox: every message is run through the :class:`Redactor` again. Redaction is idempotent,
so records that were redacted at ``Outbox.put`` come through unchanged, and payloads an app
builds itself cannot carry a secret into the training set.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgesdk.data.outbox import Outbox
from edgesdk.data.redact import Redactor
from edgesdk.textnorm import question_key

TEACHER_TIERS = frozenset({"edge", "cloud"})
MIN_TEACHER_CONFIDENCE = 0.5
"""Below this the teacher's own confidence says its answer is likely wrong: the cloud reports
1.0 (0.5 when cut off at the token limit), an edgesdk edge tier its router's P(right) — a small
model's unsure answer (a phone's Gemma saying "1011111…" at 0.001) must not become a lesson."""


def records_from_outbox(outbox: Outbox) -> Iterator[dict[str, Any]]:
    for record in outbox.records(kind="interaction"):
        yield record.payload


def records_from_ingest_db(path: str | Path) -> Iterator[dict[str, Any]]:
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        for (payload,) in db.execute(
            "SELECT payload FROM records WHERE kind = 'interaction' ORDER BY created_at, id"
        ):
            yield json.loads(payload)
    finally:
        db.close()


def distill_example(payload: dict[str, Any], *, system: str | None = None,
                    min_confidence: float = MIN_TEACHER_CONFIDENCE,
                    redactor: Redactor | None = None) -> dict[str, Any] | None:
    """One redacted chat example from an interaction payload, or None if it teaches nothing:
    not an upper tier's answer, empty, a fallback, declined, or one its tier was unsure of."""
    question = str(payload.get("question") or "").strip()
    answer = str(payload.get("answer") or "").strip()
    passage = _document_passage(payload)
    if passage is None and not (payload.get("escalated") and payload.get("tier") in
                                TEACHER_TIERS):
        return None
    if not question or not answer or "fallback" in (payload.get("route_reasons") or []):
        return None
    confidence = payload.get("confidence")
    if payload.get("declined") or (isinstance(confidence, (int, float))
                                   and confidence < min_confidence):
        return None
    redact = (redactor or _default_redactor()).redact_text
    messages = [] if system is None else [{"role": "system", "content": redact(system)}]
    asked = question if passage is None else f"{passage}\n\nQuestion: {question}"
    messages += [{"role": "user", "content": redact(asked)},
                 {"role": "assistant", "content": redact(answer)}]
    return {"messages": messages}


def _document_passage(payload: dict[str, Any]) -> str | None:
    """The passage of a device answer read out of the app's documents (a retrieval hit): the
    model learns to answer from a passage in its prompt."""
    if payload.get("source") != "knowledge":
        return None
    for citation in payload.get("citations") or []:
        if isinstance(citation, dict) and citation.get("kind") == "document":
            return str(citation.get("passage") or "") or None
    return None


def records_from_learned(learned: Any) -> Iterator[dict[str, Any]]:
    """The cloud answers a device kept (``knowledge.learned``) as interaction payloads."""
    for question, answer, _ in learned.rows():
        yield {"question": question, "answer": answer, "escalated": True, "tier": "cloud"}


@lru_cache(maxsize=1)
def _default_redactor() -> Redactor:
    return Redactor()


def export_distill(payloads: Iterable[dict[str, Any]], out: str | Path, *,
                   system: str | None = None,
                   min_confidence: float = MIN_TEACHER_CONFIDENCE,
                   redactor: Redactor | None = None) -> int:
    """Write redacted chat fine-tuning JSONL to ``out`` (atomically); returns the number of
    examples."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    tmp = out.with_name(out.name + ".part")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for payload in payloads:
            example = distill_example(payload, system=system, min_confidence=min_confidence,
                                      redactor=redactor)
            if example is None:
                continue
            key = question_key(str(payload.get("question", "")))
            if key in seen:
                continue
            seen.add(key)
            fh.write(json.dumps(example, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(out)
    return count
