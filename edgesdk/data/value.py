"""Value scoring and triggers: decide which interactions are worth uploading.

A device sees far more than it should upload; what a fleet can learn from is concentrated in a
few events: answers the device was unsure of, requests it had to escalate, cases where the device
and the cloud disagreed, inputs unlike anything seen before, rare things in view, and explicit
user feedback. Each trigger that fires adds a *reason*; the reasons' weights combine into a value
in [0, 1] (``1 - prod(1 - w)``) that orders the outbox (uploaded first, evicted last).

Novelty compares the question's sentence embedding with a bounded reservoir (uniform reservoir
sampling, so memory stays fixed however long the device runs); near-duplicates of recently kept
records are dropped so a user asking the same thing ten times yields one record. The embedder is
a Protocol: this layer must not import ``edgesdk.local``; the assistant passes MiniLM in.

Sampling rates per reason, caps per minute/hour/day (records and bytes) and server-pushed
campaigns (``GET <ingest>/v1/campaigns``) bound what a device sends whatever happens.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from edgesdk.protocols import Embedder
from edgesdk.types import Answer

Clock = Callable[[], float]

REASONS = ("feedback", "disagreement", "low_confidence", "escalated", "novel", "rare_class",
           "campaign", "baseline")


class Caps(BaseModel):
    """Upper bounds on what curation keeps, per sliding window (None = unlimited)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    records_per_minute: int | None = 6
    records_per_hour: int | None = 120
    records_per_day: int | None = 1000
    bytes_per_minute: int | None = 512 * 1024
    bytes_per_hour: int | None = 8 * 1024 * 1024
    bytes_per_day: int | None = 64 * 1024 * 1024


class Triggers(BaseModel):
    """Which events are worth keeping, how often, and how much in total."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low_confidence_below: float = Field(default=0.6, ge=0.0, le=1.0)
    """Keep answers whose calibrated P(right) is below this. Above the router's usual 0.5 on
    purpose: an answer the device kept at P(right) 0.55 is wrong almost half the time, and
    those near the decision boundary are the ones that teach the router most (uncertainty
    sampling); in the simulated hour 0.5 → 0.6 kept 4 more of 138 high-value events for 7
    more routine records."""
    keep_escalated: bool = True
    disagreement_below: float = Field(default=0.6, ge=0.0, le=1.0)
    """Device and upper-tier answers whose similarity is below this disagree."""
    novelty_above: float = Field(default=0.45, ge=0.0, le=2.0)
    """Cosine distance to the nearest reservoir embedding above which a question is novel."""
    near_duplicate_below: float = Field(default=0.04, ge=0.0, le=2.0)
    """Cosine distance to a recently kept record below which a question is a near-duplicate."""
    reservoir_size: int = Field(default=512, ge=1)
    kept_memory: int = Field(default=1024, ge=1)
    rare_labels: frozenset[str] = frozenset()
    """Percept labels always treated as rare (e.g. from a product decision)."""
    rare_share_below: float = Field(default=0.02, ge=0.0, le=1.0)
    rare_warmup: int = Field(default=200, ge=0)
    """Percept observations needed before frequency-based rarity is trusted."""
    keep_feedback: bool = True
    sample_rates: dict[str, float] = Field(default_factory=lambda: {
        "feedback": 1.0, "disagreement": 1.0, "low_confidence": 1.0, "escalated": 1.0,
        "novel": 1.0, "rare_class": 1.0, "campaign": 1.0, "baseline": 0.01})
    weights: dict[str, float] = Field(default_factory=lambda: {
        "feedback": 1.0, "disagreement": 0.8, "low_confidence": 0.6, "escalated": 0.5,
        "novel": 0.4, "rare_class": 0.5, "campaign": 0.6, "baseline": 0.1})
    caps: Caps = Caps()


class Campaign(BaseModel):
    """A server's request for specific data for a while (served at ``/v1/campaigns``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    labels: tuple[str, ...] = ()
    """Percept labels (object classes, ``face``, ``text``) that match."""
    keywords: tuple[str, ...] = ()
    """Case-insensitive substrings of the question that match."""
    reasons: tuple[str, ...] = ()
    """Other triggers' reasons that match (e.g. ``low_confidence``)."""
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    weight: float = Field(default=0.6, ge=0.0, le=1.0)
    until: float | None = None
    """Unix time after which the campaign is over."""
    max_records: int | None = None

    def matches(self, *, question: str, labels: set[str], reasons: Sequence[str]) -> bool:
        q = question.lower()
        return (any(label in labels for label in self.labels)
                or any(k.lower() in q for k in self.keywords if k)
                or any(r in reasons for r in self.reasons))


