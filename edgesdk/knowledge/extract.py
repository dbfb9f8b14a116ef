"""An answer read out of the retrieved passages: the sentence that answers the question, with
the document it came from, and the numbers the router needs to judge it.

Why a sentence and not generated text: a 135M-270M model asked to answer from a passage
paraphrases it wrong or copies the wrong line often enough that the figures in
docs/knowledge.md favour reading back the document's own sentence; the sentence carries the
fact in the document's words, and the citation says where it is.

Two ways to choose the sentence:
- with a document reader (a cross-encoder, ``local/rerank.py``; the phone's and edge's) that
  reads the question's language: each sentence of the two best passages, headed by its
  document's title, is scored with the question, and the best is read back. This is what
  answers a question asked in other words than the document's.
- otherwise (Chinese, and the glasses and watch, which hold no reader): by the question's rare
  terms the sentence contains, its meaning (the embedder's cosine), and whether it holds the
  kind of value the question asks for (a clock time for "when does it open", a price for "how
  much", a phone number for "what's the number").
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from edgesdk.knowledge.index import Hit
from edgesdk.knowledge.text import sentences, terms
from edgesdk.protocols import DocumentReader, Embedder
from edgesdk.textnorm import CJK

MAX_ANSWER_CHARS = 280

_KINDS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    ("time", re.compile(r"\b(what time|when|hours?|open|close|closing|opening|until|schedule|"
                        r"timetable)\b|几点|什么时候|时间|营业|开门|关门|几号|哪天", re.I),
     re.compile(r"\d{1,2}[:.]\d{2}|\b\d{1,2}\s*(am|pm|a\.m\.|p\.m\.)|\b(noon|midnight|monday|"
                r"tuesday|wednesday|thursday|friday|saturday|sunday|daily|weekdays?|weekends?)\b|"
                r"[点时]|周[一二三四五六日天]|星期|\d+月|\d+日|\d+号", re.I)),
    ("price", re.compile(r"\b(how much|cost|costs|price|fee|fees|charge|pay|fare|rate|"
                         r"expensive|cheap)\b|多少钱|价格|费用|收费|票价|多钱|贵", re.I),
     re.compile(r"[$€£¥]\s*\d|\d+(\.\d+)?\s*(dollars?|euros?|usd|eur|yuan|rmb|元|块|美元)|"
                r"\bfree\b|免费", re.I)),
    ("phone", re.compile(r"\b(phone|number to call|call them|telephone|hotline|contact "
                         r"number)\b|电话|热线|号码", re.I),
     re.compile(r"\+?\d[\d\s()-]{6,}\d")),
    ("count", re.compile(r"\b(how many|how long|how old|how far|how big|how heavy|allowance|"
                         r"allowed|how much weight|age|minimum|maximum|limit|max|min)\b|"
                         r"多少|几个|多久|多长|多大|多重|几岁|几天|上限|最多|最少", re.I),
     re.compile(r"\d")),
    ("place", re.compile(r"\b(where|address|located|location|which floor|what floor|room)\b|"
                         r"在哪|地址|位置|几楼|几层", re.I),
     re.compile(r"\d+\s+\w+\s+(street|st|avenue|ave|road|rd|blvd|lane)|\bfloor\b|\blevel\b|"
                r"\broom\b|路|街|号|楼|层|室", re.I)),
)


@dataclass
class Extracted:
    """The device's answer from the documents, where it came from, and how it was found."""

    text: str
    source: str
    title: str
    passage: str
    features: dict[str, float] = field(default_factory=dict)


MEANING_OF = 8
"""Sentences whose meaning is compared with the question's (each costs an embedding: ~12 ms
with MiniLM-L6 here); the rest are ranked out by their words first."""
SHORT = 40
"""A sentence shorter than this is read back with the line after it."""
READ = 16
"""Sentences the reader scores at most (16: ~100 ms on 2 cores); the likeliest by words."""
Candidate = tuple[int, Hit, str, str]
"""(the passage's rank, the passage, a sentence, what is read back: the sentence, or a short
line with the line after it)."""
_DIGIT = re.compile(r"\d")


def _heading(sentence: str) -> bool:
    """A line that names a section rather than says something: a few words, no number, no
    verb-like punctuation ("Checked baggage allowance", "营业时间")."""
    words = sentence.split()
    return (len(words) <= 5 and len(sentence) <= 40 and not _DIGIT.search(sentence)
            and not re.search(r"[.:!?。：！？]", sentence))


def _cover(q_terms: Sequence[str], sentence: str) -> float:
    present = set(terms(sentence))
    return (sum(1 for t in q_terms if t in present) / len(q_terms)) if q_terms else 0.0


def asks_for(question: str) -> str | None:
    """The kind of value the question asks for (time, price, phone, count, place), if any."""
    return next((kind for kind, asks, _ in _KINDS if asks.search(question)), None)


def holds(kind: str | None, sentence: str) -> bool:
    return kind is not None and any(k == kind and has.search(sentence) for k, _, has in _KINDS)


def reads(reader: DocumentReader | None, question: str) -> bool:
    """Whether ``reader`` reads ``question``'s language (the English cross-encoder does not
    read Chinese: measured, it ranks an unrelated Chinese sentence above the answer)."""
    return reader is not None and ("zh" if CJK.search(question) else "en") in reader.languages


