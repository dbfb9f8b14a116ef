"""The one text normalisation that scoring and routing share.

The evaluation scores an answer right by a normalised match (``evalrun.is_correct``) and the
router's answer-matching signals (``routing/peer.py``, the answer bank) must apply the same
rule, or the router learns something other than what the report measures. This module holds
that rule and its word lists with no dependencies, so the router does not import the
evaluation layer (which loads llama.cpp).
"""

from __future__ import annotations

import re
import unicodedata

YES = frozenset({"yes", "yeah", "true", "correct", "是", "是的", "对", "会", "可以",
                 "plausible"})
NO = frozenset({"no", "false", "incorrect", "not", "不是", "不", "否", "不会", "不对",
                "implausible"})
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
CJK = re.compile(r"[\u3400-\u9fff]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(text: str) -> str:
    """NFKC, lower case, thousands separators, punctuation and articles out.

    An answer that is nothing but articles keeps its last word: blood type "A" or option
    "(A)" must not normalise to nothing, which no gold answer can match."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"[^\w\s.\-]|(?<!\d)\.|\.(?!\d)", " ", text)
    words = text.split()
    return " ".join(_ARTICLES.sub(" ", text).split()) or " ".join(words[-1:])


def question_key(question: str) -> str:
    """How two questions are told apart: case and spacing ignored, nothing else. The answer
    bank keys its rows by it (``routing/fit.py``), the distillation export de-duplicates by it,
    and ``scripts/build_datasets.py`` keeps test questions out of the bank's pool by it. One
    rule, so that a copy of a question (another case or spacing) that one of them merges is not
    kept apart, and leaked, by another."""
    return " ".join(question.lower().split())


def stem_word(word: str) -> str:
    """A plural ``s`` off words longer than three letters ("lakes" → "lake", not "gas")."""
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def first_word(text: str) -> str:
    """The first normalised word; for Chinese, the longest yes/no word it starts with (or its
    first character): how a yes/no answer is read."""
    norm = normalise(text)
    if not norm:
        return ""
    if CJK.match(norm):
        for word in sorted(YES | NO, key=len, reverse=True):
            if norm.startswith(word):
                return word
        return norm[:1]
    return norm.split()[0]


def polarity(text: str) -> bool | None:
    """True when ``text`` answers yes, False when it answers no (by its first word, as scoring
    reads it), ``None`` otherwise ("It is plausible because…" says neither)."""
    word = first_word(text)
    return True if word in YES else False if word in NO else None