def fetch_campaigns(ingest_url: str, *, client: httpx.Client | None = None,
                    timeout_s: float = 5.0) -> list[Campaign]:
    """``GET <ingest>/v1/campaigns``; an unreachable server means no campaigns, not a crash."""
    url = ingest_url.rstrip("/") + "/v1/campaigns"
    try:
        if client is not None:
            response = client.get(url, timeout=timeout_s)
        else:
            response = httpx.get(url, timeout=timeout_s)
        response.raise_for_status()
        items = response.json().get("campaigns", [])
        return [Campaign.model_validate(item) for item in items]
    except (httpx.HTTPError, ValueError, AttributeError):
        return []


class RateCaps:
    """Sliding-window counters of kept records and bytes."""

    WINDOWS = (("minute", 60.0), ("hour", 3600.0), ("day", 86400.0))

    def __init__(self, caps: Caps, *, clock: Clock) -> None:
        self.caps = caps
        self._clock = clock
        self._events: deque[tuple[float, int]] = deque()

    def _limits(self, window: str) -> tuple[int | None, int | None]:
        return (getattr(self.caps, f"records_per_{window}"),
                getattr(self.caps, f"bytes_per_{window}"))

    def blocked(self, size: int) -> str | None:
        """The first window a record of ``size`` bytes would overflow, or None."""
        now = self._clock()
        while self._events and self._events[0][0] <= now - 86400.0:
            self._events.popleft()
        for window, seconds in self.WINDOWS:
            max_records, max_bytes = self._limits(window)
            recent = [b for t, b in self._events if t > now - seconds]
            if max_records is not None and len(recent) + 1 > max_records:
                return f"cap:records_per_{window}"
            if max_bytes is not None and sum(recent) + size > max_bytes:
                return f"cap:bytes_per_{window}"
        return None

    def record(self, size: int) -> None:
        self._events.append((self._clock(), size))


class Assessment(BaseModel):
    """What the scorer concluded about one interaction."""

    model_config = ConfigDict(frozen=True)

    reasons: list[str]
    value: float
    dropped: str | None = None
    """Why it is not kept although it might be valuable (``near_duplicate``, ``sampled_out``)."""
    duplicate_of: str | None = None
    """For a near-duplicate: the kept record it repeats, when known (the Curator counts the
    repeat against it instead of storing the text again)."""
    novelty: float | None = None

    @property
    def keep(self) -> bool:
        return bool(self.reasons) and self.dropped is None


_WORD = re.compile(r"\w+", re.UNICODE)


def text_similarity(a: str, b: str) -> float:
    """Token-set Jaccard similarity (CJK characters count as tokens)."""
    def tokens(s: str) -> set[str]:
        out: set[str] = set()
        for word in _WORD.findall(s.lower()):
            if any("\u4e00" <= ch <= "\u9fff" for ch in word):
                out.update(word)
            else:
                out.add(word)
        return out

    ta, tb = tokens(a), tokens(b)
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


