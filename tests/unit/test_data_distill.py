"""Which escalations become lessons for the small model (``data/distill.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from edgesdk.data.distill import distill_example, export_distill

TEACHER = {"question": "Largest ocean?", "answer": "The Pacific", "escalated": True,
           "tier": "cloud", "confidence": 1.0, "route_reasons": ["answered by cloud"]}


def test_a_sure_teacher_answer_is_a_lesson() -> None:
    assert distill_example(TEACHER) == {"messages": [
        {"role": "user", "content": "Largest ocean?"},
        {"role": "assistant", "content": "The Pacific"}]}
    older = {k: v for k, v in TEACHER.items() if k != "confidence"}  # records before the field
    assert distill_example(older) is not None


def test_unsure_declined_local_or_fallback_answers_teach_nothing() -> None:
    # a phone edge tier's Gemma saying "1011111…" at confidence 0.001 must not become a lesson
    unsure_edge = {**TEACHER, "tier": "edge", "answer": "1011111111", "confidence": 0.0013}
    assert distill_example(unsure_edge) is None
    assert distill_example(unsure_edge, min_confidence=0.0) is not None
    assert distill_example({**TEACHER, "confidence": 0.5}) is not None  # cut off: kept at 0.5
    assert distill_example({**TEACHER, "declined": True, "confidence": 1.0}) is None
    assert distill_example({**TEACHER, "escalated": False, "tier": "device"}) is None
    assert distill_example({**TEACHER, "route_reasons": ["fallback"]}) is None
    assert distill_example({**TEACHER, "answer": "  "}) is None


def test_export_skips_the_unsure_and_repeats(tmp_path: Path) -> None:
    payloads = [TEACHER, {**TEACHER, "question": "largest  OCEAN?"},
                {**TEACHER, "question": "Capital of Peru?", "answer": "Lima", "tier": "edge",
                 "confidence": 0.93},
                {**TEACHER, "question": "Remind me", "tier": "edge", "confidence": 0.0}]
    out = tmp_path / "d" / "train.jsonl"
    assert export_distill(payloads, out) == 2
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["messages"][1]["content"] for x in lines] == ["The Pacific", "Lima"]
    assert export_distill(payloads, out, min_confidence=0.95) == 1
