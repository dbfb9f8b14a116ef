"""Generic signal ``surface``: what the question's wording says before anything is generated.

Its kind (``routing/kinds.py``), length, digits, numbers, language, question mark, capitals
and quotes (names and titles), and whether it leans on a previous turn ("and how tall is
it?", "那它呢": a follow-up asked without its context, which no device answer can get right
alone). Known before generating, so they also drive the pre-generation prior.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar

from edgesdk.routing.kinds import DIGIT, KINDS, NUMBER, WORD, question_kind
from edgesdk.routing.signal import BaseSignal, Request, register
from edgesdk.textnorm import CJK

KIND_FEATURES = tuple(f"kind_{k}" for k in KINDS)
FEATURES = (*KIND_FEATURES, "q_words", "q_digits", "q_numbers", "q_zh", "q_question_mark",
            "q_capitals", "q_quotes", "q_anaphora")
_ANAPHORA = re.compile(
    r"^(?:and|so|but|ok(?:ay)?|then)\b|^what\s+about\b|^how\s+about\b|"
    r"\b(?:it|its|it's|that|those|these|they|them|their|he|him|his|she|her)\b", re.I)
_ANAPHORA_ZH = re.compile(r"^(?:那|那么|还有)|它|他们|她们|这个|那个")


def question_features(question: str) -> dict[str, float]:
    kind = question_kind(question)
    q = question.strip()
    cjk = bool(CJK.search(q))
    words = len(q) / 2 if cjk else len(WORD.findall(q))
    feats = {f"kind_{k}": float(kind == k) for k in KINDS}
    feats.update({
        "q_words": math.log1p(words),
        "q_digits": math.log1p(len(DIGIT.findall(q))),
        "q_numbers": math.log1p(len(NUMBER.findall(q))),
        "q_zh": float(cjk),
        "q_question_mark": float(q.endswith(("?", "？"))),
        "q_capitals": math.log1p(sum(1 for w in q.split()[1:] if w[:1].isupper())),
        "q_quotes": float('"' in q or "“" in q or "《" in q),
        "q_anaphora": float(bool((_ANAPHORA_ZH if cjk else _ANAPHORA).search(q))),
    })
    return feats


@register
class SurfaceSignal(BaseSignal):
    name: ClassVar[str] = "surface"
    names: ClassVar[tuple[str, ...]] = FEATURES

    def compute(self, request: Request, why: list[str]) -> dict[str, float]:
        why.append(f"kind {question_kind(request.question)}")
        return question_features(request.question)
