"""The seam between the bridge server and whatever answers questions.

The server needs only the Assistant's public methods, so it is written against this Protocol:
unit tests drive it with :class:`FakeBackend` (no models, instant, scriptable failures), and
``edgesdk serve-bridge`` hands it a real ``Assistant``. ``FakeBackend`` is also what
``edgesdk serve-bridge --fake`` serves, so app developers can build and test an Android client
against the real protocol on a laptop without fetching a single model.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from edgesdk.errors import DeadlineExceeded, EdgeSDKError, EmptyQuestion, InvalidImage
from edgesdk.types import Answer, DetectedObject, Mode, Percept, Transcript

if TYPE_CHECKING:
    from edgesdk.assistant import Assistant


@runtime_checkable
class AnswerStreamLike(Protocol):
    """What ``ask(..., stream=True)`` returns: iterate text deltas, then read ``answer``."""

    def __iter__(self) -> Iterator[str]: ...

    @property
    def answer(self) -> Answer | None: ...


class BridgeBackend(Protocol):
    """The subset of ``edgesdk.Assistant`` the bridge serves."""

    def ask(
        self,
        question: str,
        *,
        image: bytes | None = None,
        audio: bytes | None = None,
        mode: Mode | None = None,
        stream: bool = False,
        deadline_s: float | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> Answer | AnswerStreamLike: ...

    def perceive(
        self, *, image: bytes | None = None, audio: bytes | None = None
    ) -> Sequence[Percept]: ...

    def feedback(
        self, answer_or_id: Answer | str, *, good: bool, correction: str | None = None
    ) -> object: ...

    def stats(self) -> BaseModel | Mapping[str, Any]: ...


class AssistantBackend:
    """Serve an ``edgesdk.Assistant``: its overloaded ``ask`` behind the one-signature seam."""

    def __init__(self, *, assistant: Assistant) -> None:
        self.assistant = assistant

    def ask(
        self,
        question: str,
        *,
        image: bytes | None = None,
        audio: bytes | None = None,
        mode: Mode | None = None,
        stream: bool = False,
        deadline_s: float | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> Answer | AnswerStreamLike:
        if stream:
            return self.assistant.ask(question, image=image, audio=audio, mode=mode,
                                      stream=True, deadline_s=deadline_s, tools=tools)
        return self.assistant.ask(question, image=image, audio=audio, mode=mode,
                                  deadline_s=deadline_s, tools=tools)

    def perceive(
        self, *, image: bytes | None = None, audio: bytes | None = None
    ) -> Sequence[Percept]:
        return self.assistant.perceive(image=image, audio=audio)

    def feedback(
        self, answer_or_id: Answer | str, *, good: bool, correction: str | None = None
    ) -> object:
        self.assistant.feedback(answer_or_id, good=good, correction=correction)
        return None

    def stats(self) -> BaseModel:
        return self.assistant.stats()


class FakeStream:
    """An AnswerStream stand-in: yields the words of a canned answer, then sets ``answer``."""

    def __init__(self, *, words: Sequence[str], final: Answer, delay_s: float = 0.0) -> None:
        self._words = list(words)
        self._final = final
        self._delay_s = delay_s
        self.answer: Answer | None = None
        self.closed = False

    def __iter__(self) -> Iterator[str]:
        for word in self._words:
            if self.closed:
                return
            if self._delay_s:
                time.sleep(self._delay_s)
            yield word
        self.answer = self._final

    def close(self) -> None:
        self.closed = True


class FakeBackend:
    """A deterministic backend: echoes questions, knows ``2+2``, fails on request.

    Questions starting with ``raise:<code>`` raise the SDK error with that code (so clients can
    test their error handling), ``sleep:<seconds>`` sleeps first (to test deadlines).
    """

    def __init__(self, *, delay_s: float = 0.0, token_delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.token_delay_s = token_delay_s
        self.feedback_log: list[tuple[str, bool, str | None]] = []
        self._lock = threading.Lock()
        self._asked = 0

    def _answer_text(self, question: str) -> str:
        q = question.strip().rstrip("?").strip()
        if q.lower() in {"what is 2+2", "2+2"}:
            return "4"
        return f"You asked: {question.strip()}"

    def ask(
        self,
        question: str,
        *,
        image: bytes | None = None,
        audio: bytes | None = None,
        mode: Mode | None = None,
        stream: bool = False,
        deadline_s: float | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> Answer | AnswerStreamLike:
        started = time.monotonic()
        if not question.strip():
            raise EmptyQuestion("the question is empty; ask something")
        if question.startswith("raise:"):
            raise _error_for_code(question.removeprefix("raise:").strip())
        if question.startswith("sleep:"):
            seconds = float(question.removeprefix("sleep:").split()[0])
            if deadline_s is not None and seconds > deadline_s:
                time.sleep(deadline_s)
                raise DeadlineExceeded(
                    f"no answer within {deadline_s:.2f} s; allow a longer deadline_s"
                )
            time.sleep(seconds)
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self._asked += 1
        percepts = self.perceive(image=image, audio=audio)
        text = self._answer_text(question)
        answer = Answer(
            text=text,
            tier="device",
            confidence=0.9,
            escalated=False,
            reasons=["fake backend"],
            latency_ms=(time.monotonic() - started) * 1000.0,
            percepts=list(percepts),
            model="fake",
            source="llm",
            question=question,
            id=uuid.uuid4().hex,
        )
        if stream:
            words = [w + " " for w in text.split(" ")]
            words[-1] = words[-1].rstrip()
            return FakeStream(words=words, final=answer, delay_s=self.token_delay_s)
        return answer

    def perceive(
        self, *, image: bytes | None = None, audio: bytes | None = None
    ) -> Sequence[Percept]:
        percepts: list[Percept] = []
        if image is not None:
            if not image:
                raise InvalidImage("the image is empty; send the bytes of a PNG or JPEG file")
            percepts.append(
                DetectedObject(label="thing", box=(0.0, 0.0, 1.0, 1.0), score=0.5)
            )
        if audio is not None:
            percepts.append(Transcript(text=f"{len(audio)} bytes of audio", confidence=0.5,
                                       language="en", model="fake"))
        return percepts

    def feedback(
        self, answer_or_id: Answer | str, *, good: bool, correction: str | None = None
    ) -> object:
        answer_id = answer_or_id if isinstance(answer_or_id, str) else answer_or_id.id
        with self._lock:
            self.feedback_log.append((answer_id, good, correction))
        return None

    def stats(self) -> Mapping[str, Any]:
        with self._lock:
            return {"asked": self._asked, "feedback": len(self.feedback_log), "backend": "fake"}


def _error_for_code(code: str) -> EdgeSDKError:
    from edgesdk.bridge.statuses import error_classes

    for klass in error_classes():
        if klass.code == code:
            try:
                return klass(f"fake backend raised {code} on request; this is a test")
            except TypeError:  # classes with keyword-only constructors
                break
    return EdgeSDKError(f"fake backend raised {code} on request; this is a test")
