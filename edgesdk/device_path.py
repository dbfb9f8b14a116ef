"""The device path: perceive → skills → the local LLM with its evidence. One module, two users.

``Assistant`` runs it for every request (and puts the router's decisions between its steps);
``edgesdk eval`` and ``edgesdk router fit`` run it over labelled datasets (``evalrun.py``). So
the evaluation measures the prompts, skills, percept lines and generation settings users get,
not a second pipeline that drifts from it. What differs is said where it differs: the
evaluation's clock for relative dates (``evalrun.EVAL_NOW``), its token limit (40, the same
for every profile, so figures stay comparable across versions) and its generation cache (a
``LocalLLM`` that replays stored generations).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edgesdk.errors import ContextOverflow, EmptyQuestion
from edgesdk.local.llm import LocalLLM
from edgesdk.local.percept_skills import PERCEPT_SKILLS, answer_from_percepts
from edgesdk.local.prompts import qa_prompt, stop_for
from edgesdk.local.skills import try_skills
from edgesdk.protocols import PerceptionLike
from edgesdk.routing.policy import UNSURE_TRANSCRIPT
from edgesdk.textnorm import CJK
from edgesdk.types import (
    Generation,
    Percept,
    RouteDecision,
    SkillResult,
    ToolCall,
    TraceStep,
    Transcript,
)
from edgesdk.wiring import image_bytes, percept_context

if TYPE_CHECKING:
    from pydantic import BaseModel

    from edgesdk.knowledge.path import KnowledgeAnswer
    from edgesdk.local.actions import CallReading
    from edgesdk.tools import Toolbox

ImageInput = bytes | str | Path | Any
AudioInput = bytes | str | Path | Any
DEVICE_TURNS = 3
"""Earlier turns the device model sees (a 135M-270M model loses the question in more)."""
PEER_MAX_TOKENS = 40
"""The peer answers as in the router's evaluation (40 tokens, greedy), so its signals match."""


class DeviceAttempt:
    """What the device produced for one question, before any escalation."""

    __slots__ = ("calls", "context", "decision", "generation", "history", "image_bytes",
                 "knowledge", "percepts",
                 "question", "reading", "redactions", "saw_image", "schema", "skill", "tools",
                 "trace", "transcript")

    def __init__(self, question: str) -> None:
        self.question = question
        self.percepts: list[Percept] = []
        self.context: list[str] = []
        self.transcript: str | None = None
        self.skill: SkillResult | None = None
        self.generation: Generation | None = None
        self.decision: RouteDecision | None = None
        self.trace: list[TraceStep] = []
        self.saw_image = False
        self.image_bytes: bytes | None = None
        self.history: list[tuple[str, str]] = []
        """Earlier (question, answer) turns of a conversation, oldest first."""
        self.tools: Toolbox | None = None
        """The app's tools offered for this request (its own and the assistant's)."""
        self.reading: CallReading | None = None
        """What the device read the command as, when tools were offered."""
        self.calls: list[ToolCall] = []
        """The validated calls the device makes (escalated ones are on the tier's outcome)."""
        self.schema: type[BaseModel] | None = None
        """The pydantic model a typed answer must validate as (``typed_path.py``)."""
        self.knowledge: KnowledgeAnswer | None = None
        """An answer from the device's documents, learned answers or pack (``knowledge/``)."""
        self.redactions: list[tuple[str, str]] = []
        """(placeholder, original) pairs redacted from what left the device, in order, so a
        tier's tool call can be given the user's words back on the device."""

    @property
    def text(self) -> str:
        if self.calls:
            return confirmation(self.calls, zh=CJK.search(self.question) is not None)
        if self.skill is not None:
            return self.skill.text
        if self.knowledge is not None:
            return self.knowledge.text
        return self.generation.text.strip() if self.generation is not None else ""


def step(name: str, started: float, **detail: str | float | int | bool | None) -> TraceStep:
    return TraceStep(step=name, ms=round((time.perf_counter() - started) * 1000, 3),
                     detail=detail)


