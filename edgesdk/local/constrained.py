"""Grammar-constrained greedy decoding that costs a grammar check per token, not per vocabulary.

llama-cpp-python applies a grammar to every candidate token before sampling. With Gemma 3's
262k-token vocabulary that is 0.2-0.5 s per generated token on two cores (measured: 13-32 s
for a 40-token JSON object). llama.cpp's own samplers avoid it the way this module does: take
the model's greedy choice first and ask the grammar about that one token; only when the
grammar refuses it, ask about the 256 likeliest, and only when all of those are refused, about
the whole vocabulary. A model that is following the format is almost always right the first
time, so a grammar costs microseconds per token and the output still always parses.

It drives the llama.cpp context directly (the same prefix reuse as ``Llama.generate``), so the
caller's evidence reader sees the raw logits row of each step exactly as in free decoding.
"""

from __future__ import annotations

import ctypes
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from edgesdk.errors import ToolSchemaError

TOP = 256
"""How many of the likeliest tokens are offered to the grammar before the whole vocabulary."""


class GrammarDecoder:
    """One constrained generation over a loaded ``llama_cpp.Llama``."""

    def __init__(self, llama_cpp: Any, llm: Any, vocab: Any, n_vocab: int, grammar: str) -> None:
        self.lib = llama_cpp
        self.llm = llm
        self.n_vocab = n_vocab
        self.sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"),
                                                            b"root")
        if not self.sampler:
            raise ToolSchemaError("llama.cpp could not parse the grammar. Simplify the schema")
        self.full_checks = 0
        self.top_checks = 0

    def close(self) -> None:
        if self.sampler:
            self.lib.llama_sampler_free(self.sampler)
            self.sampler = None

    def tokens(self, prompt: Sequence[int]) -> Generator[int, None, None]:
        """Yield constrained greedy tokens; the context holds each one's logits row while it is
        yielded (read it then), and evaluates it when the caller asks for the next."""
        self._prefill(list(prompt))
        try:
            while True:
                logits = np.ctypeslib.as_array(
                    self.lib.llama_get_logits_ith(self.llm.ctx, -1), shape=(self.n_vocab,))
                token = self._choose(logits)
                self.lib.llama_sampler_accept(self.sampler, token)
                yield token
                self.llm.eval([token])
                self.llm._requires_eval = False
        finally:
            self.close()

    def _prefill(self, tokens: list[int]) -> None:
        llm = self.llm
        cached = 0
        for a, b in zip(llm.input_ids[: llm.n_tokens], tokens, strict=False):
            if a != b:
                break
            cached += 1
        reuse = min(cached, len(tokens) - 1)  # always evaluate one token: fresh logits
        if reuse > 0 and llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            llm.n_tokens = reuse
            rest = tokens[reuse:]
        else:
            llm.reset()
            rest = tokens
        llm.eval(rest)
        llm._requires_eval = False

    def _choose(self, logits: np.ndarray) -> int:
        best = int(np.argmax(logits))
        if self._allowed(np.array([best], dtype=np.intc), logits)[0]:
            return best
        self.top_checks += 1
        top = np.argpartition(-logits, TOP)[:TOP].astype(np.intc)
        top = top[np.argsort(-logits[top])]
        ok = self._allowed(top, logits)
        if ok.any():
            return int(top[int(np.argmax(ok))])
        self.full_checks += 1
        everything = np.arange(self.n_vocab, dtype=np.intc)
        ok = self._allowed(everything, logits)
        if not ok.any():
            raise ToolSchemaError("the grammar allows no token here (it cannot be completed). "
                                  "Check the schema")
        masked = np.where(ok, logits, -np.inf)
        return int(np.argmax(masked))

    def _allowed(self, ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """Which of ``ids`` the grammar accepts next (it sets the others' logits to -inf)."""
        data = np.zeros(len(ids), dtype=np.dtype(
            [("id", np.intc), ("logit", np.float32), ("p", np.float32)], align=True))
        data["id"] = ids
        data["logit"] = logits[ids]
        array = self.lib.llama_token_data_array(
            data=data.ctypes.data_as(ctypes.POINTER(self.lib.llama_token_data)),
            size=len(ids), selected=-1, sorted=False)
        self.lib.llama_sampler_apply(self.sampler, ctypes.byref(array))
        finite: np.ndarray = np.isfinite(data["logit"])
        return finite
