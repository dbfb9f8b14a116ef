"""The ``Answer`` of one request, built from what the device and the tiers produced.

Kept apart from ``assistant.py`` so the request path there reads as the steps it takes; this
is the one place that decides what an answer says about itself: which tier, how sure, what it
cost, which tool calls, and — for a decline — what the device would have said.
"""

from __future__ import annotations

import time
import uuid

from edgesdk.device_path import (
    DeviceAttempt,
    confirmation,
    declined_text,
    device_source,
)
from edgesdk.escalation import tier_confidence
from edgesdk.textnorm import CJK
from edgesdk.types import Answer, Cost, Usage
from edgesdk.wiring import TierOutcome


def build_answer(attempt: DeviceAttempt, outcome: TierOutcome | None, reasons: list[str],
                 started: float, *, declined: bool, model_id: str) -> Answer:
    """The tier's answer when one answered, else the device's (or its decline)."""
    latency_ms = (time.perf_counter() - started) * 1000
    device_conf = attempt.decision.confidence if attempt.decision is not None else 0.0
    answer_id = uuid.uuid4().hex
    if outcome is not None and outcome.answer is not None and outcome.tier is not None:
        result = outcome.answer
        tier_declined = getattr(result, "tier_declined", False) is True
        tier_conf, tier_known = tier_confidence(result)
        answer = Answer(
            id=answer_id, text=result.text.strip() or (
                confirmation(outcome.calls, zh=bool(CJK.search(attempt.question)))
                if outcome.calls else ""),
            tool_calls=list(outcome.calls), tier=outcome.tier.tier,
            confidence=tier_conf, confidence_known=tier_known,
            escalated=True, reasons=reasons, latency_ms=latency_ms, usage=result.usage,
            cost=result.cost, usage_estimated=getattr(result, "usage_estimated", False) is True,
            percepts=attempt.percepts, trace=attempt.trace,
            model=result.model, source="tier", question=attempt.question,
            device_text=attempt.text or None, reasoning=result.reasoning,
            declined=tier_declined,
        )
    else:
        gen = attempt.generation
        usage = Usage(prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
                      prompt_cache_hit_tokens=gen.cached_prompt_tokens,
                      prompt_cache_miss_tokens=gen.prompt_tokens - gen.cached_prompt_tokens,
                      ) if gen is not None else Usage()
        answer = Answer(
            id=answer_id, text=declined_text(attempt) if declined else attempt.text,
            tool_calls=[] if declined else list(attempt.calls),
            tier="device", confidence=device_conf,
            confidence_known=(attempt.decision is not None
                              and attempt.decision.confidence_known),
            escalated=False, reasons=reasons, latency_ms=latency_ms, usage=usage,
            cost=Cost(), percepts=attempt.percepts, trace=attempt.trace,
            model=("actions" if attempt.calls else f"knowledge:{attempt.knowledge.kind}"
                   if attempt.knowledge is not None else model_id if attempt.skill is None
                   else f"skill:{attempt.skill.skill}"),
            source=device_source(attempt),
            citations=([attempt.knowledge.citation]
                       if attempt.knowledge is not None and not declined else []),
            question=attempt.question,
            device_text=(attempt.text or None) if declined else None,
            declined=declined,
        )
    return answer
