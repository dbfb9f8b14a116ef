"""AsyncAssistant: the async twin of ``Assistant`` (same names, awaitable).

Kept in its own module because it adds nothing to the request path: on-device inference is
CPU-bound and the llama.cpp context is single-threaded, so each call runs the sync path in a
worker thread (``asyncio.to_thread``) and streamed deltas cross back through a queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from edgesdk.assistant import Assistant
from edgesdk.device_path import AudioInput, ImageInput
from edgesdk.knowledge.base import Knowledge
from edgesdk.types import Answer, Mode, Percept
from edgesdk.wiring import AssistantStats

if TYPE_CHECKING:
    from edgesdk.session import AsyncSession

class AsyncAssistant:
    """The async twin of :class:`Assistant`: same names, awaitable.

    On-device inference is CPU-bound and the llama.cpp context is single-threaded, so the
    request path runs in a worker thread (``asyncio.to_thread``) and the event loop stays free;
    streamed deltas cross back through an ``asyncio.Queue``.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._sync = Assistant(**kwargs)

    @classmethod
    async def create(cls, **kwargs: Any) -> AsyncAssistant:
        """Build without blocking the loop (model loading takes a moment)."""
        import asyncio

        instance = cls.__new__(cls)
        instance._sync = await asyncio.to_thread(Assistant, **kwargs)
        return instance

    async def __aenter__(self) -> AsyncAssistant:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        import asyncio

        await asyncio.to_thread(self._sync.close)

    @property
    def sync(self) -> Assistant:
        """The blocking assistant underneath (its ``tool`` decorator, stats, ...)."""
        return self._sync

    @property
    def knowledge(self) -> Knowledge | None:
        """The device's documents and kept answers (``Assistant(knowledge=...)``), or None."""
        return self._sync.knowledge

    def session(self, **kwargs: Any) -> AsyncSession:
        """A conversation: ``await session.ask(...)`` answers in context (``session.py``)."""
        from edgesdk.session import AsyncSession

        return AsyncSession(self, **kwargs)

    async def ask(self, question: str | None = None, *, image: ImageInput | None = None,
                  audio: AudioInput | None = None, mode: Mode | str | None = None,
                  deadline_s: float | None = None, **options: Any) -> Answer:
        """``options``: ``tools``, ``execute``, ``schema``, ``history`` as for ``Assistant``."""
        import asyncio

        def ask() -> Answer:
            answer: Answer = self._sync.ask(question, image=image, audio=audio, mode=mode,
                                            deadline_s=deadline_s, **options)
            return answer

        return await asyncio.to_thread(ask)

    async def stream(self, question: str | None = None, *, image: ImageInput | None = None,
                     audio: AudioInput | None = None, mode: Mode | str | None = None,
                     deadline_s: float | None = None) -> AsyncIterator[str | Answer]:
        """Yield text deltas, then the final ``Answer`` as the last item."""
        import asyncio

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | Answer | BaseException] = asyncio.Queue()

        def work() -> None:
            try:
                stream = self._sync.ask(question, image=image, audio=audio, mode=mode,
                                        stream=True, deadline_s=deadline_s)
                for delta in stream:
                    loop.call_soon_threadsafe(queue.put_nowait, delta)
                assert stream.answer is not None
                loop.call_soon_threadsafe(queue.put_nowait, stream.answer)
            except BaseException as exc:  # re-raised in the caller's task
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        worker = asyncio.ensure_future(asyncio.to_thread(work))
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                await worker
                raise item
            yield item
            if isinstance(item, Answer):
                break
        await worker

    async def perceive(self, *, image: ImageInput | None = None,
                       audio: AudioInput | None = None) -> list[Percept]:
        import asyncio

        return await asyncio.to_thread(self._sync.perceive, image=image, audio=audio)

    async def feedback(self, answer: Answer | str, *, good: bool,
                       correction: str | None = None) -> None:
        import asyncio

        await asyncio.to_thread(self._sync.feedback, answer, good=good, correction=correction)

    def stats(self) -> AssistantStats:
        return self._sync.stats()

    def reset_cloud(self) -> None:
        self._sync.reset_cloud()
