"""Optional costlier signal: does a second local model give the same answer?

Two tiny models trained on different data are wrong in different ways, and right in the same
way: when SmolLM2 and Gemma independently produce the same fact, it is far more often true
than when either is sure of it alone (the token probabilities of one model cannot see this).
On a device that can hold both models (phone, edge, glasses within budget) the router of model
A may therefore receive model B's generation on the same question — the *peer* — and derive a
few numbers from the pair:

- **agreement** under the evaluation's own matching rules (``evalrun.is_correct``-style):
  normalised equality, the same last number, the same yes/no, whole-word containment of the
  shorter answer in the longer one, and token Jaccard. Words copied from the question are
  removed first, so "The capital of Peru is Lima" and "Lima" agree, but two answers that
  merely repeat the question do not;
- **the peer's own evidence**: its token log-prob mean / min and whether it was empty.

The kind × agreement interactions live in ``fit.py``. Everything is string work on two short
answers: tens of microseconds. Kept out of ``signals.py`` because it is optional. The text
normalisation is the evaluation's own (``edgesdk.textnorm``); the matching rules follow
``evalrun.is_correct`` but also score partial agreement, so they live here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from edgesdk.textnorm import CJK, NUMBER, normalise, polarity, stem_word
from edgesdk.types import Generation

PEER_FEATURES = ("peer_agree", "peer_same", "peer_num_same", "peer_num_diff", "peer_yn_same",
                 "peer_yn_diff", "peer_contain", "peer_jaccard", "peer_lp_mean", "peer_lp_min",
                 "peer_empty")

_STOP = {"is", "are", "was", "were", "of", "in", "on", "to", "and", "or", "it", "its", "by",
         "for", "at", "as", "be", "that", "this", "which", "with", "from", "called"}


def _first_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _content(norm: str) -> tuple[str, ...]:
    """Content words of a normalised answer (characters for Chinese), stemmed."""
    if CJK.search(norm):
        return tuple(c for c in norm if not c.isspace())
    return tuple(stem_word(w) for w in norm.split() if w not in _STOP)


def _yes_no(norm: str) -> str | None:
    """"yes" / "no" as scoring reads an answer (``textnorm.polarity``), else ``None``."""
    said = polarity(norm)
    return None if said is None else "yes" if said else "no"


def _last_number(norm: str) -> float | None:
    found = NUMBER.findall(norm)
    return float(found[-1]) if found else None


def _contains(long: list[str], short: list[str]) -> bool:
    if not short or len(short) > len(long):
        return False
    n = len(short)
    return any(long[i:i + n] == short for i in range(len(long) - n + 1))


@dataclass(frozen=True)
class _Answer:
    norm: str
    tokens: list[str]
    """Content words the question did not already contain."""
    number: float | None
    yes_no: str | None


@dataclass(frozen=True)
class _Parsed:
    norm: str
    content: tuple[str, ...]
    number: float | None
    yes_no: str | None


@lru_cache(maxsize=8192)
def _parse(text: str) -> _Parsed:
    """The question-independent part of preparing an answer (cached: the answer bank matches
    the same few hundred gold answers over and over)."""
    norm = normalise(_first_line(text))
    return _Parsed(norm=norm, content=_content(norm), number=_last_number(norm),
                   yes_no=_yes_no(norm))


def _question_words(question: str) -> set[str]:
    qn = normalise(question)
    return set(qn) if CJK.search(qn) else {stem_word(w) for w in qn.split()}


def _prepare(text: str, qwords: set[str]) -> _Answer:
    p = _parse(text)
    return _Answer(norm=p.norm, tokens=[t for t in p.content if t not in qwords],
                   number=p.number, yes_no=p.yes_no)


def agreement(question: str, answer: str, peer_answer: str) -> dict[str, float]:
    """How far two answers to ``question`` agree (all in [0, 1])."""
    qwords = _question_words(question)
    return _agreement(_prepare(answer, qwords), _prepare(peer_answer, qwords))


class AnswerMatcher:
    """``agreement(question, answer, x)['peer_agree'] == 1`` for many ``x``, with the answer
    and the question prepared once and each distinct ``x`` matched once."""

    def __init__(self, question: str, answer: str) -> None:
        self._qwords = _question_words(question)
        self._answer = _prepare(answer, self._qwords)
        self._tokens = frozenset(self._answer.tokens)
        self._seen: dict[str, bool] = {}

    def agrees(self, other: str) -> bool:
        hit = self._seen.get(other)
        if hit is None:
            prepared = _prepare(other, self._qwords)
            hit = (self._may_agree(prepared)
                   and _agreement(self._answer, prepared)["peer_agree"] >= 1.0)
            self._seen[other] = hit
        return hit

    def _may_agree(self, other: _Answer) -> bool:
        """A cheap necessary condition for full agreement (most bank answers fail it): unless
        numbers or yes/no decide, equal text or a shared content word."""
        a = self._answer
        if (a.number is not None and other.number is not None) or (
                a.yes_no is not None and other.yes_no is not None):
            return True
        return (bool(a.norm) and a.norm == other.norm) or not self._tokens.isdisjoint(
            other.tokens)


def _agreement(pa: _Answer, pb: _Answer) -> dict[str, float]:
    a, b, ta, tb = pa.norm, pb.norm, pa.tokens, pb.tokens
    na, nb = pa.number, pb.number
    num_same = num_diff = 0.0
    if na is not None and nb is not None:
        close = abs(na - nb) <= max(1e-6, 0.011 * max(abs(na), abs(nb)))
        num_same, num_diff = float(close), float(not close)
    ya, yb = pa.yes_no, pb.yes_no
    yn_same = float(ya is not None and ya == yb)
    yn_diff = float(ya is not None and yb is not None and ya != yb)
    short, long = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    contain = float(_contains(long, short))
    sa, sb = set(ta), set(tb)
    jaccard = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
    same = float(bool(a) and (a == b or (bool(ta) and ta == tb)))
    if num_same or num_diff:
        agree = num_same
    elif yn_same or yn_diff:
        agree = yn_same
    else:
        agree = max(same, contain, jaccard)
    return {"peer_agree": agree, "peer_same": same, "peer_num_same": num_same,
            "peer_num_diff": num_diff, "peer_yn_same": yn_same, "peer_yn_diff": yn_diff,
            "peer_contain": contain, "peer_jaccard": jaccard}


def peer_features(question: str, generation: Generation | None,
                  peer: Generation | None) -> dict[str, float]:
    """The peer signals of one request; ``nan`` everywhere when either answer is missing."""
    if generation is None or peer is None:
        return dict.fromkeys(PEER_FEATURES, math.nan)
    feats = agreement(question, generation.text, peer.text)
    lps = [v for v in peer.evidence.logprobs if math.isfinite(v)]
    feats["peer_lp_mean"] = sum(lps) / len(lps) if lps else -5.0
    feats["peer_lp_min"] = min(lps) if lps else -10.0
    feats["peer_empty"] = float(not peer.text.strip())
    return feats
