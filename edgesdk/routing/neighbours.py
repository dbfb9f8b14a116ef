"""Answer neighbours: how often is this answer the right one for labelled questions like this?

A tiny model's token probabilities cannot tell "piano" for *The instrument of Philip Glass is*
(right: most instrument questions are piano or guitar) from "Denmark" for *The country of
citizenship of Niels Henrik Abel is* (wrong, and as sure). Labelled questions can: among the
k most similar of them (cosine over question vectors), what share have the device's answer
among their gold answers? A common answer for this kind of question is right far more often
than a rare one. On BIG-bench's templated facts this lifted SmolLM2's fact AUROC from 0.76 to
0.94 and Gemma's from 0.81 to 0.86. On TriviaQA, whose questions rarely share answers, the
whole router ranks facts about as well as the minimum token log-prob alone (SmolLM2 0.69 vs
0.67, Gemma 0.79 vs 0.82; ``docs/MEASUREMENTS.md``, 2026-12-06).

The bank needs questions and gold answers only, not generations, so it holds every labelled
question outside the test buckets (13.2k since the 2026-12-06 data;
``scripts/build_datasets.py`` → ``pool.jsonl``), one row per distinct question text. What
ships: the question vectors projected to 64 dimensions (PCA, float16 basis) and quantised to
int8, never the text, and per question only the gold answers at least two questions share
("english", "piano", "germany"), plus the hashed rare words of the questions (``entities.py``:
same-entity questions). Large banks go to one ``.npz`` shared by the calibrations with the same
question vectors (``calibrate.save``), checked by content digest when loaded. Fitting computes
each training row's features leave-one-out (the row of the same question text is never its own
neighbour).

Question vectors: a sentence embedding (``local/embed.py``) — the shipped calibrations use
MiniLM-L6 for Gemma and the smaller paraphrase-MiniLM-L3 for SmolLM2, whose watch cannot hold
L6 (``docs/router.md``) — or ``HashedWords``, built in and free of memory. Matching uses the
peer module's rule (``peer.AnswerMatcher``: the evaluation's normalisation, same number /
yes-no / whole-word containment), so "The instrument of Philip Glass is the piano" hits "piano".
Cost per decision: a 13.2k × 64 float32 scan, an exact top-k (``_top``) and ≤ k string matches:
~0.25 ms.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgesdk.routing.entities import (
    ENTITY_FEATURES,
    MAX_DF,
    RareWordIndex,
    entity_features,
    word_key,
    words,
)
from edgesdk.routing.peer import AnswerMatcher
from edgesdk.textnorm import CJK, normalise

NEIGHBOUR_FEATURES = ("nb_rate", "nb_wrate", "nb_sim", "nb_any", "nb_top_hit", "nb_top_sim")
"""Share of the k nearest labelled questions whose gold answers include the device's answer,
the same weighted by cosine similarity, the mean similarity of those neighbours; whether any of
them has the answer, whether the nearest one does, and how near it is."""
BANK_FEATURES = (*NEIGHBOUR_FEATURES, *ENTITY_FEATURES)
"""Everything a bank adds to a request's signals (``entities.py`` for the ``rare_*`` ones)."""
DEFAULT_K = 40
DEFAULT_DIM = 64
MIN_SHARED = 2
TOP_FLOORS = (0.7, 0.5, 0.3)
HASHED_ID = "hashed-words-v1"
"""The built-in question representation (``HashedWords``): no model, no memory, ~20 µs."""
HASHED_DIM = 512

FloatArray = NDArray[np.float64]


class HashedWords:
    """Signed feature hashing of a question's lower-cased words, word pairs and Chinese
    characters into 512 dimensions, L2-normalised.

    No model and no memory: what ``edgesdk router fit --bank-embedder hashed`` fits, for a
    device that cannot spare the ~100 MB of MiniLM-L3 (or ~160 MB of L6). It reads wording
    (*The instrument of …*) but not paraphrase, which is what the sentence embeddings add: with
    the whole pool, CV AUROC Gemma 0.889 → 0.891 (facts 0.872 → 0.888) with L6, SmolLM2 0.889 →
    0.897 with L3 (``docs/router.md``). blake2b, not ``hash()``: the vectors must not change
    between processes.
    """

    model_id = HASHED_ID
    dim = HASHED_DIM

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(out, texts, strict=True):
            tokens = words(text)
            grams = [*tokens, *(f"{a} {b}" for a, b in itertools.pairwise(tokens)),
                     *CJK.findall(text)]
            for gram in grams:
                h = word_key(gram)
                row[h % self.dim] += 1.0 if (h >> 40) & 1 else -1.0
            norm = float(np.linalg.norm(row))
            if norm > 0:
                row /= norm
        return out


