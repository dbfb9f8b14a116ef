"""Generic signal ``evidence``: what the local generation itself says about its answer.

Per-token log-prob statistics (mean, min, 10th percentile, first token, sum), entropy and
top-1/top-2 margin statistics, length, truncation, repetition, how much of the answer was
copied from the question, and the answer's shape (number, yes/no, empty, Chinese). They exist
for every generated answer, whatever the question or its source, which is why the base scorer
is built on them: on questions from sources the router never saw, the minimum token log-prob
alone is the baseline every fit must beat (``scripts/loso.py``).

Plain Python over a few dozen floats: microseconds. ``nan`` where the generation says nothing
(no tokens, non-finite evidence); the router fails safe on the ``REQUIRED`` ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from edgesdk.routing.kinds import NUMBER, WORD, YES_WORDS
from edgesdk.routing.signal import BaseSignal, Request, register
from edgesdk.textnorm import CJK
from edgesdk.types import Generation

FEATURES = ("lp_mean", "lp_min", "lp_p10", "lp_first", "lp_sum", "ent_mean", "ent_max",
            "ent_first", "mg_mean", "mg_min", "mg_first", "n_tokens", "truncated", "empty",
            "rep_ratio", "copy_ratio", "ans_number", "ans_yesno", "ans_words", "ans_zh",
            "ans_number_in_q")
REQUIRED = ("lp_mean", "lp_min", "ent_mean", "mg_mean")
"""Without these the combiner's score is meaningless (→ fail safe)."""


def _pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def generation_features(question: str, generation: Generation | None) -> dict[str, float]:
    """The ``FEATURES`` of one generation; ``nan`` where it says nothing."""
    if generation is None:
        return dict.fromkeys(FEATURES, math.nan)
    ev = generation.evidence
    lps, ents, mgs = list(ev.logprobs), list(ev.entropies), list(ev.margins)
    text = generation.text.strip()
    if not lps or not all(math.isfinite(v) for v in (*lps, *ents, *mgs)):
        feats = dict.fromkeys(FEATURES, math.nan)
        feats["empty"] = float(not text)
        return feats
    ans_words = [w.lower() for w in WORD.findall(text)]
    q_words = {w.lower() for w in WORD.findall(question)}
    first = ans_words[0] if ans_words else ""
    ans_numbers = NUMBER.findall(text)
    return {
        "lp_mean": _mean(lps), "lp_min": min(lps), "lp_p10": _pct(lps, 0.1),
        "lp_first": lps[0], "lp_sum": max(sum(lps), -30.0),
        "ent_mean": _mean(ents) if ents else math.nan,
        "ent_max": max(ents) if ents else math.nan,
        "ent_first": ents[0] if ents else math.nan,
        "mg_mean": _mean(mgs) if mgs else math.nan,
        "mg_min": min(mgs) if mgs else math.nan,
        "mg_first": mgs[0] if mgs else math.nan,
        "n_tokens": math.log1p(len(lps)),
        "truncated": float(generation.finish_reason in ("length", "deadline")),
        "empty": float(not text),
        "rep_ratio": 1.0 - len(set(ans_words)) / len(ans_words) if ans_words else 0.0,
        "copy_ratio": (sum(1 for w in ans_words if w in q_words) / len(ans_words)
                       if ans_words else 0.0),
        "ans_number": float(bool(ans_numbers)),
        "ans_yesno": float(first in YES_WORDS or text[:1] in YES_WORDS),
        "ans_words": math.log1p(len(ans_words)),
        "ans_zh": float(bool(CJK.search(text))),
        "ans_number_in_q": float(bool(ans_numbers)
                                 and ans_numbers[-1] in set(NUMBER.findall(question))),
    }


@register
class EvidenceSignal(BaseSignal):
    name: ClassVar[str] = "evidence"
    names: ClassVar[tuple[str, ...]] = FEATURES

    def compute(self, request: Request, why: list[str]) -> dict[str, float]:
        feats = generation_features(request.question, request.generation)
        if math.isfinite(feats["lp_min"]):
            why.append(f"min token log-prob {feats['lp_min']:.2f}")
        return feats
