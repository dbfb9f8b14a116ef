"""How often the local model was right on questions like this one, known before it generates.

The pre-generation prior decides whether a question is hopeless enough to skip the local model
and go straight up (``Router.prior`` < ``skip_below``). From the question's surface alone (kind,
digits, length, language) it ranks who will be right at AUROC ~0.73. The calibration's own
training questions say more: each was answered by this model and labelled, and its vector is
already a row of the answer bank. So the prior also reads ``prior_knn``: among the ``k`` bank
rows of those questions most similar to this one, the similarity-weighted share the model got
right (the issue's "kNN over labelled questions" on the question vector the device computes
anyway for the bank). Prior AUROC, cross-validated → held-out test: Gemma 0.72 → 0.78 / 0.76 →
0.79, SmolLM2 0.74 → 0.80 / 0.78 → 0.81. The main scorer gains nothing from it (CV ±0.001: its
bank signals already read the answer), so only the prior reads it (``docs/router.md``).

What ships: the bank row of each labelled question and whether the model was right — per model
(the bank is shared), no text. Fitting computes each training row's value leave-one-out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgesdk.routing.neighbours import AnswerBank, _b64, _top, _unb64

HISTORY_FEATURE = "prior_knn"
DEFAULT_HISTORY_K = 20


@dataclass(frozen=True, kw_only=True)
class AnswerHistory:
    """The answer-bank rows of the questions the model answered when it was calibrated, and
    whether it was right on each."""

    rows: tuple[int, ...]
    right: tuple[bool, ...]
    k: int = DEFAULT_HISTORY_K

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.right):
            raise ValueError(f"answer history: {len(self.rows)} rows but {len(self.right)} "
                             "labels")
        if any(r < 0 for r in self.rows):
            raise ValueError("answer history: a negative bank row")

    @cached_property
    def _rows(self) -> NDArray[np.intp]:
        return np.asarray(self.rows, dtype=np.intp)

    @cached_property
    def _right(self) -> NDArray[np.float64]:
        return np.asarray(self.right, dtype=np.float64)

    def check(self, bank: AnswerBank) -> None:
        """Raise ``ValueError`` unless every row is a row of ``bank``."""
        if self.rows and max(self.rows) >= len(bank.answers):
            raise ValueError(f"answer history points at bank row {max(self.rows)}, the bank "
                             f"has {len(bank.answers)}")

    def rate(self, bank: AnswerBank, projected: NDArray[Any], *,
             exclude_row: int | None = None) -> float:
        """Similarity-weighted share right among the ``k`` most similar answered questions
        (``projected``: the question's vector in the bank's space, ``AnswerBank.project``;
        ``exclude_row``: this very question's bank row, left out when fitting). ``nan`` if
        there are none."""
        sims = bank.vectors[self._rows] @ np.asarray(projected, dtype=np.float32)
        if exclude_row is not None:
            sims[self._rows == exclude_row] = -np.inf
        k = min(self.k, int(np.isfinite(sims).sum()))
        if k <= 0:
            return math.nan
        near = _top(sims, k)
        weights = np.maximum(sims[near], 0.0) + 1e-6
        return float((self._right[near] * weights).sum() / weights.sum())

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "rows": _b64(np.asarray(self.rows, dtype=np.int32)),
                "right": "".join("1" if r else "0" for r in self.right)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AnswerHistory:
        right = str(d["right"])
        if set(right) - {"0", "1"}:
            raise ValueError("answer history: labels must be a string of 0 and 1")
        rows = _unb64(str(d["rows"]), np.int32, (-1,))
        return cls(rows=tuple(int(r) for r in rows), right=tuple(c == "1" for c in right),
                   k=int(d["k"]))