def _b64(array: NDArray[Any]) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _unb64(text: str, dtype: type, shape: tuple[int, ...]) -> NDArray[Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(shape)


@dataclass(frozen=True, kw_only=True, eq=False)
class AnswerBank:
    """Projected labelled-question embeddings with their shared gold answers."""

    embedder_id: str
    """The sentence-embedding model the vectors come from (the catalog id)."""
    mean: FloatArray
    basis: FloatArray
    """``[embedding_dim, dim]``: centred embedding @ basis → the stored space."""
    vectors: NDArray[np.float32]
    """``[n, dim]`` unit rows (dequantised from int8; float32 halves the scan)."""
    answers: tuple[tuple[str, ...], ...]
    entities: RareWordIndex
    """Rows by the rare words of their questions (``entities.py``)."""
    k: int = DEFAULT_K
    file: str | None = None
    """Set when the bank lives in its own ``.npz`` beside the calibration (large banks are
    shared by every model's calibration fitted on the same labelled questions)."""

    def __post_init__(self) -> None:
        rows = self.entities.rows
        if len(self.vectors) != len(self.answers) or (len(rows) and (
                int(rows.min()) < 0 or int(rows.max()) >= len(self.answers))):
            raise ValueError(f"answer bank: {len(self.vectors)} vectors, {len(self.answers)} "
                             "answer lists and a rare-word index that must point into them")

    def project(self, embedding: Sequence[float] | NDArray[Any]) -> FloatArray:
        z = (np.asarray(embedding, dtype=np.float64) - self.mean) @ self.basis
        norm = float(np.linalg.norm(z))
        return z / norm if norm > 0 else z

    def similarities(self, embedding: Sequence[float] | NDArray[Any]) -> NDArray[np.float32]:
        """Cosine similarity of a question (its embedding) to every bank row."""
        return self.vectors @ self.project(embedding).astype(np.float32)

    def features(self, embedding: Sequence[float] | NDArray[Any], question: str, answer: str,
                 *, exclude: int | None = None, sims: NDArray[np.float32] | None = None
                 ) -> dict[str, float]:
        """The neighbour and entity signals of ``answer`` to ``question`` (``exclude``: a
        bank row that is this very question, left out when fitting; ``sims``: its
        ``similarities``, when the caller has them already)."""
        sims = self.similarities(embedding) if sims is None else sims.copy()
        if exclude is not None:
            sims[exclude] = -np.inf
        k = min(self.k, len(sims) - (exclude is not None))
        if k <= 0 or not answer.strip():
            return dict.fromkeys(BANK_FEATURES, 0.0)
        near = _top(sims, k)
        match = AnswerMatcher(question, answer)
        hits = np.array([float(any(match.agrees(g) for g in self.answers[i])) for i in near])
        weights = np.maximum(sims[near], 0.0)
        total = float(weights.sum())
        nearest = int(np.argmax(sims[near]))
        related = self.entities.related(question, exclude=exclude)
        related_hits = [g for i in related.tolist() for g in self.answers[i] if match.agrees(g)]
        return {"nb_rate": float(hits.mean()),
                "nb_wrate": float((hits * weights).sum() / total) if total > 0 else 0.0,
                "nb_sim": float(sims[near].mean()), "nb_any": float(hits.max()),
                "nb_top_hit": float(hits[nearest]), "nb_top_sim": float(sims[near][nearest]),
                **entity_features(related, related_hits, answer_count=self.answer_count,
                                  n=len(self.answers))}

    @cached_property
    def answer_count(self) -> dict[str, int]:
        """How many bank questions have each stored answer."""
        return dict(Counter(a for answers in self.answers for a in answers))

    def _int8(self) -> NDArray[np.int8]:
        return np.clip(np.round(self.vectors * 127.0), -127, 127).astype(np.int8)

    def digest(self) -> str:
        """sha256 of what the bank holds (not of a file: npz bytes carry timestamps)."""
        h = hashlib.sha256()
        h.update(f"{self.embedder_id}|{self.k}|".encode())
        parts: list[NDArray[Any]] = [self.mean.astype(np.float32),
                                     self.basis.astype(np.float16), self._int8()]
        for part in parts:
            h.update(np.ascontiguousarray(part).tobytes())
        h.update("\n".join("\t".join(a) for a in self.answers).encode("utf-8"))
        for part in self.entities.parts():
            h.update(np.ascontiguousarray(part).tobytes())
        return h.hexdigest()

    def save_npz(self, path: Path) -> None:
        vocab = sorted({a for answers in self.answers for a in answers})
        index = {a: i for i, a in enumerate(vocab)}
        offsets = np.cumsum([0, *(len(a) for a in self.answers)]).astype(np.int32)
        flat = np.array([index[a] for answers in self.answers for a in answers], dtype=np.int32)
        with path.open("wb") as fh:
            np.savez_compressed(fh, embedder_id=np.array(self.embedder_id), k=np.array(self.k),
                                mean=self.mean.astype(np.float32),
                                basis=self.basis.astype(np.float16), vectors=self._int8(),
                                vocab=np.array(vocab, dtype=str), offsets=offsets, flat=flat,
                                ent_keys=self.entities.keys, ent_offsets=self.entities.offsets,
                                ent_rows=self.entities.rows)

    @classmethod
    def load_npz(cls, path: Path) -> AnswerBank:
        with np.load(path, allow_pickle=False) as z:
            vocab = [str(v) for v in z["vocab"]]
            offsets, flat = z["offsets"], z["flat"]
            answers = tuple(tuple(vocab[j] for j in flat[offsets[i]:offsets[i + 1]])
                            for i in range(len(offsets) - 1))
            return cls(embedder_id=str(z["embedder_id"]), k=int(z["k"]),
                       mean=z["mean"].astype(np.float64), basis=z["basis"].astype(np.float64),
                       vectors=(z["vectors"] / np.float32(127.0)).astype(np.float32),
                       answers=answers, entities=_index(z, path.name), file=path.name)

    def to_dict(self) -> dict[str, Any]:
        q = self._int8()
        return {"embedder_id": self.embedder_id, "k": self.k, "n": int(self.vectors.shape[0]),
                "dim": int(self.basis.shape[1]), "embedding_dim": int(self.basis.shape[0]),
                "mean": _b64(self.mean.astype(np.float32)),
                "basis": _b64(self.basis.astype(np.float16)),
                "vectors": _b64(q), "answers": [list(a) for a in self.answers],
                "ent_keys": _b64(self.entities.keys), "ent_offsets": _b64(self.entities.offsets),
                "ent_rows": _b64(self.entities.rows)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AnswerBank:
        n, dim, edim = int(d["n"]), int(d["dim"]), int(d["embedding_dim"])
        answers = tuple(tuple(str(x) for x in a) for a in d["answers"])
        if len(answers) != n:
            raise ValueError(f"answer bank has {n} vectors but {len(answers)} answer lists")
        if "ent_keys" not in d:
            raise ValueError("answer bank has no rare-word index (fitted by an older edgesdk)")
        keys = _unb64(d["ent_keys"], np.uint64, (-1,))
        entities = RareWordIndex(keys=keys, offsets=_unb64(d["ent_offsets"], np.int32, (-1,)),
                                 rows=_unb64(d["ent_rows"], np.int32, (-1,)))
        return cls(embedder_id=str(d["embedder_id"]), k=int(d["k"]),
                   mean=_unb64(d["mean"], np.float32, (edim,)).astype(np.float64),
                   basis=_unb64(d["basis"], np.float16, (edim, dim)).astype(np.float64),
                   vectors=(_unb64(d["vectors"], np.int8, (n, dim)) / np.float32(127.0)
                            ).astype(np.float32),
                   answers=answers, entities=entities)


def _index(z: Any, name: str) -> RareWordIndex:
    if "ent_keys" not in z:
        raise ValueError(f"answer bank {name} has no rare-word index (fitted by an older "
                         "edgesdk)")
    return RareWordIndex(keys=z["ent_keys"].astype(np.uint64),
                         offsets=z["ent_offsets"].astype(np.int32),
                         rows=z["ent_rows"].astype(np.int32))


def _top(sims: NDArray[Any], k: int) -> NDArray[np.intp]:
    """Indices of the ``k`` largest similarities (unordered). Exact: a full argpartition over
    17k rows costs ~0.17 ms, so first try the few rows above a similarity floor, which hold
    the top k whenever there are at least k of them."""
    for floor in TOP_FLOORS:
        above = np.flatnonzero(sims >= floor)
        if len(above) >= k:
            if len(above) == k:
                return above
            return above[np.argpartition(-sims[above], k - 1)[:k]]
    return np.argpartition(-sims, k - 1)[:k]


def fit_bank(questions: Sequence[str], embeddings: Sequence[Sequence[float]] | NDArray[Any],
             answers: Sequence[Sequence[str]], *, embedder_id: str, dim: int = DEFAULT_DIM,
             k: int = DEFAULT_K, min_shared: int = MIN_SHARED, max_df: int = MAX_DF
             ) -> AnswerBank:
    """A bank from labelled questions, their embeddings and gold answers (one row each);
    ``max_df``: see ``entities.MAX_DF``."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or not len(questions) == len(x) == len(answers) or len(x) < 2:
        raise ValueError("fit_bank needs one question, one embedding row and one answer list "
                         "per labelled question, and at least two questions")
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = vt[:min(dim, vt.shape[0])].T.astype(np.float16).astype(np.float64)
    z = (x - mean) @ basis
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    z = (np.clip(np.round(z * 127.0), -127, 127) / 127.0).astype(np.float32)  # as stored
    count = Counter(a for golds in answers for a in {normalise(g) for g in golds if g.strip()})
    kept = tuple(tuple(sorted({normalise(g) for g in golds if g.strip()
                               and count[normalise(g)] >= min_shared})) for golds in answers)
    return AnswerBank(embedder_id=embedder_id, mean=mean.astype(np.float32).astype(np.float64),
                      basis=basis, vectors=z, answers=kept,
                      entities=RareWordIndex.build(questions, max_df=max_df), k=k)