def _likeliest(candidates: list[Candidate], q_terms: Sequence[str], kind: str | None,
               keep: int) -> list[Candidate]:
    """The ``keep`` candidates most likely to answer by their words (in document order)."""
    if len(candidates) <= keep:
        return candidates
    order = sorted(range(len(candidates)), key=lambda i: -(
        _cover(q_terms, candidates[i][2]) + 0.5 * holds(kind, candidates[i][2])
        + 0.15 * (candidates[i][0] == 0)))
    return [candidates[i] for i in sorted(order[:keep])]


def _candidates(hits: Sequence[Hit]) -> list[Candidate]:
    """Every sentence of the two best passages; a short line ("Sunday hours:", a table's
    label) is read back with the line after it."""
    out = []
    for rank, hit in enumerate(hits[:2]):
        lines = sentences(hit.text)
        for at, line in enumerate(lines):
            shown = f"{line} {lines[at + 1]}" if len(line) < SHORT and at + 1 < len(lines) \
                else line
            out.append((rank, hit, line, shown))
    return out


def extract(question: str, hits: Sequence[Hit], *, embedder: Embedder | None = None,
            vector: NDArray[np.float32] | None = None,
            reader: DocumentReader | None = None) -> Extracted | None:
    """The best sentence of the best passages (the top two), or None when nothing was found.
    With a ``reader`` of the question's language, the reader chooses it; otherwise, with
    ``embedder`` (and the question's ``vector``), a sentence's meaning counts beside its words,
    which is what finds the answer to a question asked in other words than the document's."""
    if not hits:
        return None
    q_terms = list(dict.fromkeys(terms(question)))
    kind = asks_for(question)
    candidates = _candidates(hits)
    if not candidates:
        return None
    if reader is not None and reads(reader, question):
        return _read(question, hits, reader, _likeliest(candidates, q_terms, kind, READ),
                     q_terms, kind)
    if embedder is not None:
        candidates = _likeliest(candidates, q_terms, kind, MEANING_OF)
    meaning = [0.0] * len(candidates)
    if embedder is not None:
        q = vector if vector is not None else embedder.embed([question])[0]
        meaning = (np.asarray(embedder.embed([c[2] for c in candidates])) @ q).tolist()
    best: tuple[float, float, float, bool, str, Hit] | None = None
    for (rank, hit, sentence, shown), cos in zip(candidates, meaning, strict=True):
        cover = _cover(q_terms, sentence)
        typed = holds(kind, sentence)
        score = cos + cover + (0.5 if typed else 0.0) + (0.15 if rank == 0 else 0.0) - \
            (1.0 if sentence.strip() == hit.title.strip() else 0.5 if _heading(sentence) else 0)
        if best is None or score > best[0]:
            best = (score, cover, cos, typed, shown, hit)
    assert best is not None
    score, cover, cos, typed, sentence, hit = best
    return _answer(question, hits, hit, sentence, q_terms, kind, {
        "kn_sentence_cover": cover, "kn_sentence_cosine": cos, "kn_kind_found": float(typed)})


def _read(question: str, hits: Sequence[Hit], reader: DocumentReader,
          candidates: list[Candidate], q_terms: Sequence[str], kind: str | None) -> Extracted:
    """The sentence the reader scores highest, each read as "title. sentence" (a gym's price
    list says "Day pass: $15", not whose day pass it is)."""
    texts = [c[3] for c in candidates]
    scores = np.asarray(reader.score(question, [
        text if text.startswith(c[1].title) else f"{c[1].title}. {text}"
        for c, text in zip(candidates, texts, strict=True)]))
    best = int(np.argmax(scores))
    hit, sentence = candidates[best][1], texts[best]
    others = [float(x) for x, text in zip(scores, texts, strict=True)  # a short line read with
              if text not in sentence and sentence not in text]  # the next is the same answer
    margin = float(scores[best]) - max(others) if others else 0.0
    return _answer(question, hits, hit, sentence, q_terms, kind, {
        "kn_sentence_cover": _cover(q_terms, sentence),
        "kn_kind_found": float(holds(kind, sentence)), "kn_read": 1.0,
        "kn_reader": float(scores[best]), "kn_reader_margin": margin})


def _answer(question: str, hits: Sequence[Hit], hit: Hit, sentence: str,
            q_terms: Sequence[str], kind: str | None, found: dict[str, float]) -> Extracted:
    top = hits[0]
    other = next((h for h in hits[1:] if h.source != top.source), None)
    text = sentence if len(sentence) <= MAX_ANSWER_CHARS else sentence[:MAX_ANSWER_CHARS - 1] + "…"
    features = {
        "kn_cosine": top.cosine, "kn_coverage": top.coverage,
        "kn_bm25": math.log1p(max(0.0, top.bm25)), "kn_score": top.score,
        "kn_margin": top.score - (other.score if other is not None else 0.0),
        "kn_sentence_cover": 0.0, "kn_sentence_cosine": 0.0,
        "kn_kind_asked": float(kind is not None), "kn_kind_found": 0.0,
        "kn_terms": float(len(q_terms)), "kn_from_top": float(hit.id == top.id),
        "kn_zh": float(bool(CJK.search(question))),
        "kn_read": 0.0, "kn_reader": 0.0, "kn_reader_margin": 0.0,
    } | found
    return Extracted(text=text, source=hit.source, title=hit.title, passage=hit.text,
                     features=features)
