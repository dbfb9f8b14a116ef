"""Fit P(a knowledge answer is right) on labelled data (never imported at run time).

Documents: every question of the fit documents (and half the general ones) is run through the
device's own retrieval and sentence reader; a row is its features and whether the sentence
holds an answer string. A question the documents do not answer is a row labelled wrong: the
device must learn that a confident-looking passage about the wrong thing is not an answer.

Learned answers: the first wording of every fit group is kept with its answer; every other
wording and every look-alike question is looked up, and each of the three nearest kept
questions is a row labelled by whether its answer is the right one for the asked question
("largest city in Japan" may reuse "capital of Japan"'s Tokyo; "capital of Australia" may not
reuse Austria's Vienna).

The keep threshold of each is the lowest P at which the out-of-fold rows are 95 % right.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgesdk.knowledge.base import Knowledge
from edgesdk.knowledge.extract import extract
from edgesdk.knowledge.learned import match_features
from edgesdk.routing.fitting.actions import keep_threshold
from edgesdk.routing.fitting.logistic import choose_l2, fit_scorer
from edgesdk.routing.fitting.metrics import auroc
from edgesdk.routing.knowledge import (
    DOCUMENT_FEATURES,
    LEARNED_FEATURES,
    LEARNED_INTERACTIONS,
    READ_FEATURES,
    KnowledgeCalibration,
    KnowledgeScorer,
)
from edgesdk.testing.knowledge_sets import (
    DocQuestion,
    Group,
    contains_answer,
    same_answer,
)

Row = tuple[dict[str, float], bool]


def document_rows(knowledge: Knowledge, questions: Sequence[DocQuestion]) -> list[Row]:
    """(features, right) per question whose documents gave a sentence."""
    rows = []
    for q in questions:
        vector = knowledge.vector(q.question)
        hits = knowledge.index.search(q.question, k=8, vector=vector)
        found = extract(q.question, hits, embedder=knowledge.embedder, vector=vector,
                        reader=knowledge.reader)
        if found is None:
            continue
        rows.append((found.features,
                     bool(q.answers) and contains_answer(found.text, q.answers)))
    return rows


def learned_rows(knowledge: Knowledge, groups: Sequence[Group], *, now: float) -> list[Row]:
    """Keep each stable group's first wording; look up the rest and the look-alikes."""
    store = knowledge.learned
    store.clear(origin=None)
    stable = [g for g in groups if not g.time_sensitive and g.answer]
    firsts = [g.questions[0] for g in stable]
    for g, vector in zip(stable, knowledge.embedder.embed(firsts), strict=True):
        store.keep(g.questions[0], str(g.answer), vector, now=now)
    asked = [(q, g.answer) for g in stable for q in g.questions[1:]]
    asked += [(q, a) for g in stable for q, a in g.near_misses if a]
    rows = []
    vectors = knowledge.embedder.embed([q for q, _ in asked])
    for (question, answer), vector in zip(asked, vectors, strict=True):
        for stored in store.nearest(vector, k=3, now=now):
            rows.append((match_features(question, stored, now=now),
                         same_answer(stored.answer, answer)))
    return rows


def fit_kind(rows: Sequence[Row], features: Sequence[str], *, target: float = 0.95,
             fitted_on: str = "", interactions: Sequence[tuple[str, str]] = ()
             ) -> tuple[KnowledgeScorer, np.ndarray]:
    x = [r for r, _ in rows]
    y = [label for _, label in rows]
    l2 = choose_l2(x, y, features=features, interactions=interactions)
    scorer, oof = fit_scorer(x, y, features=features, l2=l2, interactions=interactions)
    threshold = keep_threshold(oof, y, target=target)
    return KnowledgeScorer(scorer=scorer, threshold=threshold, target_accuracy=target,
                           fit_info={"rows": len(rows), "right": int(sum(y)), "l2": l2,
                                     "oof_auroc": round(auroc(oof, y), 4),
                                     "fitted_on": fitted_on}), oof


def fit_knowledge_calibration(document: Sequence[Row], learned: Sequence[Row], *,
                              embedder: str, fitted_on: str,
                              reader: str | None = None) -> KnowledgeCalibration:
    """With a ``reader``, the sentences it chose and the others (a language it does not read)
    get a scorer each, fitted on their own rows (kept answers are not read: docs/knowledge.md
    says why)."""
    kept, _ = fit_kind(learned, LEARNED_FEATURES, fitted_on=fitted_on,
                       interactions=LEARNED_INTERACTIONS)
    if reader is None:
        docs, _ = fit_kind(document, DOCUMENT_FEATURES, fitted_on=fitted_on)
        return KnowledgeCalibration(embedder=embedder, documents=docs, learned=kept)
    read, _ = fit_kind([r for r in document if r[0].get("kn_read")], READ_FEATURES,
                       fitted_on=fitted_on)
    others, _ = fit_kind([r for r in document if not r[0].get("kn_read")], DOCUMENT_FEATURES,
                         fitted_on=fitted_on)
    return KnowledgeCalibration(embedder=embedder, documents=others, learned=kept,
                                reader=reader, read=read)
