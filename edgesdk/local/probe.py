"""Hidden states of the local LLM for the router's optional probe (see ``routing/hidden.py``).

A second llama.cpp context over the same GGUF in embedding mode, last-token pooling: one prompt
pass over ``Q: question / A: answer`` (~20-40 tokens) per request. It lives with the other
llama.cpp code; the router takes it through the ``HiddenStates`` Protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import MissingExtra, ModelLoadError
from edgesdk.routing.hidden import probe_text


class LlamaHiddenStates:
    """Last-token hidden state from a llama.cpp context in embedding mode (own context)."""

    def __init__(self, *, model_path: Path, threads: int = 1, n_ctx: int = 256) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingExtra(module="llama_cpp", extra="llm",
                               purpose="the hidden-state probe") from exc
        from edgesdk.local.llm import _route_llama_logs

        _route_llama_logs(llama_cpp)
        try:
            self._llm: Any = llama_cpp.Llama(
                model_path=str(model_path), embedding=True, n_ctx=n_ctx, n_threads=threads,
                n_threads_batch=threads, verbose=False,
                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not open {model_path} for the hidden-state "
                                 f"probe: {exc}") from exc
        self._n_ctx = n_ctx
        self._lock = threading.Lock()  # one llama.cpp context: one request at a time

    def state(self, question: str, answer: str) -> Sequence[float]:
        text = probe_text(question, answer)
        with self._lock:
            if self._llm is None:
                raise ModelLoadError("the hidden-state probe was closed with its Assistant")
            tokens = self._llm.tokenize(text.encode("utf-8"))
            if len(tokens) >= self._n_ctx:
                text = self._llm.detokenize(tokens[: self._n_ctx - 2]).decode("utf-8",
                                                                              "replace")
            vec = np.asarray(self._llm.embed(text), dtype=np.float32).ravel()
        return [float(v) for v in vec]

    def close(self) -> None:
        """Free the llama.cpp context now rather than at garbage collection (idempotent)."""
        with self._lock:
            llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()