class ValueScorer:
    """Stateful scorer: reservoir of embeddings, percept label counts, campaigns."""

    def __init__(
        self,
        *,
        triggers: Triggers | None = None,
        embedder: Embedder | None = None,
        clock: Clock = time.time,
        seed: int = 0,
    ) -> None:
        self.triggers = triggers or Triggers()
        self.embedder = embedder
        self._clock = clock
        self._rng = random.Random(seed)
        self._reservoir: list[NDArray[np.float32]] = []
        self._seen = 0
        self._kept: deque[tuple[NDArray[np.float32], str | None]] = deque(
            maxlen=self.triggers.kept_memory)
        self._label_counts: Counter[str] = Counter()
        self._label_total = 0
        self.campaigns: list[Campaign] = []
        self._campaign_kept: Counter[str] = Counter()

    def set_campaigns(self, campaigns: Sequence[Campaign]) -> None:
        self.campaigns = list(campaigns)

    def embed(self, text: str) -> NDArray[np.float32] | None:
        if self.embedder is None or not text.strip():
            return None
        return np.asarray(self.embedder.embed([text])[0], dtype=np.float32)

    # ------------------------------------------------------------------ triggers

    def _novelty(self, vector: NDArray[np.float32] | None) -> float | None:
        if vector is None or not self._reservoir:
            return None
        sims = np.stack(self._reservoir) @ vector
        return float(1.0 - sims.max())

    def _near_duplicate(self, vector: NDArray[np.float32] | None) -> tuple[bool, str | None]:
        """Whether ``vector`` repeats a recently kept record, and that record's id."""
        if vector is None or not self._kept:
            return False, None
        sims = np.stack([v for v, _ in self._kept]) @ vector
        best = int(sims.argmax())
        return bool(1.0 - sims[best] < self.triggers.near_duplicate_below), self._kept[best][1]

    def _observe(self, vector: NDArray[np.float32] | None, labels: set[str]) -> None:
        if vector is not None:
            self._seen += 1
            if len(self._reservoir) < self.triggers.reservoir_size:
                self._reservoir.append(vector)
            else:
                slot = self._rng.randrange(self._seen)
                if slot < self.triggers.reservoir_size:
                    self._reservoir[slot] = vector
        for label in labels:
            self._label_counts[label] += 1
        self._label_total += len(labels)

    def _rare(self, labels: set[str]) -> bool:
        t = self.triggers
        if labels & t.rare_labels:
            return True
        if self._label_total < t.rare_warmup:
            return False
        return any(self._label_counts[label] / self._label_total < t.rare_share_below
                   for label in labels)

    @staticmethod
    def labels_of(answer: Answer) -> set[str]:
        labels: set[str] = set()
        for p in answer.percepts:
            if p.kind == "object":
                labels.add(p.label)
            elif p.kind in ("face", "text"):
                labels.add(p.kind)
        return labels

    def assess(self, answer: Answer, *, device_text: str | None = None,
               feedback: bool = False) -> tuple[Assessment, NDArray[np.float32] | None]:
        """Score one interaction and update the reservoir; returns the embedding too."""
        t = self.triggers
        question = answer.question or ""
        vector = self.embed(question)
        labels = self.labels_of(answer)
        reasons: list[str] = []
        if feedback and t.keep_feedback:
            reasons.append("feedback")
        device = device_text if device_text is not None else answer.device_text
        if (answer.escalated and answer.tier != "device" and device
                and self._similarity(device, answer.text) < t.disagreement_below):
            reasons.append("disagreement")
        if answer.source != "skill" and answer.confidence < t.low_confidence_below:
            reasons.append("low_confidence")
        if answer.escalated and t.keep_escalated:
            reasons.append("escalated")
        novelty = self._novelty(vector)
        if novelty is not None and novelty > t.novelty_above:
            reasons.append("novel")
        if labels and self._rare(labels):
            reasons.append("rare_class")
        now = self._clock()
        for campaign in self.campaigns:
            if campaign.until is not None and now > campaign.until:
                continue
            if (campaign.max_records is not None
                    and self._campaign_kept[campaign.id] >= campaign.max_records):
                continue
            if (campaign.matches(question=question, labels=labels, reasons=reasons)
                    and self._rng.random() < campaign.sample_rate):
                reasons.append(f"campaign:{campaign.id}")
        if not reasons and self._rng.random() < t.sample_rates.get("baseline", 0.0):
            reasons.append("baseline")
        kept = [r for r in reasons if r.startswith("campaign:") or r == "baseline"
                or self._rng.random() < t.sample_rates.get(r, 1.0)]
        self._observe(vector, labels)
        dropped: str | None = None
        duplicate_of: str | None = None
        if reasons and not kept:
            dropped = "sampled_out"
        elif kept and "feedback" not in kept:
            repeat, duplicate_of = self._near_duplicate(vector)
            dropped = "near_duplicate" if repeat else None
        return Assessment(reasons=kept, value=self.value_of(kept), dropped=dropped,
                          duplicate_of=duplicate_of if dropped else None,
                          novelty=novelty), vector

    def _similarity(self, a: str, b: str) -> float:
        if self.embedder is not None and a.strip() and b.strip():
            vecs = self.embedder.embed([a, b])
            return float(np.dot(vecs[0], vecs[1]))
        return text_similarity(a, b)

    def value_of(self, reasons: Sequence[str]) -> float:
        remaining = 1.0
        for reason in reasons:
            if reason.startswith("campaign:"):
                cid = reason.split(":", 1)[1]
                weight = next((c.weight for c in self.campaigns if c.id == cid),
                              self.triggers.weights.get("campaign", 0.6))
            else:
                weight = self.triggers.weights.get(reason, 0.3)
            remaining *= 1.0 - min(max(weight, 0.0), 1.0)
        return round(1.0 - remaining, 6)

    def kept(self, vector: NDArray[np.float32] | None, reasons: Sequence[str],
             record_id: str | None = None) -> None:
        """Tell the scorer a record was stored (near-duplicate memory, campaign quotas)."""
        if vector is not None:
            self._kept.append((vector, record_id))
        for reason in reasons:
            if reason.startswith("campaign:"):
                self._campaign_kept[reason.split(":", 1)[1]] += 1


def campaign_payload(campaigns: Sequence[Campaign]) -> dict[str, Any]:
    return {"campaigns": [c.model_dump(mode="json") for c in campaigns]}
