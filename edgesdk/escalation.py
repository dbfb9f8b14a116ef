"""Step 4 of a request: send it up the tiers, in order, until one answers.

Kept apart from ``assistant.py`` because it is its own state machine: the tiers in order,
their failures as typed errors in the answer's reasons (never a crash), a 402 that puts the
assistant in device-only mode until ``reset_cloud()``, a tier's "not sure" that passes the
question on unless its text was already shown, the deadline, redaction of what leaves the
device, and the thinking model for word problems. Streaming relays the tier's deltas from a
worker thread while the caller's generator drains them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace
from typing import Any

from edgesdk.cloud.pricing import CostLedger
from edgesdk.config import Settings
from edgesdk.data.redact import RedactionReport, Redactor
from edgesdk.device_path import DeviceAttempt, step
from edgesdk.devices import DeviceState
from edgesdk.errors import CloudBalanceError, CloudError, CloudOutputInvalid, CloudUnavailable
from edgesdk.local.prompts import cloud_messages
from edgesdk.protocols import RouterLike, TextRedactor, TierClient
from edgesdk.routing.kinds import question_kind
from edgesdk.routing.peer import AnswerMatcher
from edgesdk.tools import calls_from_tier
from edgesdk.typed_path import parse_output, tier_instructions
from edgesdk.types import TraceStep
from edgesdk.wiring import TierOutcome

log = logging.getLogger("edgesdk.escalation")
REASONER_KINDS = frozenset({"math_word"})
"""Question kinds escalated to the thinking model (deepseek-reasoner) rather than chat."""


class Escalator:
    """The upper tiers of one assistant, and whether the cloud is usable right now."""

    def __init__(self, *, tiers: Sequence[TierClient], settings: Settings, ledger: CostLedger,
                 device_state: DeviceState, redactor: TextRedactor | None) -> None:
        self.tiers = list(tiers)
        self.settings = settings
        self.ledger = ledger
        self.device_state = device_state
        self.redactor = redactor
        self.device_only_reason: str | None = None
        """Set after a 402 (insufficient balance): no tier is called until reset."""

    def open_tiers(self) -> list[TierClient]:
        """The tiers whose circuit breaker (if any) is not cooling down right now."""
        return [t for t in self.tiers
                if getattr(getattr(t, "breaker", None), "state", "closed") != "open"]

    def streaming(self, attempt: DeviceAttempt, deadline: float, reasons: list[str],
                  stream: bool) -> Generator[str, None, TierOutcome]:
        """Escalate; when streaming, relay the tier's deltas as they arrive (a worker thread
        runs the blocking client while this generator drains its queue)."""
        if not stream:
            return self.escalate(attempt, deadline, reasons, on_delta=None)
        deltas: queue.Queue[str | None] = queue.Queue()
        box: list[TierOutcome | BaseException] = []

        def work() -> None:
            try:
                box.append(self.escalate(attempt, deadline, reasons, on_delta=deltas.put))
            except BaseException as exc:  # re-raised below, in the caller's thread
                box.append(exc)
            finally:
                deltas.put(None)

        worker = threading.Thread(target=work, name="edgesdk-escalate", daemon=True)
        worker.start()
        while (delta := deltas.get()) is not None:
            yield delta
        worker.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def escalate(self, attempt: DeviceAttempt, deadline: float, reasons: list[str], *,
                 on_delta: Callable[[str], None] | None) -> TierOutcome:
        if self.device_state.network == "none":
            reasons.append("offline: no network, not escalating")
            return TierOutcome(answer=None, tier=None, error=CloudUnavailable(
                "the device is offline (network=none); connect, or use only-on-device"))
        if self.device_only_reason is not None:
            reasons.append(f"cloud skipped: {self.device_only_reason}")
            return TierOutcome(answer=None, error=CloudBalanceError(self.device_only_reason),
                               tier=None)
        if not self.tiers:
            reasons.append("no upper tier configured (set DEEPSEEK_API_KEY or --cloud-url)")
            return TierOutcome(answer=None, error=CloudError(
                "no upper tier is configured. Set DEEPSEEK_API_KEY, or pass --cloud-url / "
                "EDGESDK_CLOUD_BASE_URL for an OpenAI-compatible server"), tier=None)
        messages = cloud_messages(*self.outgoing(attempt), tools=attempt.tools is not None,
                                  history=[(self.redact(q), self.redact(a))
                                           for q, a in attempt.history])
        options: dict[str, Any] = ({"tools": attempt.tools.openai(), "tool_choice": "auto"}
                                   if attempt.tools is not None and len(attempt.tools) else {})
        if attempt.schema is not None:  # a typed answer: JSON output, validated below
            messages[0]["content"] += tier_instructions(attempt.schema)
            options["response_format"] = {"type": "json_object"}
        last_error: CloudError | None = None
        declined: TierOutcome | None = None  # the first tier that said "not sure" unseen
        for tier in self.tiers:
            if time.monotonic() >= deadline:
                reasons.append(f"{tier.name}: skipped, deadline passed")
                last_error = last_error or CloudError("the request deadline passed")
                break
            t = time.perf_counter()
            relay = _CountingRelay(on_delta) if on_delta is not None else None
            try:
                result = tier.chat(messages, deadline=deadline, on_delta=relay,
                                   model=self.model_for(tier, attempt.question), **options)
                calls = (calls_from_tier(attempt.tools, result.tool_calls,
                                         restore=attempt.redactions)
                         if attempt.tools is not None and result.tool_calls else [])
                if attempt.schema is not None:
                    _, problem = parse_output(attempt.schema, result.text)
                    if problem is not None:
                        raise CloudOutputInvalid(f"{tier.name}'s answer is not a valid "
                                                 f"{attempt.schema.__name__}: {problem}")
            except CloudError as exc:
                attempt.trace.append(step(f"tier:{tier.name}", t, error=exc.code))
                reasons.append(f"{tier.name} failed: {exc.code}: {exc}")
                last_error = exc
                if isinstance(exc, CloudBalanceError):
                    self.device_only_reason = (
                        f"{tier.name} reported insufficient balance (402); device-only until "
                        "reset_cloud()")
                continue
            tier_declined = getattr(result, "tier_declined", False) is True
            attempt.trace.append(step(f"tier:{tier.name}", t, model=result.model,
                                      tokens=result.usage.completion_tokens,
                                      declined=tier_declined))
            self.ledger.record(usage=result.usage, cost=result.cost)
            if tier_declined:
                reasons.append(f"{tier.name} declined: not sure enough to answer")
                if relay is None or not relay.count:
                    # nothing of it shown yet: the next tier, or this device's own answer
                    declined = declined or TierOutcome(answer=None, error=None, tier=None,
                                                       declined=result, declined_tier=tier)
                    continue
            elif calls:
                reasons.append(f"{tier.name} ({result.model}) called "
                               f"{', '.join(c.name for c in calls)}")
            else:
                reasons.append(f"answered by {tier.name} ({result.model})")
            return TierOutcome(answer=result, error=None, tier=tier, calls=tuple(calls))
        if declined is not None:
            return replace(declined, error=last_error)
        return TierOutcome(answer=None, error=last_error, tier=None)

    def outgoing(self, attempt: DeviceAttempt) -> tuple[str, list[str]]:
        """The question and percept lines as they may leave the device: redacted (what was
        replaced is kept on the attempt, on the device, for the tool calls that come back)."""
        if self.redactor is None:
            return attempt.question, attempt.context
        report = RedactionReport()
        redactor = self.redactor
        redact: Callable[[str], str] = (
            (lambda text: redactor.redact_text(text, report))
            if isinstance(redactor, Redactor) else redactor.redact_text)
        question = redact(attempt.question)
        context = [redact(line) for line in attempt.context]
        attempt.redactions = list(report.replaced)
        if question != attempt.question or context != attempt.context:
            attempt.trace.append(TraceStep(step="redact", ms=0.0, detail={"changed": True}))
        return question, context

    def redact(self, text: str) -> str:
        """``text`` as it may leave the device."""
        return self.redactor.redact_text(text) if self.redactor is not None else text

    def model_for(self, tier: TierClient, question: str) -> str | None:
        """The thinking model for multi-step math at the cloud tier; the tier's default else."""
        if tier.tier == "cloud" and question_kind(question) in REASONER_KINDS:
            return self.settings.cloud_reasoner_model
        return None

    def close(self) -> None:
        for tier in self.tiers:
            tier.close()


