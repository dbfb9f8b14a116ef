"""A stream of text deltas that ends with one final object: the shape of every streamed result.

The LLM runtime streams text then a ``Generation``; the Assistant streams text then an
``Answer``. Both are consumed the same way (``for delta in stream``, then ``result()``), so the
iteration lives here once, parameterised by the final type. Imports nothing of ours, so any
layer can use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar, cast

T = TypeVar("T")


class FinalStream(Generic[T]):
    """Iterate the text deltas of ``chunks``; the item of type ``final_type`` among them is kept
    as ``final`` and returned by ``result()``. Subclasses set ``final_type`` (and
    ``skip_empty`` to drop empty deltas)."""

    final_type: ClassVar[type[Any]] = object
    skip_empty: ClassVar[bool] = False

    def __init__(self, chunks: Iterator[str | T]) -> None:
        self._chunks = chunks
        self.final: T | None = None

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            if isinstance(chunk, self.final_type):
                self.final = cast(T, chunk)
            elif chunk or not self.skip_empty:
                yield cast(str, chunk)

    def result(self) -> T:
        """Drain what is left and return the final item."""
        for _ in self:
            pass
        assert self.final is not None
        return self.final
