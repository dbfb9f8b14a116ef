"""Lookup signal ``neighbours``: labelled questions like this one, gated by how alike they are.

Among the labelled questions most similar to this one (the answer bank, ``routing/
neighbours.py``), how often is the device's answer a right one, and how often was this model
right when it gave it (its own record, ``routing/history.py``)? On questions from the bank's
own sources this is strong evidence (a common answer for a quiz template is right far more
often than a rare one). On a user's question it is not: the nearest labelled questions are
about something else, and their statistics are noise the scorer would read as knowledge. That
is what made the first router worse than one log-prob statistic on real search questions.

So every feature is multiplied by ``nb_near``, the closeness of the question to the bank: 0
below the ``GATE`` lower similarity, 1 above the upper one, linear between, and ``nb_near`` is
a feature too. The scorer leaves these columns uncentred (``scorer.py``), so far from the
labelled data the lookup adds exactly nothing and the generic signals decide. Closeness is the
mean cosine similarity of the ``k`` nearest bank questions (robust to one lucky match); the
thresholds are quantiles of the training questions' own closeness (leave-one-out), stored in
the calibration.

Cost per decision: the question's embedding (computed once in ``prepare``, before the local
model generates), a 13k × 64 scan and ≤ k string matches: ~0.3 ms.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgesdk.errors import CalibrationError
from edgesdk.protocols import Embedder
from edgesdk.routing.history import OWN_FEATURES, AnswerHistory, shareable_answers
from edgesdk.routing.neighbours import BANK_FEATURES, HASHED_ID, AnswerBank, HashedWords, fit_bank
from edgesdk.routing.signal import (
    BaseSignal,
    FitData,
    LabelledRow,
    Request,
    Role,
    RunTime,
    register,
)
from edgesdk.textnorm import question_key

GATE_QUANTILES = (0.25, 0.75)
"""The training questions' closeness quantiles where the gate opens and where it is fully open."""
NEAR = "nb_near"
GATED = (*BANK_FEATURES, *OWN_FEATURES)
FEATURES = (NEAR, *GATED)
INLINE_BANK_MAX = 2000
"""Banks up to this many questions stay inside the calibration JSON; larger ones go to one
``.npz`` beside it, named by content digest and shared by every model's calibration."""
VECTOR_CACHE = 64


def bank_embedder(embedder_id: str) -> Embedder:
    """The question representation a bank was fitted with. A model-backed one is loaded once
    per process and shared (MiniLM holds ~160 MB; its sessions are thread-safe)."""
    if embedder_id == HASHED_ID:
        return HashedWords()
    from edgesdk.local.embed import HIDDEN_OUTPUT

    if embedder_id in HIDDEN_OUTPUT:
        return _shared_minilm(embedder_id)
    raise CalibrationError(f"the calibration's answer bank was fitted with the question "
                           f"embedder '{embedder_id}', which this edgesdk does not know; refit "
                           "with: edgesdk router fit ... --bank-embedder hashed")


@cache
def _shared_minilm(model_id: str) -> Embedder:
    from edgesdk.local.embed import MiniLMEmbedder

    return MiniLMEmbedder.load(threads=1, model_id=model_id)


def gate(closeness: float, low: float, high: float) -> float:
    if not math.isfinite(closeness):
        return math.nan
    return float(min(1.0, max(0.0, (closeness - low) / max(high - low, 1e-6))))


