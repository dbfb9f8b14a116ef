"""Value objects that cross module boundaries.

They are frozen pydantic models so that they serialise the same way everywhere (CLI ``--json``,
the bridge protocol, the outbox) and so that one module cannot mutate what another handed it.
Modules exchange these, never each other's internals: the router reads a
:class:`GenerationEvidence`, not a llama.cpp context.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["device", "edge", "cloud"]
Mode = Literal["prefer-on-device", "only-on-device", "prefer-cloud", "only-cloud"]
MODES: tuple[Mode, ...] = ("prefer-on-device", "only-on-device", "prefer-cloud", "only-cloud")
FinishReason = Literal["stop", "length", "deadline", "skill", "cloud", "fallback", "error"]
Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in source-image pixels."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- percepts


class Face(Frozen):
    kind: Literal["face"] = "face"
    box: Box
    score: float = Field(ge=0.0, le=1.0)
    keypoints: tuple[tuple[float, float], ...] = ()


class DetectedObject(Frozen):
    """An object found in an image (``kind="object"``); named so it does not shadow ``object``."""

    kind: Literal["object"] = "object"
    label: str
    box: Box
    score: float = Field(ge=0.0, le=1.0)


class TextLine(Frozen):
    kind: Literal["text"] = "text"
    text: str
    box: Box
    score: float = Field(ge=0.0, le=1.0)


class SpeechSegment(Frozen):
    start_s: float
    end_s: float


class Speech(Frozen):
    kind: Literal["speech"] = "speech"
    segments: tuple[SpeechSegment, ...]
    score: float = Field(ge=0.0, le=1.0)


class WakeWord(Frozen):
    kind: Literal["wake_word"] = "wake_word"
    name: str
    score: float = Field(ge=0.0, le=1.0)
    at_s: float = 0.0


class TranscriptWord(Frozen):
    text: str
    start_s: float
    end_s: float
    probability: float = Field(ge=0.0, le=1.0)


class TranscriptSegment(Frozen):
    text: str
    start_s: float
    end_s: float
    words: tuple[TranscriptWord, ...] = ()


class TranscriptEvidence(Frozen):
    """The recogniser's own evidence, from which ``Transcript.confidence`` is calibrated."""

    avg_logprob: float
    """Mean token log-probability of the kept segments, weighted by their token counts."""
    no_speech_prob: float = Field(ge=0.0, le=1.0)
    """The model's probability that the audio held no speech (highest over the segments)."""
    compression_ratio: float
    """gzip ratio of the text: a repetition loop compresses well (Whisper's own check: > 2.4)."""
    word_prob_mean: float | None = None
    word_prob_min: float | None = None
    language_probability: float = Field(default=1.0, ge=0.0, le=1.0)
    words_per_second: float = 0.0


class Transcript(Frozen):
    kind: Literal["transcript"] = "transcript"
    text: str
    confidence: float = Field(ge=0.0, le=1.0)
    """Calibrated P(the transcript is right enough to answer: WER ≤ 0.2) for a Whisper model;
    the mean word posterior for PocketSphinx."""
    language: str | None = None
    """ISO 639-1 code the text is in (``en``, ``zh``), when the recogniser knows it."""
    segments: tuple[TranscriptSegment, ...] = ()
    """Timed pieces of the text (with word timings when the recogniser gives them)."""
    evidence: TranscriptEvidence | None = None
    model: str | None = None

    @property
    def score(self) -> float:
        return self.confidence


