"""The model's own record on questions like this one, and when it gave this answer.

Part of the ``neighbours`` lookup signal (``signals/neighbours.py``), gated like the rest of
it. After it generates, the labelled neighbours say how *precise* this answer is
(``OWN_FEATURES``): among the ``k`` most similar questions the model answered when calibrated,
how often it gave this same answer (``own_rate``), how often it was right when it did
(``own_precision``, smoothed towards its accuracy on those ``k``) and how many times
(``own_count``). The bank's gold answers (``neighbours.py``) say how common an answer is for
such questions, not how well this model knows it: "France" is the gold of ~19% of the questions
like those Gemma answers it to, yet its "France" was right 90% of the time (31 answers in
train+dev; leave-one-out ``own_precision`` 0.87), while its "Christianity" (a gold for ~18%) was
right 36% of the time (14; 0.18). Held-out pool half (1,815 Gemma answers): AUROC 0.867 → 0.877,
facts 0.865 → 0.881 (``docs/router.md``).

What ships: the bank row of each labelled question, whether the model was right and — for the
answer features — its answer, normalised, only when the history holds it at least twice or it
is one of the bank's shared gold answers ("france", "blue", "yes"; a one-off sentence that could
quote a third-party question is stored empty and matches nothing). Per model (the bank is
shared). Fitting computes each training row's values leave-one-out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgesdk.routing.neighbours import AnswerBank, _b64, _top, _unb64
from edgesdk.routing.peer import AnswerMatcher
from edgesdk.textnorm import normalise

OWN_FEATURES = ("own_rate", "own_precision", "own_count")
"""This answer among the model's own answers to similar questions: share, precision, count."""
DEFAULT_HISTORY_K = 20
PRECISION_SMOOTHING = 2.0
"""Pseudo-answers at the neighbours' accuracy in ``own_precision``: one lucky match is not 100%."""
MIN_SHARED_ANSWER = 2


@dataclass(frozen=True, kw_only=True)
class AnswerHistory:
    """The answer-bank rows of the questions the model answered when it was calibrated, and
    whether it was right on each."""

    rows: tuple[int, ...]
    right: tuple[bool, ...]
    k: int = DEFAULT_HISTORY_K
    answers: tuple[str, ...] = ()
    """The model's normalised answer per row ("" when not kept: see the module docstring);
    empty in files fitted before the answer features (then ``own`` is unavailable)."""

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.right):
            raise ValueError(f"answer history: {len(self.rows)} rows but {len(self.right)} "
                             "labels")
        if self.answers and len(self.answers) != len(self.rows):
            raise ValueError(f"answer history: {len(self.rows)} rows but {len(self.answers)} "
                             "answers")
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

    @property
    def has_answers(self) -> bool:
        return bool(self.answers)

    def _near(self, sims: NDArray[Any], exclude_row: int | None
              ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """The ``k`` most similar answered questions (``sims``: one per history row) and their
        weights."""
        if exclude_row is not None:
            sims = np.where(self._rows == exclude_row, -np.inf, sims)
        k = min(self.k, int(np.isfinite(sims).sum()))
        if k <= 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        near = _top(sims, k)
        return near, np.maximum(sims[near], 0.0).astype(np.float64) + 1e-6

    def own(self, bank_sims: NDArray[Any], question: str, answer: str, *,
            exclude_row: int | None = None) -> dict[str, float]:
        """``OWN_FEATURES`` of ``answer`` to ``question``: among the ``k`` most similar
        answered questions, the similarity-weighted share where the model gave an answer that
        agrees with this one (``peer.AnswerMatcher``), its smoothed precision on those, and
        log1p of their number. ``bank_sims``: the question's similarity to every bank row
        (``AnswerBank.similarities``, which the bank's own signals compute anyway). ``nan``
        without stored answers or neighbours (fail safe)."""
        near, weights = self._near(np.asarray(bank_sims)[self._rows], exclude_row)
        if not self.answers or not len(near):
            return dict.fromkeys(OWN_FEATURES, math.nan)
        match = AnswerMatcher(question, answer)
        answers = self.answers
        same = np.array([bool(answers[i]) and match.agrees(answers[i]) for i in near.tolist()],
                        dtype=np.float64)
        right = self._right[near]
        accuracy = float((right * weights).sum() / weights.sum())
        hits = same * weights
        precision = ((hits * right).sum() + PRECISION_SMOOTHING * accuracy) / (
            hits.sum() + PRECISION_SMOOTHING)
        return {"own_rate": float(hits.sum() / weights.sum()),
                "own_precision": float(precision), "own_count": math.log1p(float(same.sum()))}

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "rows": _b64(np.asarray(self.rows, dtype=np.int32)),
                "right": "".join("1" if r else "0" for r in self.right),
                "answers": list(self.answers)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AnswerHistory:
        right = str(d["right"])
        if set(right) - {"0", "1"}:
            raise ValueError("answer history: labels must be a string of 0 and 1")
        rows = _unb64(str(d["rows"]), np.int32, (-1,))
        return cls(rows=tuple(int(r) for r in rows), right=tuple(c == "1" for c in right),
                   k=int(d["k"]), answers=tuple(str(a) for a in d.get("answers", ())))


def shareable_answers(answers: Sequence[str], bank: AnswerBank) -> tuple[str, ...]:
    """Each answer normalised, or "" unless it occurs ``MIN_SHARED_ANSWER`` times in
    ``answers`` or is one of the bank's stored gold answers (what may ship: see above)."""
    norm = [normalise(a) for a in answers]
    counts = Counter(norm)
    golds = bank.answer_count
    return tuple(a if a and (counts[a] >= MIN_SHARED_ANSWER or a in golds) else ""
                 for a in norm)
