"""The device's knowledge inside a request: consulted after the skills and before the local
model, and taught by every escalation that is safe to keep.

``consult``: the learned answers (this device's and the fleet pack's) first — a question asked
before, in any words, is answered as the cloud answered it — then the app's documents. Each
candidate gets a calibrated P(right) (``routing/knowledge.py``); a sure one is the answer
(``source="knowledge"``, with ``citations``), anything else leaves the question to the usual
path and says why in the reasons.

``learn``: an escalated answer is kept only when it is safe to keep — not private (nothing
was redacted from the question, and the redactor finds nothing in the answer), not the
user's own data ("my blood type", "我的…"), not about what the camera or microphone caught,
not a turn of a conversation, not a tool call or a typed answer — and a time-sensitive one
only until its expiry (``timely.py``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edgesdk.knowledge.base import Knowledge
from edgesdk.knowledge.extract import extract
from edgesdk.knowledge.learned import PACK, best_match
from edgesdk.knowledge.timely import expiry
from edgesdk.routing.knowledge import Kind
from edgesdk.types import Answer, Citation, RouteDecision

if TYPE_CHECKING:
    from edgesdk.device_path import DeviceAttempt
    from edgesdk.protocols import TextRedactor


PERSONAL = re.compile(r"\b(my|mine|our|ours|myself|i'm|i've|i am)\b|我的|我们的|咱们|咱的|"
                       r"我(是|有|在|家|要|想)", re.IGNORECASE)
"""A question about the user's own life: its answer is theirs, not the world's to reuse."""
PASSAGE_CHARS = 300
VECTORS_KEPT = 16


@dataclass
class KnowledgeAnswer:
    text: str
    kind: Kind
    p: float
    citation: Citation
    entry: str | None = None
    """The learned-answer entry it came from (feedback evicts it)."""
    features: dict[str, float] = field(default_factory=dict)


class KnowledgePath:
    def __init__(self, knowledge: Knowledge, *, now: Callable[[], datetime],
                 owned: bool = True) -> None:
        """``owned``: the assistant made ``knowledge`` and closes it; one the app passed in
        stays open for the app (another assistant may share it)."""
        self.knowledge = knowledge
        self.now = now
        self.owned = owned
        self._entries: dict[str, str] = {}
        """answer id → learned entry, for feedback (the last few hundred answers)."""
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        if self.owned:
            self.knowledge.close()

    def _vector(self, question: str) -> Any:
        """The question's embedding, once per request: ``consult`` and ``learn`` of the same
        question share it (the last few questions are kept)."""
        with self._lock:
            if question in self._vectors:
                return self._vectors[question]
        vector = self.knowledge.vector(question)
        with self._lock:
            self._vectors[question] = vector
            while len(self._vectors) > VECTORS_KEPT:
                self._vectors.popitem(last=False)
        return vector

    def consult(self, attempt: DeviceAttempt) -> None:
        """Set ``attempt.knowledge`` and a stay decision when the device's knowledge answers
        surely; otherwise leave the decision to the usual path (the trace says what was
        found and how sure)."""
        question = attempt.question
        if attempt.percepts or attempt.history or not question.strip():
            return  # about what was just seen or said: not what documents or the cloud knew
        t = time.perf_counter()
        vector = self._vector(question)
        best = self._learned(question, vector)
        calibration = self.knowledge.calibration()
        if best is None or best.p < calibration.learned.threshold:
            found = self._documents(question, vector)
            if found is not None and (best is None or found.p > best.p):
                best = found
        from edgesdk.device_path import step

        if best is None:
            attempt.trace.append(step("knowledge", t, found=False))
            return
        keep = calibration.scorer(best.kind, best.features).threshold
        attempt.trace.append(step("knowledge", t, kind=best.kind, p=round(best.p, 4),
                                  kept=best.p >= keep))
        if best.p < keep:
            return
        attempt.knowledge = best
        attempt.decision = RouteDecision(
            action="stay", confidence=best.p, threshold=keep,
            reasons=(f"knowledge {best.kind}: P(right) {best.p:.2f} ≥ {keep:.2f} "
                     f"({best.citation.kind}: {best.citation.title or best.citation.source})",))

    def _learned(self, question: str, vector: Any) -> KnowledgeAnswer | None:
        now = self.now().timestamp()
        candidates = self.knowledge.learned.nearest(vector, k=3, now=now)
        if not candidates:
            return None
        best = best_match(question, candidates, self.knowledge.calibration().learned, now=now)
        if best is None:
            return None
        p, stored, features = best
        kind = "pack" if stored.origin == PACK else "learned"
        return KnowledgeAnswer(
            text=stored.answer, kind="learned", p=p, entry=stored.id, features=features,
            citation=Citation(kind=kind, source=f"{kind}:{stored.id}", title=stored.question,
                              passage=stored.answer[:PASSAGE_CHARS], score=stored.cosine))

    def _documents(self, question: str, vector: Any) -> KnowledgeAnswer | None:
        if not self.knowledge.has_documents():
            return None
        index = self.knowledge.index
        hits = index.search(question, k=8, vector=vector)
        found = extract(question, hits, embedder=self.knowledge.embedder, vector=vector,
                        reader=self.knowledge.reader)
        if found is None:
            return None
        p = self.knowledge.calibration().scorer("documents", found.features).probability(
            found.features)
        return KnowledgeAnswer(
            text=found.text, kind="documents", p=p, features=found.features,
            citation=Citation(kind="document", source=found.source, title=found.title,
                              passage=found.passage[:PASSAGE_CHARS],
                              score=hits[0].score if hits else 0.0))

    # ------------------------------------------------------------------ learning

    def after(self, attempt: DeviceAttempt, answer: Answer, *,
              redactor: TextRedactor | None) -> None:
        """After a request: count a knowledge answer's use, or keep a safe cloud answer."""
        if answer.source == "knowledge":
            self.used(answer, attempt)
        elif answer.escalated:
            self.learn(attempt, answer, redactor=redactor)

    def learn(self, attempt: DeviceAttempt, answer: Answer, *,
              redactor: TextRedactor | None) -> str | None:
        """Keep an escalated answer when it is safe to; returns why it was not (or None)."""
        why = unsafe_to_keep(attempt, answer, redactor=redactor)
        if why is not None:
            return why
        asked = self.now()
        until = expiry(answer.question, asked)
        vector = self._vector(answer.question)
        self.knowledge.learned.keep(answer.question, answer.text.strip(), vector,
                                    tier=answer.tier, model=answer.model,
                                    expires=until.timestamp() if until else None,
                                    now=asked.timestamp())
        return None

    def used(self, answer: Answer, attempt: DeviceAttempt) -> None:
        """Remember which entry answered (for feedback) and count the use."""
        found = attempt.knowledge
        if found is None or found.entry is None:
            return
        self.knowledge.learned.used(found.entry, now=self.now().timestamp())
        self._entries[answer.id] = found.entry
        while len(self._entries) > 512:
            self._entries.pop(next(iter(self._entries)))

    def feedback(self, answer_id: str, *, good: bool) -> bool:
        """A bad answer from a learned entry evicts the entry; True when one was evicted."""
        entry = self._entries.pop(answer_id, None)
        if good or entry is None:
            return False
        return self.knowledge.learned.evict(entry)


def unsafe_to_keep(attempt: DeviceAttempt, answer: Answer, *,
                   redactor: TextRedactor | None) -> str | None:
    """Why an answer must not be kept for reuse, or None when it may be."""
    if not answer.escalated or answer.declined or not answer.text.strip():
        return "not a cloud answer"
    checks: Mapping[str, bool] = {
        "a tool call": bool(answer.tool_calls) or attempt.tools is not None,
        "a typed answer": attempt.schema is not None,
        "about what was seen or heard": bool(attempt.percepts) or attempt.saw_image,
        "a turn of a conversation": bool(attempt.history),
        "private (redacted before it left)": bool(attempt.redactions),
        "the user's own data": bool(PERSONAL.search(answer.question)),
    }
    for why, failed in checks.items():
        if failed:
            return why
    if redactor is not None and _redacts(redactor, answer.question + "\n" + answer.text):
        return "private (the redactor found personal data)"
    return None


def _redacts(redactor: TextRedactor, text: str) -> bool:
    return redactor.redact_text(text) != text