@register
class NeighbourSignal(BaseSignal):
    name: ClassVar[str] = "neighbours"
    role: ClassVar[Role] = "lookup"
    names: ClassVar[tuple[str, ...]] = FEATURES

    def __init__(self, *, bank: AnswerBank, history: AnswerHistory | None, low: float,
                 high: float, embedder: Embedder | None = None) -> None:
        if history is not None:
            history.check(bank)
        self.bank, self.history, self.low, self.high = bank, history, low, high
        self._embedder = embedder
        self._embedder_error: Exception | None = None
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def embedder_id(self) -> str:
        return self.bank.embedder_id

    def vector(self, question: str) -> Any:
        """The question's embedding (kept for the last ``VECTOR_CACHE`` questions). Raises if
        the embedder cannot load or run; it is not retried after failing to load."""
        with self._lock:
            if question in self._vectors:
                self._vectors.move_to_end(question)
                return self._vectors[question]
            if self._embedder is None:
                if self._embedder_error is not None:
                    raise self._embedder_error
                try:
                    self._embedder = bank_embedder(self.bank.embedder_id)
                except Exception as exc:
                    self._embedder_error = exc
                    raise
            vector = np.asarray(self._embedder.embed([question]), dtype=np.float64)[0]
            self._vectors[question] = vector
            if len(self._vectors) > VECTOR_CACHE:
                self._vectors.popitem(last=False)
            return vector

    def prepare(self, request: Request) -> None:
        self.vector(request.question)

    def compute(self, request: Request, why: list[str]) -> dict[str, float]:
        try:
            vector = self.vector(request.question)
        except Exception as exc:  # a missing embedder fails safe, it does not crash routing
            why.append(f"question embedding unavailable ({type(exc).__name__}: {exc})")
            return dict.fromkeys(FEATURES, math.nan)
        sims = self.bank.similarities(vector)
        raw = self.bank.features(vector, request.question, request.answer, sims=sims)
        if self.history is not None and self.history.has_answers:
            raw.update(self.history.own(sims, request.question, request.answer))
        return self._gated(raw, why)

    def _gated(self, raw: Mapping[str, float], why: list[str]) -> dict[str, float]:
        near = gate(raw["nb_sim"], self.low, self.high)
        feats = {NEAR: near}
        for name in GATED:
            value = raw.get(name, math.nan)
            # a value the data cannot give (a history stored without answers) is no evidence
            # either way, like one far from the data: exactly 0
            feats[name] = near * value if near > 0.0 and math.isfinite(value) else 0.0
        if near > 0:
            why.append(f"near labelled questions ({near:.2f}): the answer is right for "
                       f"{raw['nb_rate']:.0%} of them")
        else:
            why.append("far from the labelled questions: generic signals only")
        return feats

    def state(self) -> dict[str, Any]:
        bank = self.bank
        return {"low": self.low, "high": self.high,
                "bank": (bank.to_dict() if bank.file is None and len(bank.answers)
                         <= INLINE_BANK_MAX else {"file": self._file_name(),
                                                  "sha256": bank.digest()}),
                "history": None if self.history is None else self.history.to_dict()}

    def _file_name(self) -> str:
        return f"answer-bank-{self.bank.digest()[:12]}.npz"

    def save_files(self, directory: Path) -> None:
        if self.bank.file is None and len(self.bank.answers) <= INLINE_BANK_MAX:
            return
        from edgesdk.routing.calibration import CALIBRATION_DIR

        name = self._file_name()
        if not (directory / name).exists() and not (CALIBRATION_DIR / name).exists():
            self.bank.save_npz(directory / name)

    @classmethod
    def from_state(cls, state: Mapping[str, Any], runtime: RunTime) -> NeighbourSignal:
        d = state["bank"]
        bank = AnswerBank.from_dict(d) if "file" not in d else _bank_file(d, runtime.dirs)
        history = AnswerHistory.from_dict(state["history"]) if state.get("history") else None
        if runtime.embedder is not None and getattr(runtime.embedder, "model_id",
                                                    bank.embedder_id) != bank.embedder_id:
            raise ValueError(f"its answer bank was fitted with '{bank.embedder_id}', the given "
                             f"embedder is '{runtime.embedder.model_id}'")  # type: ignore[attr-defined]
        return cls(bank=bank, history=history, low=float(state["low"]),
                   high=float(state["high"]), embedder=runtime.embedder)

    @classmethod
    def fit(cls, data: FitData) -> tuple[NeighbourSignal, list[dict[str, float]]]:
        if data.embed is None or not data.embedder_id:
            raise ValueError("the neighbours signal needs a question embedder (--bank-embedder)")
        bank, positions, vectors = _fit_bank(data.rows, data.llm_rows, embed=data.embed,
                                             embedder_id=data.embedder_id, pool=data.bank_pool)
        history = _history(bank, data.llm_rows, positions)
        raws = []
        for row, p, v in zip(data.llm_rows, positions, vectors, strict=True):
            answer = row.generation.text if row.generation is not None else ""
            sims = bank.similarities(v)
            raw = bank.features(v, row.question, answer, exclude=p, sims=sims)
            raw.update(history.own(sims, row.question, answer, exclude_row=p))
            raws.append(raw)
        closeness = np.array([r["nb_sim"] for r in raws])
        low, high = (float(np.quantile(closeness, q)) for q in GATE_QUANTILES)
        # a freshly fitted calibration embeds questions as it was fitted; a loaded one gets
        # its embedder from the run time, or loads the one its bank names
        signal = cls(bank=bank, history=history, low=low, high=high,
                     embedder=_FitEmbedder(data.embed, data.embedder_id))
        return signal, [signal._gated(r, []) for r in raws]


