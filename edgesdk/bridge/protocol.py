"""The bridge's wire protocol, version 1: every JSON message, as pydantic models.

Apps that cannot import Python (Android in Java or Kotlin, anything else that speaks HTTP) talk
to an edgesdk process through these messages. They are the single source of truth: the server
validates against them, ``schema.py`` derives the checked-in JSON Schema from them, and the Java
client is tested against a live server that uses them. Responses reuse the SDK's own value
types (``Answer``, ``Percept``) unchanged, so the bridge never grows a second idea of what an
answer is. Requests forbid unknown fields, so a typo in a client fails loudly instead of being
ignored; a new optional field is a compatible change, anything else needs ``/v2``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edgesdk.types import Answer, Mode, Percept

PROTOCOL_VERSION = "v1"
PREFIX = "/v1"

#: Upper bound a client may ask for; the server clamps to its own (usually smaller) maximum.
MAX_DEADLINE_S = 600.0


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- requests


class AskRequest(Message):
    """Body of ``POST /v1/ask`` and ``POST /v1/ask/stream``."""

    question: str = Field(max_length=100_000)
    mode: Mode | None = None
    image_b64: str | None = Field(default=None, description="image file bytes, base64")
    audio_b64: str | None = Field(default=None, description="audio (WAV) bytes, base64")
    deadline_s: float | None = Field(default=None, gt=0, le=MAX_DEADLINE_S)
    tools: list[dict[str, Any]] | None = Field(
        default=None, max_length=128,
        description="OpenAI-format tool definitions: a command comes back as tool_calls")


class PerceiveRequest(Message):
    """Body of ``POST /v1/perceive``: at least one of image and audio."""

    image_b64: str | None = None
    audio_b64: str | None = None
    deadline_s: float | None = Field(default=None, gt=0, le=MAX_DEADLINE_S)


class FeedbackRequest(Message):
    """Body of ``POST /v1/feedback``: the user's verdict on an answer, by its ``id``."""

    answer_id: str = Field(min_length=1, max_length=200)
    good: bool
    correction: str | None = Field(default=None, max_length=100_000)


# --------------------------------------------------------------------------- responses


class HealthResponse(Message):
    """``GET /v1/health``."""

    status: Literal["ok"] = "ok"
    protocol: Literal["v1"] = "v1"
    version: str
    profile: str | None = None
    uptime_s: float


class PerceiveResponse(Message):
    """``POST /v1/perceive``."""

    percepts: list[Percept] = Field(default_factory=list)


class FeedbackResponse(Message):
    """``POST /v1/feedback``."""

    accepted: bool = True
    answer_id: str


class BridgeCounters(Message):
    """What the bridge itself has seen since it started."""

    uptime_s: float
    requests: int = 0
    in_flight: int = 0
    errors: dict[str, int] = Field(
        default_factory=dict, description="count of error responses by error code"
    )


class StatsResponse(Message):
    """``GET /v1/stats``: the bridge's counters plus the assistant's own statistics."""

    bridge: BridgeCounters
    assistant: dict[str, Any] = Field(
        default_factory=dict, description="Assistant.stats() as JSON (fields may grow)"
    )


class ErrorDetail(Message):
    code: str = Field(description="stable machine-readable code, e.g. 'unauthorized'")
    message: str = Field(description="what went wrong and what to do about it")
    retry_after_s: float | None = None


class ErrorResponse(Message):
    """Body of every non-2xx response, and data of the SSE ``error`` event."""

    error: ErrorDetail


# --------------------------------------------------------------------------- streaming


class TokenEvent(Message):
    """Data of the SSE ``token`` event: the next piece of the answer's text."""

    text: str


#: SSE event names of ``POST /v1/ask/stream``, in order: ``token``* then ``answer`` or ``error``.
SSE_TOKEN = "token"
SSE_ANSWER = "answer"
SSE_ERROR = "error"

AnswerResponse = Answer
"""``POST /v1/ask`` returns the SDK's :class:`~edgesdk.types.Answer` as is."""