class DevicePath:
    """Steps 1-2 of a request: percepts, skills, and the local model's answer."""

    def __init__(self, *, llm: LocalLLM, max_tokens: int, now: Callable[[], datetime],
                 perception: PerceptionLike | None = None, keep_image: bool = False,
                 peer: LocalLLM | None = None) -> None:
        self.llm = llm
        self.max_tokens = max_tokens
        self.now = now
        self.perception = perception
        self.keep_image = keep_image
        """Keep the image's bytes on the attempt (for the curator's upload)."""
        self.peer = peer

    def perceive(self, attempt: DeviceAttempt, image: ImageInput | None,
                 audio: AudioInput | None) -> None:
        """Step 1: percepts, their lines for the prompt, and the spoken question if any."""
        if image is not None or audio is not None:
            if self.perception is None:
                attempt.trace.append(TraceStep(step="perceive", ms=0.0,
                                               detail={"skipped": "no perceivers"}))
            else:
                t = time.perf_counter()
                attempt.saw_image = image is not None
                attempt.image_bytes = image_bytes(image) if self.keep_image else None
                result = self.perception.perceive(image=image, audio=audio)
                attempt.percepts = list(result.percepts)
                attempt.context = percept_context(attempt.percepts, saw_image=image is not None)
                attempt.transcript = result.transcript
                attempt.trace.append(step("perceive", t, percepts=len(attempt.percepts)))
                if not attempt.question.strip() and result.transcript:
                    attempt.question = result.transcript
        if not attempt.question.strip():
            raise EmptyQuestion("no question was heard in the audio. Ask again, or type it")

    def skills(self, attempt: DeviceAttempt) -> None:
        """Step 2a: percept questions ("what does the sign say?"), then arithmetic, units
        and dates; ``attempt.skill`` is set when one answers."""
        t = time.perf_counter()
        attempt.skill = answer_from_percepts(attempt.question, attempt.percepts,
                                             saw_image=attempt.saw_image)
        if attempt.skill is None:
            attempt.skill = try_skills(attempt.question, now=self.now())
        attempt.trace.append(step("skills", t, answered=attempt.skill is not None))

    def prompt(self, attempt: DeviceAttempt) -> Any:
        earlier = [f"Earlier: Q: {q} A: {a}" for q, a in attempt.history[-DEVICE_TURNS:]]
        return qa_prompt(self.llm.prompt_style, attempt.question, [*earlier, *attempt.context])

    def generate(self, attempt: DeviceAttempt, *, deadline: float | None,
                 stream_tokens: bool = False) -> Iterator[str]:
        """Step 2b: the local LLM's answer and evidence (``attempt.generation``), yielding its
        tokens when ``stream_tokens``. Raises ``ContextOverflow`` before decoding when the
        question does not fit the model."""
        t = time.perf_counter()
        gen_stream = self.llm.stream(self.prompt(attempt), max_tokens=self.max_tokens,
                                     stop=stop_for(self.llm.prompt_style), deadline=deadline)
        for delta in gen_stream:
            if stream_tokens:
                yield delta
        attempt.generation = gen_stream.result()
        attempt.trace.append(step("local_llm", t, model=self.llm.model_id,
                                  tokens=attempt.generation.completion_tokens,
                                  finish=attempt.generation.finish_reason))

    def peer_answer(self, attempt: DeviceAttempt, deadline: float | None) -> Generation | None:
        """The peer model's answer to the same question (for the router's peer signal)."""
        peer = self.peer
        if peer is None:
            return None
        t = time.perf_counter()
        try:
            answer = peer.generate(qa_prompt(peer.prompt_style, attempt.question, attempt.context),
                                   max_tokens=PEER_MAX_TOKENS, stop=stop_for(peer.prompt_style),
                                   deadline=deadline, seed=0)
        except ContextOverflow:
            return None
        attempt.trace.append(step("peer_llm", t, model=peer.model_id,
                                  tokens=answer.completion_tokens))
        return answer

    def run(self, question: str, *, image: ImageInput | None = None,
            audio: AudioInput | None = None, deadline: float | None = None) -> DeviceAttempt:
        """The whole device path without a router: perceive, skills, and, when no skill
        answered, the local model (what the evaluation records for every labelled question)."""
        attempt = DeviceAttempt(question)
        self.perceive(attempt, image, audio)
        self.skills(attempt)
        if attempt.skill is None:
            for _ in self.generate(attempt, deadline=deadline):
                pass
        return attempt


