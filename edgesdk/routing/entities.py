"""Related questions by rare words: what the answer bank knows about this question's entity.

The neighbour features (``neighbours.py``) compare questions by their whole wording, which is
mostly the relation (*The country of citizenship of …*). Whether a tiny model is right depends
as much on the *entity*: Gemma 3 270M knows that Haiphong is in Vietnam and guesses Germany
for the Austrian Heinrich Mache, with the same token confidence. Labelled questions that share
a rare word with this one ("haiphong", "mache") are mostly about the same entity, so

- ``rare_related``: how many of them there are (log1p) says how well known the entity is, and
- ``rare_hit``: an answer that is a gold answer of one of them (*Haiphong is located in*
  → "Vietnam", from *The country of Haiphong is*) is probably right, the more so the rarer
  that answer is in the bank: ``log(n / questions with it) / 10``, 0 without a hit.

Measured on the fitting data (5-fold CV, train+dev): Gemma 0.871 → 0.881 AUROC, SmolLM2
0.866 → 0.871; the held-out fact AUROC of Gemma 0.859 → 0.873 (``docs/router.md``). Word
frequencies from a general corpus (``wordfreq``) as an entity-popularity signal added nothing.

What ships: the blake2b hash (uint64) of every word that occurs in at most ``MAX_DF`` bank
questions, and the rows of those questions (CSR arrays), never the words. A lookup is a
``searchsorted`` per question word and at most ``MAX_DF`` rows per word: ~0.05 ms.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ENTITY_FEATURES = ("rare_related", "rare_hit")
MAX_DF = 30
"""A word in more bank questions than this names a relation or a common thing, not an
entity (chosen on CV: 10 loses ~0.005, 100 gains nothing)."""
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased ``\\w+`` words, in order (the answer bank's one tokenisation)."""
    return [w.lower() for w in _WORD.findall(text)]


def word_key(word: str) -> int:
    """The stable 64-bit key of a word or word pair (blake2b: unlike ``hash()``, the same in
    every process; also what ``HashedWords`` hashes)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(),
                          "little")


def question_keys(question: str) -> NDArray[np.uint64]:
    return np.array(sorted({word_key(w) for w in words(question)}), dtype=np.uint64)


@dataclass(frozen=True, kw_only=True, eq=False)
class RareWordIndex:
    """Rare word (hashed) → the bank rows whose question contains it."""

    keys: NDArray[np.uint64]
    """Sorted, unique."""
    offsets: NDArray[np.int32]
    """``rows[offsets[i]:offsets[i + 1]]`` are the rows of ``keys[i]``."""
    rows: NDArray[np.int32]

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.keys) + 1 or int(self.offsets[-1]) != len(self.rows):
            raise ValueError("rare-word index: offsets do not match keys and rows")

    @classmethod
    def build(cls, questions: Sequence[str], *, max_df: int = MAX_DF) -> RareWordIndex:
        postings: dict[int, list[int]] = {}
        for row, question in enumerate(questions):
            for key in question_keys(question).tolist():
                postings.setdefault(key, []).append(row)
        rare = sorted(k for k, rows in postings.items() if len(rows) <= max_df)
        offsets = np.cumsum([0, *(len(postings[k]) for k in rare)]).astype(np.int32)
        rows = np.array([r for k in rare for r in postings[k]], dtype=np.int32)
        return cls(keys=np.array(rare, dtype=np.uint64), offsets=offsets, rows=rows)

    def related(self, question: str, *, exclude: int | None = None) -> NDArray[np.int32]:
        """The distinct rows sharing a rare word with ``question`` (never ``exclude``)."""
        wanted = question_keys(question)
        if not len(self.keys) or not len(wanted):
            return np.zeros(0, dtype=np.int32)
        at = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        found = at[self.keys[at] == wanted]
        if not len(found):
            return np.zeros(0, dtype=np.int32)
        rows = np.unique(np.concatenate([self.rows[self.offsets[i]:self.offsets[i + 1]]
                                         for i in found]))
        return rows[rows != exclude] if exclude is not None else rows

    def parts(self) -> tuple[NDArray[np.uint64], NDArray[np.int32], NDArray[np.int32]]:
        """What is stored and hashed into the bank's digest."""
        return self.keys, self.offsets, self.rows


def entity_features(related: NDArray[np.int32], hits: Sequence[str], *,
                    answer_count: dict[str, int], n: int) -> dict[str, float]:
    """``hits``: the gold answers of ``related`` rows that the device's answer matches."""
    rarity = max((math.log(n / max(1, answer_count.get(g, 1))) for g in hits), default=0.0)
    return {"rare_related": math.log1p(len(related)), "rare_hit": rarity / 10.0}