class _CountingRelay:
    """Hands a tier's text deltas on and counts them: a tier that declined after some of its
    text was shown cannot be taken back."""

    def __init__(self, on_delta: Callable[[str], None]) -> None:
        self.on_delta = on_delta
        self.count = 0

    def __call__(self, delta: str) -> None:
        self.count += 1
        self.on_delta(delta)


def free_label(router: RouterLike, attempt: DeviceAttempt, tier_text: str, *,
               tier: str) -> None:
    """An escalation labels the device's answer for nothing: did the cloud agree? (matched
    like the evaluation scores answers). Fed to the router's online recalibration when it
    has one (``Router.for_model(..., online=True)``); edge tiers are small models too, so
    only cloud answers count as labels."""
    gen = attempt.generation
    if (tier != "cloud" or attempt.skill is not None or gen is None
            or not gen.text.strip() or not tier_text.strip()):
        return
    t = time.perf_counter()
    agreed = AnswerMatcher(attempt.question, gen.text).agrees(tier_text)
    try:
        used = router.observe(question=attempt.question, generation=gen,
                                   agreed=agreed)
    except Exception as exc:  # learning is optional; it must never cost an answer
        log.warning("online recalibration skipped a label: %s", type(exc).__name__)
        return
    if used:
        attempt.trace.append(step("online_label", t, agreed=agreed))


def tier_confidence(result: Any) -> tuple[float, bool]:
    """The upper tier's own confidence when it reports one (an edgesdk edge tier does), and
    whether it is a measurement (that tier's router may have had none); otherwise 1.0 for a
    finished answer (the cloud is the reference the router escalates to) and 0.5 for one
    cut off at the token limit, neither measured."""
    reported = getattr(result, "tier_confidence", None)
    if isinstance(reported, float):
        return reported, getattr(result, "tier_confidence_known", True) is not False
    return (1.0 if result.finish_reason == "stop" else 0.5), False
