"""Per-token evidence for the router: one logits row → (chosen log-prob, entropy, top-2 margin).

This runs once per generated token, between two llama.cpp decodes, so its cost is paid on every
token of every answer. Two backends compute the same three numbers:

- ``c``: ``edgesdk.local._evidence``, a small C extension built at install (``setup.py``). One
  fused, vectorised read of the row (AVX-512 / AVX2 / SSE2 / NEON, picked at import), nothing
  written. Measured on Gemma's 262k vocabulary between real decodes: 0.15 ms per token.
- ``numpy``: the fallback when the extension could not be built (no C compiler on the device).
  Four passes and a 1 MB scratch row: 0.55 ms per token in the same conditions (≈3 % of decode
  on 2 cores, which is why the C kernel exists). Its reductions are numpy's own loops, not BLAS:
  OpenBLAS would wake worker threads that fight llama.cpp's threads for the same cores.

Both agree to 1e-4 nats (``tests/unit/test_llm_evidence.py``); ``kernel`` says which one runs
(``edgesdk bench`` reports it).
"""

from __future__ import annotations

import ctypes
import logging
import math
from typing import Any, Literal

import numpy as np

_log = logging.getLogger(__name__)

try:
    from edgesdk.local import _evidence as _c_kernel  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: numpy fallback
    _c_kernel = None

Backend = Literal["auto", "c", "numpy"]
Evidence = tuple[float, float, float]


def c_kernel_available() -> bool:
    return _c_kernel is not None


class EvidenceMeter:
    """Reduces one logits row of ``n_vocab`` float32 values; no copies of the row are made."""

    SAFE_EXP = 80.0

    def __init__(self, n_vocab: int, *, backend: Backend = "auto") -> None:
        if backend == "c" and _c_kernel is None:
            raise RuntimeError(
                "the C evidence kernel is not built; reinstall edgesdk with a C compiler "
                "available (pip install -e .), or use backend='numpy'"
            )
        self.n_vocab = n_vocab
        self._use_c = _c_kernel is not None and backend != "numpy"
        self._buf: np.ndarray[Any, np.dtype[np.float32]] | None = None  # numpy path, lazily
        if not self._use_c and backend == "auto":
            _log.debug("C evidence kernel unavailable; using the numpy fallback")

    @property
    def kernel(self) -> str:
        """``c-avx512``, ``c-avx2``, ``c-generic`` or ``numpy``."""
        return f"c-{_c_kernel.kernel()}" if self._use_c and _c_kernel is not None else "numpy"

    def measure_pointer(self, pointer: Any, token: int, *, top: int | None = None) -> Evidence:
        """``pointer``: a ctypes ``float*`` to a row of ``n_vocab`` (llama_get_logits_ith)."""
        if self._use_c:
            return self._measure_c(ctypes.cast(pointer, ctypes.c_void_p).value, token, top)
        row = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        return self._measure_numpy(row, token, top)

    def measure(self, logits: np.ndarray[Any, np.dtype[np.float32]], token: int, *,
                top: int | None = None) -> Evidence:
        """``top`` is the argmax when the caller knows it (greedy decoding picked it)."""
        if logits.dtype != np.float32 or logits.ndim != 1 or logits.size != self.n_vocab:
            raise ValueError(
                f"expected a 1-D float32 row of {self.n_vocab} logits, got "
                f"{logits.dtype} {logits.shape}"
            )
        if not 0 <= token < self.n_vocab:
            raise ValueError(f"token {token} is outside the {self.n_vocab}-entry vocabulary")
        if self._use_c:
            row = np.ascontiguousarray(logits)  # keeps the row alive during the call
            return self._measure_c(row.ctypes.data, token, top)
        return self._measure_numpy(logits, token, top)

    def _measure_c(self, address: int | None, token: int, top: int | None) -> Evidence:
        assert _c_kernel is not None
        result: Evidence = _c_kernel.measure(address, self.n_vocab, token,
                                             -1 if top is None else top)
        return result

    def _measure_numpy(self, logits: np.ndarray[Any, np.dtype[np.float32]], token: int,
                       top: int | None) -> Evidence:
        if top is None:
            top = int(logits.argmax())
        top_logit = float(logits[top])
        if self._buf is None:
            self._buf = np.empty(self.n_vocab, dtype=np.float32)
        buf = self._buf
        # exp on the raw logits when they cannot overflow float32 (the usual case) saves a pass
        shift = top_logit if top_logit > self.SAFE_EXP or top_logit < -self.SAFE_EXP else 0.0
        if shift:
            np.subtract(logits, shift, out=buf)
            np.exp(buf, out=buf)
        else:
            np.exp(logits, out=buf)
        z = float(buf.sum())
        lse = shift + math.log(z)
        expected_logit = float(np.einsum("i,i->", buf, logits)) / z
        if not math.isfinite(expected_logit):  # masked -inf logits: 0 * -inf; clip and redo
            expected_logit = float(np.einsum(
                "i,i->", buf, np.maximum(logits, top_logit - 87.0))) / z
        entropy = max(lse - expected_logit, 0.0)
        left = logits[:top].max(initial=-np.inf)
        right = logits[top + 1:].max(initial=-np.inf)
        second = float(max(left, right))
        margin = top_logit - second if math.isfinite(second) else 0.0
        return float(logits[token]) - lse, entropy, margin
