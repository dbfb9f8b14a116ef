"""The Curator: the last step of ``Assistant.ask`` — score, redact, cap, store.

It exists so that the assistant makes one call per interaction and the policy stays in one
place: the :class:`ValueScorer` says whether the interaction is worth keeping and why, the
:class:`Redactor` strips personal data (text and faces) *before* anything touches the disk, the
rate caps bound the volume, and only then the record goes to the crash-safe :class:`Outbox`.
Curation never breaks the request path: a full or read-only disk is logged and reported in the
decision (``dropped="storage_error"``), so answering the user is never blocked by the outbox.

A question asked again (a near-duplicate of a record kept recently) is not stored again: a
small ``repeat`` record (no text; which record it repeats, the confidence, whether it went up
a tier) counts it, so the server still learns how often the device meets a question it gets
wrong, which is what fleet answer packs rank by, at about a tenth of the bytes.

User feedback comes later than the answer, so the Curator remembers the last few hundred
interactions in memory (never on disk unredacted) to attach them, redacted, to a ``feedback``
record when the interaction itself was not kept.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from edgesdk.data.outbox import Outbox
from edgesdk.data.redact import Redacted, RedactionReport, Redactor
from edgesdk.data.value import RateCaps, Triggers, ValueScorer, fetch_campaigns
from edgesdk.errors import StorageError
from edgesdk.protocols import Embedder
from edgesdk.types import Answer

log = logging.getLogger(__name__)

INTERACTION = "interaction"
FEEDBACK = "feedback"
REPEAT = "repeat"


class CurationDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    kept: bool
    reasons: list[str]
    record_id: str | None = None
    bytes: int = 0
    value: float = 0.0
    dropped: str | None = None
    redactions: dict[str, int] = {}
    repeat_of: str | None = None
    """Set when the interaction was counted as a repeat of this kept record (kind ``repeat``)
    instead of being stored again."""


class CuratorStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    considered: int
    kept: int
    kept_bytes: int
    dropped: dict[str, int]
    reasons: dict[str, int]
    redactions: dict[str, int]


class Curator:
    """Decides, per interaction, whether a redacted record goes to the outbox."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        triggers: Triggers | None = None,
        redactor: Redactor | None = None,
        embedder: Embedder | None = None,
        clock: Callable[[], float] = time.time,
        scorer: ValueScorer | None = None,
        seed: int = 0,
        memory: int = 256,
    ) -> None:
        self.outbox = outbox
        self.triggers = triggers or Triggers()
        self.redactor = redactor or Redactor()
        self.scorer = scorer or ValueScorer(
            triggers=self.triggers, embedder=embedder, clock=clock, seed=seed
        )
        self._caps = RateCaps(self.triggers.caps, clock=clock)
        self._clock = clock
        self._rng = random.Random(seed + 1)
        self._memory: OrderedDict[str, tuple[Answer, str | None, str | None]] = OrderedDict()
        self._memory_size = memory
        self._considered = 0
        self._kept = 0
        self._kept_bytes = 0
        self._dropped: dict[str, int] = {}
        self._reasons: dict[str, int] = {}
        self._redactions: dict[str, int] = {}

    # ------------------------------------------------------------------ public

    def consider(
        self,
        answer: Answer,
        *,
        image: bytes | None = None,
        extra: dict[str, Any] | None = None,
        device_text: str | None = None,
    ) -> CurationDecision:
        """Score one answered request; store a redacted record if it is worth it."""
        self._considered += 1
        assessment, vector = self.scorer.assess(answer, device_text=device_text)
        if assessment.duplicate_of is not None:
            decision = self._repeat(answer, assessment.duplicate_of, assessment.reasons,
                                    assessment.value)
            self._remember(answer, device_text, None)
            return decision
        if not assessment.keep:
            self._remember(answer, device_text, None)
            return self._drop(assessment.dropped or "not_valuable", assessment.reasons)
        report = RedactionReport()
        payload = self.redactor.redacted(self._raw(answer, device_text=device_text, extra=extra),
                                         image=image, report=report)
        decision = self._store(INTERACTION, payload, assessment.value, assessment.reasons,
                               report)
        if decision.kept:
            self.scorer.kept(vector, assessment.reasons, decision.record_id)
        self._remember(answer, device_text, decision.record_id)
        return decision

    def feedback(
        self, answer_id: str | Answer, good: bool, correction: str | None = None
    ) -> CurationDecision:
        """Record the user's verdict on an earlier answer (with the interaction if remembered)."""
        if isinstance(answer_id, Answer):
            answer_id = answer_id.id
        self._considered += 1
        if good and not correction:
            rate = self.triggers.sample_rates.get("feedback_good", 0.1)
            if self._rng.random() >= rate:
                return self._drop("sampled_out", ["feedback_good"])
            reasons = ["feedback_good"]
        else:
            reasons = ["feedback"]
        report = RedactionReport()
        remembered = self._memory.get(answer_id)
        raw: dict[str, Any] = {"answer_id": answer_id, "good": good, "correction": correction}
        if remembered is not None:
            answer, device_text, record_id = remembered
            raw["interaction_record_id"] = record_id
            if record_id is None or not self.outbox.contains(record_id):
                raw["interaction"] = self._raw(answer, device_text=device_text, extra=None)
        value = self.scorer.value_of(reasons) if reasons != ["feedback_good"] else 0.2
        return self._store(FEEDBACK, self.redactor.redacted(raw, report=report), value,
                           reasons, report)

    def refresh_campaigns(self, ingest_url: str) -> int:
        """Fetch ``GET <ingest>/v1/campaigns`` and apply them; returns how many are active."""
        campaigns = fetch_campaigns(ingest_url)
        self.scorer.set_campaigns(campaigns)
        return len(campaigns)

    def stats(self) -> CuratorStats:
        return CuratorStats(considered=self._considered, kept=self._kept,
                            kept_bytes=self._kept_bytes, dropped=dict(self._dropped),
                            reasons=dict(self._reasons), redactions=dict(self._redactions))

    # ------------------------------------------------------------------ internals

    def _raw(self, answer: Answer, *, device_text: str | None, extra: dict[str, Any] | None
             ) -> dict[str, Any]:
        """The record of one interaction before redaction (it never leaves this object)."""
        percepts = []
        for p in answer.percepts:
            item: dict[str, Any] = {"kind": p.kind, "score": round(float(p.score), 4)}
            if p.kind == "object":
                item["label"] = p.label
            elif p.kind in ("text", "transcript"):
                item["text"] = p.text
            percepts.append(item)
        raw: dict[str, Any] = {
            "answer_id": answer.id,
            "question": answer.question,
            "answer": answer.text,
            "device_text": device_text if device_text is not None else answer.device_text,
            "tier": answer.tier,
            "model": answer.model,
            "source": answer.source,
            "confidence": round(answer.confidence, 4),
            "escalated": answer.escalated,
            "declined": answer.declined,
            "route_reasons": list(answer.reasons),
            "percepts": percepts,
            "citations": [c.model_dump() for c in answer.citations],
            "usage": answer.usage.model_dump(),
            "latency_ms": round(answer.latency_ms, 1),
        }
        if extra:
            raw["extra"] = extra
        return raw

    def _repeat(self, answer: Answer, of: str, reasons: list[str], value: float
                 ) -> CurationDecision:
        """Count a near-duplicate against the record it repeats: no text, a few numbers."""
        raw = {"repeat_of": of, "answer_id": answer.id, "tier": answer.tier,
               "confidence": round(answer.confidence, 4), "escalated": answer.escalated,
               "declined": answer.declined, "reasons": reasons}
        report = RedactionReport()
        decision = self._store(REPEAT, self.redactor.redacted(raw, report=report), value,
                               [*reasons, "repeat"], report)
        return decision.model_copy(update={"repeat_of": of}) if decision.kept else decision

    def _store(self, kind: str, payload: Redacted, value: float, reasons: list[str],
               report: RedactionReport) -> CurationDecision:
        size = len(json.dumps(payload.payload, ensure_ascii=False,
                              separators=(",", ":")).encode())
        blocked = self._caps.blocked(size)
        if blocked is not None and "feedback" not in reasons:
            return self._drop(blocked, reasons)
        try:
            record_id = self.outbox.put(kind, payload, value=value, reasons=reasons)
        except StorageError as exc:
            log.warning("curation skipped: %s", exc)
            return self._drop("storage_error", reasons)
        self._caps.record(size)
        self._kept += 1
        self._kept_bytes += size
        for r in reasons:
            self._reasons[r] = self._reasons.get(r, 0) + 1
        for name, n in report.found.items():
            self._redactions[name] = self._redactions.get(name, 0) + n
        return CurationDecision(kept=True, reasons=reasons, record_id=record_id, bytes=size,
                                value=value, redactions=dict(report.found))

    def _drop(self, why: str, reasons: list[str]) -> CurationDecision:
        self._dropped[why] = self._dropped.get(why, 0) + 1
        return CurationDecision(kept=False, reasons=reasons, dropped=why)

    def _remember(self, answer: Answer, device_text: str | None, record_id: str | None) -> None:
        if not answer.id:
            return
        self._memory[answer.id] = (answer, device_text, record_id)
        self._memory.move_to_end(answer.id)
        while len(self._memory) > self._memory_size:
            self._memory.popitem(last=False)
