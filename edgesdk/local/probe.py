"""Hidden states of the local LLM for the router's optional probe (see ``routing/hidden.py``).

An embedding-mode llama.cpp context with last-token pooling: one prompt pass over
``Q: question / A: answer`` (~20-40 tokens) per request. On the device it is a second *context*
over the generating model's already-loaded weights (``LlamaHiddenStates(llama=...)``): llama.cpp
contexts share a model, so the probe costs its own small KV cache and compute buffers, not a
second copy of the weights — measured +13 MB beside SmolLM2 and +33 MB beside Gemma, where
loading the GGUF again cost +166 MB / +404-567 MB; the vectors are bit-identical. Without a
loaded model (the evaluation harness) it loads the GGUF itself (``model_path=``).

This reaches into ``llama_cpp._internals`` (``LlamaModel``, ``LlamaContext``, ``LlamaBatch``):
the public ``Llama`` class owns exactly one context per model load, and those three classes are
what it is built from (checked against llama-cpp-python 0.3.36; a test compares the vectors
with ``Llama.embed`` on its own load).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import MissingExtra, ModelLoadError
from edgesdk.routing.hidden import probe_text


def _context_params(llama_cpp: Any, *, n_ctx: int, threads: int) -> Any:
    """What ``Llama(embedding=True, pooling_type=LAST, n_ctx=n_ctx)`` would ask for, one
    sequence at a time."""
    p = llama_cpp.llama_context_default_params()
    p.n_ctx = n_ctx
    p.n_batch = n_ctx
    p.n_ubatch = n_ctx
    p.n_threads = threads
    p.n_threads_batch = threads
    p.rope_scaling_type = llama_cpp.LLAMA_ROPE_SCALING_TYPE_UNSPECIFIED
    p.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_LAST
    p.attention_type = llama_cpp.LLAMA_ATTENTION_TYPE_UNSPECIFIED
    p.embeddings = True
    p.offload_kqv = True
    p.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    p.n_seq_max = 1
    return p


class LlamaHiddenStates:
    """Last-token hidden state from an embedding-mode llama.cpp context.

    ``llama``: a loaded ``llama_cpp.Llama`` whose weights the probe shares (the device path);
    ``model_path``: a GGUF the probe loads for itself. Exactly one of the two.
    """

    def __init__(self, *, model_path: Path | None = None, llama: Any = None, threads: int = 1,
                 n_ctx: int = 256) -> None:
        if (model_path is None) == (llama is None):
            raise ValueError("LlamaHiddenStates needs model_path= or llama=, not both")
        try:
            import llama_cpp
            from llama_cpp import _internals
        except ImportError as exc:
            raise MissingExtra(module="llama_cpp", extra="llm",
                               purpose="the hidden-state probe") from exc
        from edgesdk.local.llm import _route_llama_logs

        _route_llama_logs(llama_cpp)
        self._llama_cpp = llama_cpp
        self._own_model: Any = None
        try:
            if llama is not None:
                model = llama._model  # the generating model: its weights are not loaded again
            else:
                params = llama_cpp.llama_model_default_params()
                params.n_gpu_layers = 0
                model = self._own_model = _internals.LlamaModel(
                    path_model=str(model_path), params=params, verbose=False)
            self._model: Any = model
            self._ctx: Any = _internals.LlamaContext(
                model=model, params=_context_params(llama_cpp, n_ctx=n_ctx, threads=threads),
                verbose=False)
            self._batch: Any = _internals.LlamaBatch(n_tokens=n_ctx, embd=0, n_seq_max=1,
                                                     verbose=False)
        except (ValueError, RuntimeError, OSError, AttributeError) as exc:
            self._free()
            where = model_path if model_path is not None else "the loaded model"
            raise ModelLoadError(f"llama.cpp could not open {where} for the hidden-state "
                                 f"probe: {exc}") from exc
        self._n_embd = int(model.n_embd())
        self._n_ctx = n_ctx
        self._closed = False
        self._lock = threading.Lock()  # one llama.cpp context: one request at a time

    def state(self, question: str, answer: str) -> Sequence[float]:
        text = probe_text(question, answer).encode("utf-8")
        with self._lock:
            # a shared model freed by its LLM frees this context too (llama.cpp would crash)
            if self._closed or self._ctx is None or self._ctx.ctx is None:
                raise ModelLoadError("the hidden-state probe was closed with its Assistant")
            tokens = self._model.tokenize(text, add_bos=True, special=False)[: self._n_ctx - 2]
            self._ctx.kv_cache_clear()
            self._batch.reset()
            self._batch.set_batch(tokens, n_past=0, logits_all=True)
            self._ctx.decode(self._batch)
            ptr = self._llama_cpp.llama_get_embeddings_seq(self._ctx.ctx, 0)
            vec = np.ctypeslib.as_array(ptr, shape=(self._n_embd,)).astype(np.float32)
        return [float(v) for v in vec]

    def _free(self) -> None:
        for part in ("_batch", "_ctx", "_own_model"):  # a context before its model
            obj = getattr(self, part, None)
            if obj is not None:
                obj.close()
                setattr(self, part, None)

    def close(self) -> None:
        """Free the probe's context (and its own model, if it loaded one) now rather than at
        garbage collection (idempotent). A shared model stays with its LLM."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._free()