class _FitEmbedder:
    def __init__(self, embed: Callable[[Sequence[str]], Any], model_id: str) -> None:
        self.embed, self.model_id = embed, model_id
        self.dim = 0


def _bank_file(d: Mapping[str, Any], dirs: Sequence[Path]) -> AnswerBank:
    found = next((p / d["file"] for p in dirs if (p / d["file"]).exists()), None)
    if found is None:
        raise ValueError(f"its answer bank {d['file']} is missing (looked in "
                         f"{', '.join(str(p) for p in dirs) or 'nowhere'})")
    stat = found.stat()
    return _load_bank(found.resolve(), stat.st_mtime_ns, stat.st_size, str(d["sha256"]))


@lru_cache(maxsize=4)
def _load_bank(path: Path, mtime_ns: int, size: int, sha256: str) -> AnswerBank:
    """One read (~60 ms) per bank file and version: every model's calibration shares the
    bank, so a second router, or a reloaded one, reuses it (nothing mutates a bank)."""
    bank = AnswerBank.load_npz(path)
    digest = bank.digest()
    if digest != sha256:
        raise ValueError(f"its answer bank {path} does not match (sha256 of the content "
                         f"{digest[:12]}…, expected {sha256[:12]}…)")
    return bank


def _bank_question(row: LabelledRow) -> str:
    return row.same_as or row.question


def _fit_bank(rows: Sequence[LabelledRow], llm: Sequence[LabelledRow], *,
              embed: Callable[[Sequence[str]], Any], embedder_id: str,
              pool: Sequence[tuple[str, Sequence[str]]],
              ) -> tuple[AnswerBank, list[int | None], list[Any]]:
    """The bank over every labelled question (one row per distinct text, gold answers merged;
    a rewording shares its ``same_as`` question's row), each LLM row's bank row (``None``
    without gold answers: then nothing is left out) and its own vector."""
    golds: dict[str, tuple[str, set[str]]] = {}
    for question, answers in [*((_bank_question(r), r.answers) for r in rows), *pool]:
        if answers:
            key = question_key(question)
            golds.setdefault(key, (question, set()))[1].update(a for a in answers if a.strip())
    if len(golds) < 50:
        raise CalibrationError(f"only {len(golds)} labelled questions carry gold answers; the "
                               "answer bank needs at least 50 (answers or a bank pool)")
    keys = list(golds)
    vectors = np.asarray(embed([golds[k][0] for k in keys]), dtype=np.float64)
    bank = fit_bank([golds[k][0] for k in keys], vectors, [sorted(golds[k][1]) for k in keys],
                    embedder_id=embedder_id)
    position = {k: i for i, k in enumerate(keys)}
    missing = [r.question for r in llm if r.same_as or question_key(r.question) not in position]
    extra = (dict(zip(missing, np.asarray(embed(missing), dtype=np.float64), strict=True))
             if missing else {})
    positions: list[int | None] = []
    own: list[Any] = []
    for r in llm:
        i = position.get(question_key(_bank_question(r)))
        positions.append(i)
        own.append(extra[r.question] if r.same_as or i is None else vectors[i])
    return bank, positions, own


def _history(bank: AnswerBank, llm: Sequence[LabelledRow], positions: Sequence[int | None]
             ) -> AnswerHistory:
    kept = [(p, r) for r, p in zip(llm, positions, strict=True) if p is not None]
    answers = shareable_answers([r.generation.text if r.generation else "" for _, r in kept],
                                bank)
    return AnswerHistory(rows=tuple(p for p, _ in kept), right=tuple(r.correct for _, r in kept),
                         answers=answers)