Percept = Annotated[
    Face | DetectedObject | TextLine | Speech | WakeWord | Transcript,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- generation


class GenerationEvidence(Frozen):
    """Per-token evidence of one local generation, taken from each decode step's logits.

    ``logprobs[i]`` is the log-probability of the i-th generated token under the model's raw
    distribution, ``entropies[i]`` that distribution's entropy (nats), ``margins[i]`` the
    log-prob gap between its two most likely tokens.
    """

    logprobs: tuple[float, ...] = ()
    entropies: tuple[float, ...] = ()
    margins: tuple[float, ...] = ()


class Timings(Frozen):
    load_ms: float = 0.0
    prompt_ms: float = 0.0
    first_token_ms: float = 0.0
    decode_ms: float = 0.0
    total_ms: float = 0.0


class Generation(Frozen):
    """What a local LLM produced for one request."""

    text: str
    model_id: str
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int = 0
    finish_reason: FinishReason
    evidence: GenerationEvidence = GenerationEvidence()
    timings: Timings = Timings()


class SkillResult(Frozen):
    """A deterministic on-device skill's answer (confidence 1.0 by construction)."""

    skill: str
    text: str
    value: str
    confidence: float = 1.0


class Citation(Frozen):
    """Where a device answer from its knowledge came from: a document the app indexed
    (``kind="document"``, ``source`` its path or name), an answer the cloud gave this device
    earlier (``"learned"``), or the fleet's answer pack (``"pack"``)."""

    kind: Literal["document", "learned", "pack"]
    source: str
    title: str = ""
    passage: str = ""
    """The passage (or the earlier question) the answer was read from, at most 300 chars."""
    score: float = 0.0


class ToolCall(Frozen):
    """One call of an app's tool, in the OpenAI shape (``arguments`` as a JSON object, not the
    wire's JSON string). The SDK never runs it unless asked (``ask(..., execute=True)``)."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def openai(self) -> dict[str, Any]:
        """The call as chat-completions messages carry it (``arguments`` a JSON string)."""
        return {"id": self.id, "type": "function",
                "function": {"name": self.name,
                             "arguments": json.dumps(self.arguments, ensure_ascii=False)}}


# --------------------------------------------------------------------------- accounting


class Usage(Frozen):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_cache_hit_tokens: int = 0
    prompt_cache_miss_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Cost(Frozen):
    amount: float = 0.0
    currency: str = "USD"


class TraceStep(Frozen):
    """One step of a request's path (perceive, skills, local LLM, route, a tier, curate)."""

    step: str
    ms: float
    detail: dict[str, str | float | int | bool | None] = Field(default_factory=dict)


class RouteDecision(Frozen):
    """The router's verdict for one request: stay on the device, escalate, or refuse."""

    action: Literal["stay", "escalate", "refuse"]
    confidence: float = Field(ge=0.0, le=1.0)
    threshold: float
    reasons: tuple[str, ...] = ()
    confidence_known: bool = True
    """False when the router had no usable confidence (missing signals, a question kind it was
    not fitted on): ``confidence`` is then 0.0, the decision failed safe, and an answer that
    cannot go up is shown as it is rather than declined."""


# --------------------------------------------------------------------------- answer


class DeclinedText(str):
    """A streamed delta that is a decline ("I'm not sure enough to answer that."), not an
    answer: an edgesdk edge server marks its chunk ``edgesdk.declined`` so the device that
    asked can withhold it and fall back to its own answer or the next tier."""


class Answer(Frozen):
    """The result of one ``Assistant.ask``: what was answered, by which tier, and why."""

    text: str
    tier: Tier
    confidence: float = Field(ge=0.0, le=1.0)
    escalated: bool
    output: Any = Field(default=None, exclude=True)
    """The validated instance of ``ask(..., schema=Model)`` (``text`` is its JSON); None when
    no schema was asked for, or no tier produced a valid one (then ``declined``)."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """The app's tools to call (``ask(..., tools=...)``), in the order to call them; ``text``
    is then a short confirmation. Validated against each tool's schema, never executed unless
    ``execute=True`` (then ``trace`` holds each step and ``text`` the final answer)."""
    reasons: list[str] = Field(default_factory=list)
    latency_ms: float
    confidence_known: bool = True
    """False when ``confidence`` is a placeholder, not a measurement: the router could not
    score this device's answer (a question kind it was not fitted on, an empty answer, missing
    signals: ``confidence`` is 0.0 and ``reasons`` say why), or the upper tier that answered
    reported no confidence of its own (the cloud: 1.0 is assumed for a finished answer, 0.5
    for one cut off) or said its own was a placeholder (an edgesdk tier, for these reasons)."""
    usage: Usage = Usage()
    cost: Cost = Cost()
    usage_estimated: bool = False
    """True when the tier reported no token usage (llama.cpp streams) and ``usage`` and
    ``cost`` were estimated from the text; budgets and ledgers count the estimate."""
    percepts: list[Percept] = Field(default_factory=list)
    trace: list[TraceStep] = Field(default_factory=list)
    model: str = ""
    source: Literal["skill", "llm", "percept", "action", "knowledge", "tier", "none"] = "llm"
    citations: list[Citation] = Field(default_factory=list)
    """For an answer from the device's knowledge (``source="knowledge"``): the document,
    earlier cloud answer or pack entry it came from."""
    question: str = ""
    device_text: str | None = None
    reasoning: str | None = None
    id: str = ""
    declined: bool = False
    """The answer was too unsure to show (calibrated confidence below the profile's
    ``refuse_below``; or the device model produced nothing) and no upper tier answered instead
    — or the edgesdk edge tier that answered declined for the same reason: ``text`` says so in
    the question's language and ``device_text`` keeps what this device would have said."""
