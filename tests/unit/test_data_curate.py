"""Value triggers, caps, campaigns and the Curator, with fake embedders and a fake clock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from edgesdk.data.curate import Curator
from edgesdk.data.outbox import Outbox
from edgesdk.data.redact import Redactor
from edgesdk.data.value import (
    Campaign,
    Caps,
    Embedder,
    Triggers,
    ValueScorer,
    text_similarity,
)
from edgesdk.errors import StorageError
from edgesdk.types import Answer, DetectedObject, Face


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


class BagOfWords:
    """Deterministic fake embedder: hashed word counts, L2-normalised."""

    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace("?", "").split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


def answer(q: str = "what is the capital of France", *, conf: float = 0.9,
           escalated: bool = False, tier: str = "device", text: str = "Paris",
           device_text: str | None = None, percepts: list | None = None,  # type: ignore[type-arg]
           aid: str = "a1") -> Answer:
    return Answer(text=text, tier=tier, confidence=conf, escalated=escalated,  # type: ignore[arg-type]
                  latency_ms=12.0, question=q, device_text=device_text, id=aid,
                  percepts=percepts or [])


NO_BASELINE = {"baseline": 0.0}


def scorer(**kw: object) -> ValueScorer:
    triggers = Triggers(sample_rates=NO_BASELINE, **kw)  # type: ignore[arg-type]
    return ValueScorer(triggers=triggers, embedder=BagOfWords(), clock=Clock(), seed=0)


def test_fake_embedder_is_an_embedder() -> None:
    assert isinstance(BagOfWords(), Embedder)


def test_confident_local_answer_is_not_kept() -> None:
    a, _ = scorer().assess(answer())
    assert not a.keep and a.reasons == []


def test_low_confidence_escalation_and_disagreement() -> None:
    a, _ = scorer().assess(answer(conf=0.2))
    assert a.reasons == ["low_confidence"] and a.keep
    b, _ = scorer().assess(answer(conf=0.95, escalated=True, tier="cloud", text="Paris",
                                  device_text="Lyon is the capital"))
    assert b.reasons == ["disagreement", "escalated"]
    assert b.value == pytest.approx(1 - 0.2 * 0.5)
    c, _ = scorer().assess(answer(conf=0.95, escalated=True, tier="cloud", text="Paris",
                                  device_text="Paris"))
    assert c.reasons == ["escalated"]


def test_text_similarity_handles_chinese() -> None:
    assert text_similarity("北京是首都", "北京是首都") == 1.0
    assert text_similarity("北京", "上海") == 0.0


def test_novelty_against_reservoir_and_near_duplicates_dropped() -> None:
    s = scorer(novelty_above=0.5, reservoir_size=8)
    first, _ = s.assess(answer("how tall is mount everest", conf=0.9))
    assert first.novelty is None  # empty reservoir: no novelty judgement
    second, _ = s.assess(answer("what time does the bakery open", conf=0.9))
    assert "novel" in second.reasons
    again, _ = s.assess(answer("how tall is mount everest", conf=0.9))
    assert "novel" not in again.reasons
    # near-duplicates of a *kept* record are dropped, whatever their triggers
    low, vec = s.assess(answer("translate good morning into french", conf=0.1))
    assert low.keep
    s.kept(vec, low.reasons, "rec-1")
    dup, _ = s.assess(answer("translate good morning into French?", conf=0.1))
    assert not dup.keep and dup.dropped == "near_duplicate" and dup.duplicate_of == "rec-1"


def test_reservoir_is_bounded() -> None:
    s = scorer(reservoir_size=5)
    for i in range(50):
        s.assess(answer(f"question number {i} about topic {i * 7}"))
    assert len(s._reservoir) == 5 and s._seen == 50


def test_rare_classes_by_label_and_by_frequency() -> None:
    s = scorer(rare_labels=frozenset({"Cat"}), rare_warmup=20, rare_share_below=0.05)
    cat = DetectedObject(label="Cat", box=(0, 0, 1, 1), score=0.8)
    person = DetectedObject(label="Person", box=(0, 0, 1, 1), score=0.8)
    a, _ = s.assess(answer(percepts=[cat]))
    assert a.reasons == ["rare_class"]
    for _ in range(30):
        s.assess(answer(percepts=[person]))
    rocket = DetectedObject(label="Rocket", box=(0, 0, 1, 1), score=0.8)
    b, _ = s.assess(answer(percepts=[rocket]))
    assert "rare_class" in b.reasons
    c, _ = s.assess(answer(percepts=[person]))
    assert "rare_class" not in c.reasons


def test_sampling_rates_and_baseline() -> None:
    never = ValueScorer(triggers=Triggers(sample_rates={"low_confidence": 0.0,
                                                        "baseline": 0.0}), seed=1)
    a, _ = never.assess(answer(conf=0.1))
    assert not a.keep and a.dropped == "sampled_out"
    always = ValueScorer(triggers=Triggers(sample_rates={"baseline": 1.0}), seed=1)
    b, _ = always.assess(answer())
    assert b.reasons == ["baseline"] and b.value == pytest.approx(0.1)


def test_campaigns_match_expire_and_respect_quota() -> None:
    clock = Clock()
    s = ValueScorer(triggers=Triggers(sample_rates=NO_BASELINE), clock=clock)
    s.set_campaigns([
        Campaign(id="cups", labels=("Coffee cup",), weight=0.7, until=clock.t + 100,
                 max_records=1),
        Campaign(id="recipes", keywords=("recipe",)),
    ])
    cup = DetectedObject(label="Coffee cup", box=(0, 0, 1, 1), score=0.8)
    a, vec = s.assess(answer(percepts=[cup]))
    assert a.reasons == ["campaign:cups"] and a.value == pytest.approx(0.7)
    s.kept(vec, a.reasons)
    b, _ = s.assess(answer(percepts=[cup]))
    assert b.reasons == []  # quota used
    c, _ = s.assess(answer("a RECIPE for dumplings"))
    assert c.reasons == ["campaign:recipes"]
    clock.t += 1000
    s.set_campaigns([Campaign(id="old", keywords=("recipe",), until=clock.t - 1)])
    d, _ = s.assess(answer("a recipe for noodles"))
    assert d.reasons == []


def _curator(tmp_path: Path, **kw: object) -> tuple[Curator, Outbox, Clock]:
    clock = Clock()
    box = Outbox(tmp_path / "o.sqlite3", clock=clock)
    triggers = kw.pop("triggers", Triggers(sample_rates=NO_BASELINE))
    cur = Curator(outbox=box, triggers=triggers, redactor=Redactor(),  # type: ignore[arg-type]
                  embedder=BagOfWords(), clock=clock, **kw)  # type: ignore[arg-type]
    return cur, box, clock


def test_curator_keeps_redacted_records_and_reports(tmp_path: Path) -> None:
    cur, box, _ = _curator(tmp_path)
    d = cur.consider(answer("email bob@example.com to call 13812345678", conf=0.1,
                            percepts=[Face(box=(0, 0, 5, 5), score=0.9)]),
                     extra={"note": "card 4111 1111 1111 1111"})
    assert d.kept and d.record_id and d.reasons == ["low_confidence"] and d.bytes > 0
    assert d.redactions == {"email": 1, "cn_mobile": 1, "card": 1}
    rec = box.get(d.record_id)
    assert rec is not None and rec.kind == "interaction" and rec.value == pytest.approx(0.6)
    text = json.dumps(rec.payload, ensure_ascii=False)
    assert "bob@example.com" not in text and "13812345678" not in text and "4111" not in text
    assert rec.payload["percepts"] == [{"kind": "face", "score": 0.9}]
    skipped = cur.consider(answer("email bob@example.com to call 13812345678", aid="a2"))
    assert not skipped.kept and skipped.record_id is None and skipped.dropped == "not_valuable"
    stats = cur.stats()
    assert stats.considered == 2 and stats.kept == 1 and stats.redactions["email"] == 1


def test_a_question_asked_again_is_counted_against_the_kept_record_not_stored_again(
        tmp_path: Path) -> None:
    cur, box, _ = _curator(tmp_path)
    first = cur.consider(answer("what is on my desk, call 13812345678", conf=0.2, aid="q1"))
    again = cur.consider(answer("What is on my desk, call 13812345678?", conf=0.3, aid="q2",
                                escalated=True))
    assert first.kept and first.repeat_of is None
    assert again.kept and again.repeat_of == first.record_id and "repeat" in again.reasons
    assert again.record_id is not None and again.bytes < first.bytes / 2
    rec = box.get(again.record_id)
    assert rec is not None and rec.kind == "repeat"
    assert rec.payload == {"repeat_of": first.record_id, "answer_id": "q2", "tier": "device",
                           "confidence": 0.3, "escalated": True, "declined": False,
                           "reasons": ["low_confidence", "escalated"]}
    # the user's correction of a repeat is still stored in full (feedback is never a repeat)
    fb = cur.feedback("q2", good=False, correction="the desk has a lamp")
    assert fb.kept and fb.repeat_of is None
    assert cur.stats().reasons["repeat"] == 1


def test_curator_caps_records_per_minute(tmp_path: Path) -> None:
    caps = Caps(records_per_minute=2, records_per_hour=None, records_per_day=None,
                bytes_per_minute=None, bytes_per_hour=None, bytes_per_day=None)
    cur, _, clock = _curator(tmp_path, triggers=Triggers(sample_rates=NO_BASELINE, caps=caps))
    kept = [cur.consider(answer(f"odd question {i} {'x' * i}", conf=0.1, aid=str(i))).kept
            for i in range(4)]
    assert kept == [True, True, False, False]
    assert cur.stats().dropped["cap:records_per_minute"] == 2
    clock.t += 61
    assert cur.consider(answer("yet another thing entirely", conf=0.1, aid="z")).kept


def test_feedback_attaches_the_interaction_when_it_was_not_kept(tmp_path: Path) -> None:
    cur, box, _ = _curator(tmp_path)
    a = answer("who painted the mona lisa mail me at x@y.org", conf=0.95, aid="fb1")
    assert not cur.consider(a).kept
    d = cur.feedback("fb1", good=False, correction="Leonardo, call +1 415 555 2671")
    assert d.kept and d.reasons == ["feedback"] and d.record_id is not None
    rec = box.get(d.record_id)
    assert rec is not None and rec.kind == "feedback" and rec.value == 1.0
    assert rec.payload["interaction"]["question"].endswith("[EMAIL]")
    assert "555" not in rec.payload["correction"]
    kept = cur.consider(answer("obscure low confidence question", conf=0.1, aid="fb2"))
    d2 = cur.feedback(a.model_copy(update={"id": "fb2"}), good=False)
    rec2 = box.get(d2.record_id or "")
    assert rec2 is not None and rec2.payload["interaction_record_id"] == kept.record_id
    assert "interaction" not in rec2.payload


def test_storage_errors_never_break_the_request(tmp_path: Path) -> None:
    class FullOutbox(Outbox):
        def put(self, *a: object, **k: object) -> str:
            raise StorageError("disk full")

    box = FullOutbox(tmp_path / "o.sqlite3")
    cur = Curator(outbox=box, triggers=Triggers(sample_rates=NO_BASELINE))
    d = cur.consider(answer(conf=0.1))
    assert not d.kept and d.dropped == "storage_error"
