"""Typed answers: ``ask(..., schema=MyModel)`` returns an ``Answer`` whose ``output`` is a
validated ``MyModel``, or no output at all — never an unvalidated one.

On the device the local model writes JSON under a grammar made from the model's JSON schema
(``local/grammar.py`` → ``local/constrained.py``), so it always parses; pydantic then checks
what a grammar cannot (ranges, formats, cross-field rules). A failure is retried once, with
the validation errors in the prompt, and then goes up: the tier is asked for a JSON object
(``response_format``) with the schema in its instructions, and its reply is validated the same
way (a reply that fails is a fault like any other, and the next tier is tried). Offline, or in
``only-on-device``, a device output that fails twice is a decline with the reasons.

A small model's extraction has no calibrated scorer yet, so a device output that validates is
kept in the modes that prefer the device, with ``confidence_known=False``.
"""

from __future__ import annotations

import json
import math
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from edgesdk.device_path import DeviceAttempt, step
from edgesdk.errors import ContextOverflow
from edgesdk.local.grammar import schema_grammar
from edgesdk.local.llm import LocalLLM, Prompt
from edgesdk.tools import check_output_schema
from edgesdk.types import Generation, Mode, RouteDecision

if TYPE_CHECKING:
    from edgesdk.assistant import Assistant
    from edgesdk.wiring import TierOutcome

MAX_TOKENS = 192
INSTRUCTION = ("Read the text and fill in the JSON object. Use only what the text says; use "
               "null for a field it does not give.")


@lru_cache(maxsize=64)
def output_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema the device decodes and the tier is asked to follow (checked to be in
    the subset the device can decode; a typed error names what is not). Built once per model:
    a typed request reads it up to five times (check, grammar, two prompts, the tier's
    instructions); callers only read it."""
    return check_output_schema(schema)


def parse_output(schema: type[BaseModel], text: str) -> tuple[BaseModel | None, str | None]:
    """The validated instance, or None and why not."""
    try:
        return schema.model_validate_json(text.strip()), None
    except ValidationError as exc:
        return None, "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(output)'}: {e['msg']}"
                               for e in exc.errors())[:300]


def device_output(llm: LocalLLM, attempt: DeviceAttempt, schema: type[BaseModel], *,
                  deadline: float) -> tuple[BaseModel | None, Generation | None, list[str]]:
    """Two tries on the device under the schema's grammar: the instance, the last generation
    and the reasons."""
    grammar = schema_grammar(output_schema(schema))
    reasons: list[str] = []
    problem: str | None = None
    generation: Generation | None = None
    for attempt_no in (1, 2):
        t = time.perf_counter()
        try:
            generation = llm.generate(_prompt(llm, attempt, schema, problem),
                                      max_tokens=MAX_TOKENS, grammar=grammar, deadline=deadline,
                                      seed=0)
        except ContextOverflow:
            reasons.append("typed answer: the text does not fit the device model's context")
            return None, None, reasons
        instance, problem = parse_output(schema, generation.text)
        attempt.trace.append(step("typed_output", t, try_no=attempt_no, valid=instance is not None,
                                  tokens=generation.completion_tokens))
        if instance is not None:
            reasons.append(f"typed answer: valid {schema.__name__} from the device model"
                           + (" on the second try" if attempt_no == 2 else ""))
            return instance, generation, reasons
        reasons.append(f"typed answer, try {attempt_no}: not a valid {schema.__name__} "
                       f"({problem or 'cut off'})")
        if time.monotonic() >= deadline:
            break
    return None, generation, reasons


def typed_answer(assistant: Assistant, attempt: DeviceAttempt, schema: type[BaseModel], *,
                 mode: Mode, deadline: float, started: float) -> Any:
    """The whole typed request: the device first unless the mode prefers the cloud, then the
    tiers with ``response_format``; returns the finished ``Answer``."""
    reasons: list[str] = []
    instance: BaseModel | None = None
    outcome: TierOutcome | None = None
    if mode in ("prefer-on-device", "only-on-device"):
        instance, generation, why = device_output(assistant.llm, attempt, schema,
                                                  deadline=deadline)
        attempt.generation = generation
        reasons.extend(why)
    if instance is None and mode != "only-on-device":
        state = assistant._policy_state(deadline)
        blocked = assistant.router.blocked(attempt.question, mode, state)
        if blocked is None:
            attempt.schema = schema
            outcome = assistant.escalator.escalate(attempt, deadline, reasons, on_delta=None)
            if outcome.answer is not None:
                instance, _ = parse_output(schema, outcome.answer.text)
        else:
            reasons.append(f"typed answer not sent up: {blocked}")
    conf = _confidence(attempt.generation) if outcome is None else 1.0
    attempt.decision = RouteDecision(action="stay" if instance is not None else "refuse",
                                     confidence=conf, threshold=0.0, reasons=(),
                                     confidence_known=False)
    answer = assistant._finish(attempt, outcome, reasons, started,
                               declined=instance is None)
    text = instance.model_dump_json() if instance is not None else answer.text
    return answer.model_copy(update={"output": instance, "text": text,
                                     "confidence_known": False})


def _prompt(llm: LocalLLM, attempt: DeviceAttempt, schema: type[BaseModel],
            problem: str | None) -> Prompt:
    fields = ", ".join(f"{k} ({(v.get('description') or v.get('type') or 'value')})"
                       for k, v in (output_schema(schema).get("properties") or {}).items())
    context = "\n".join(attempt.context)
    retry = f"\nThe last answer was invalid: {problem}. Fix it." if problem else ""
    body = (f"{INSTRUCTION}\nFields: {fields}\n" + (f"Seen: {context}\n" if context else "")
            + f"Text: {attempt.question}{retry}\nJSON: ")
    if llm.prompt_style == "completion":
        return body
    return [{"role": "user", "content": body}]


def _confidence(generation: Generation | None) -> float:
    if generation is None or not generation.evidence.logprobs:
        return 0.0
    lps = generation.evidence.logprobs
    return float(min(1.0, math.exp(sum(lps) / len(lps))))


def tier_instructions(schema: type[BaseModel]) -> str:
    return (" Reply with one JSON object, nothing else, that follows this JSON schema: "
            + json.dumps(output_schema(schema), ensure_ascii=False))

