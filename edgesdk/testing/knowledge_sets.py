"""Labelled data for the device's knowledge, written apart from the code (docs/knowledge.md):

- ``knowledge/{en,zh}/docs/``: ten documents per language an app might ship (a café, a clinic,
  a gym, a museum, baggage rules, a metro's fares, a hotel, a product manual, …) in Markdown,
  plain text and HTML, with facts that look alike across documents and differ;
- ``knowledge/{en,zh}/questions.jsonl``: 170 questions per language about them — the
  document's own words (``verbatim``), how people ask by voice (``paraphrase``), what the
  documents do not say (``unanswerable``) and world knowledge (``general``) — each answerable
  one with the answer strings copied from its document;
- ``knowledge/paraphrase_{en,zh}.jsonl``: 110 groups per language of four wordings of one
  question with its answer, two look-alike questions that ask something else, and 25 groups
  whose answer changes with time.

Splits are by document and by group (even ones fit, odd ones test), so no test question's
document or wording was seen by a fit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Split = Literal["fit", "test", "all"]
LANGS = ("en", "zh")


@dataclass(frozen=True)
class DocQuestion:
    id: str
    lang: str
    kind: str
    doc: str | None
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Group:
    id: str
    lang: str
    time_sensitive: bool
    answer: str | None
    questions: tuple[str, ...]
    near_misses: tuple[tuple[str, str | None], ...]


def _root() -> Path:
    return Path(str(resources.files("edgesdk.testing").joinpath("knowledge")))


def docs_dir(lang: str) -> Path:
    return _root() / lang / "docs"


def doc_names(lang: str, split: Split = "all") -> list[str]:
    names = sorted(p.name for p in docs_dir(lang).iterdir() if p.is_file())
    return [n for i, n in enumerate(names) if split == "all" or (i % 2 == 0) == (split == "fit")]


def load_doc_questions(lang: str, split: Split = "all") -> list[DocQuestion]:
    """Questions about the ``split``'s documents, plus (split by line) the general ones."""
    rows = [json.loads(line) for line in (_root() / lang / "questions.jsonl").read_text(
        "utf-8").splitlines() if line.strip()]
    docs = set(doc_names(lang, split))
    out = []
    for i, r in enumerate(rows):
        if r["doc"] is None:
            if split != "all" and (i % 2 == 0) != (split == "fit"):
                continue
        elif r["doc"] not in docs:
            continue
        out.append(DocQuestion(r["id"], r["lang"], r["kind"], r["doc"], r["question"],
                               tuple(r["answers"])))
    return out


def load_groups(lang: str, split: Split = "all") -> list[Group]:
    rows = [json.loads(line) for line in (_root() / f"paraphrase_{lang}.jsonl").read_text(
        "utf-8").splitlines() if line.strip()]
    return [Group(r["group"], r["lang"], bool(r["time_sensitive"]), r["answer"],
                  tuple(r["questions"]),
                  tuple((n["question"], n["answer"]) for n in r["near_misses"]))
            for i, r in enumerate(rows) if split == "all" or (i % 2 == 0) == (split == "fit")]


def _norm(text: str) -> str:
    return re.sub(r"[\s\u3000]+", " ", text.lower().replace("’", "'")).strip(" .。")


def contains_answer(text: str, answers: Any) -> bool:
    """A device answer is right when it contains one of the answer strings (case and spaces
    folded): the strings were copied from the document."""
    t = _norm(text)
    return any(_norm(a) in t for a in answers if a)


def same_answer(a: str | None, b: str | None) -> bool:
    """Two short answers are the same (case, spaces and a final period folded)."""
    return a is not None and b is not None and _norm(a) == _norm(b)