DECLINED_TEXT = "I'm not sure enough to answer that."
DECLINED_TEXT_ZH = "我没有把握回答这个问题。"
ASK_AGAIN_TEXT = "I'm not sure I heard you right: did you say “{heard}”? Please say it again."
ASK_AGAIN_TEXT_ZH = "我没听清，您是说“{heard}”吗？请再说一遍。"


def declined_text(attempt: DeviceAttempt) -> str:
    """What a declined answer says, in the question's language (English or Chinese): what was
    heard, when it was declined because the recogniser was unsure of it."""
    zh = CJK.search(attempt.question) is not None
    decision = attempt.decision
    if decision is not None and decision.reasons and \
            decision.reasons[0].startswith(UNSURE_TRANSCRIPT):
        return (ASK_AGAIN_TEXT_ZH if zh else ASK_AGAIN_TEXT).format(heard=attempt.question)
    return DECLINED_TEXT_ZH if zh else DECLINED_TEXT


def heard(percepts: Sequence[Percept]) -> list[str]:
    """The reason that says what a spoken question was heard as, and how surely."""
    return [f"heard ({t.language or '?'}, confidence {t.confidence:.2f}, {t.model or 'asr'}): "
            f"\u201c{t.text}\u201d" for t in percepts if isinstance(t, Transcript) and t.text][:1]


def declines(attempt: DeviceAttempt, outcome: Any, reasons: list[str], *,
             floor: float | None) -> bool:
    """Whether the device's answer is withheld: the policy refused it (too unsure, and it
    could not go up), or it tried to go up, no tier answered, and the device's confidence is
    below the refusal floor (``DeviceProfile.refuse_below``) — or there is no device answer
    to show (an empty generation). Never when declining is off (no floor)."""
    decision = attempt.decision
    if outcome is not None and outcome.answer is not None:
        return False
    if decision is not None and decision.action == "refuse":
        return True
    if attempt.reading is not None and attempt.reading.tool is not None and not attempt.calls:
        reasons.append(f"declined: the device's call of {attempt.reading.tool} was not sure "
                       "enough, and no upper tier made a valid one")
        return True
    if floor is not None and attempt.skill is None and not attempt.text:
        # the local model produced nothing (or ran out of time before a word): an empty
        # answer helps nobody, a decline says what happened
        reasons.append("declined: the device model gave no answer and no upper tier did")
        return True
    if (outcome is None or floor is None or attempt.skill is not None
            or (decision is not None and not decision.confidence_known)):
        return False
    conf = decision.confidence if decision is not None else 0.0
    if conf >= floor:
        return False
    reasons.append(f"declined: device confidence {conf:.2f} below the refusal floor "
                   f"{floor:.2f} and no upper tier answered")
    return True


def device_source(attempt: DeviceAttempt) -> Literal["skill", "llm", "percept", "action",
                                                     "knowledge", "none"]:
    if attempt.calls:
        return "action"
    if attempt.knowledge is not None:
        return "knowledge"
    if attempt.skill is not None:
        return "percept" if attempt.skill.skill in PERCEPT_SKILLS else "skill"
    return "llm" if attempt.generation is not None else "none"


def confirmation(calls: Sequence[ToolCall], *, zh: bool) -> str:
    """The short text beside tool calls the app is about to run: what is being done, not a
    claim that it was done (the SDK runs nothing unless ``execute=True``)."""
    parts = []
    for call in calls:
        args = ", ".join(f"{k}={v}" for k, v in call.arguments.items())
        parts.append(f"{call.name}({args})")
    return ("好的：" if zh else "OK: ") + "; ".join(parts)
