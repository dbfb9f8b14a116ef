"""The document reader's seam: which sentence a reader chooses and what it tells the router,
the languages it reads, the calibration's scorer per way of choosing, and the memory budget
that counts it. A fake reader scores by a table, so each rule is seen on its own; the real
cross-encoder is in tests/integration/test_knowledge_real.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from edgesdk.catalog import Catalog
from edgesdk.devices import get_profile
from edgesdk.errors import CalibrationError, InputError, MemoryBudgetExceeded
from edgesdk.knowledge.extract import extract, reads
from edgesdk.knowledge.index import KnowledgeIndex
from edgesdk.local.rerank import READER_ID, CrossEncoderReader
from edgesdk.protocols import DocumentReader
from edgesdk.routing.knowledge import (
    KnowledgeCalibration,
    KnowledgeScorer,
    load_knowledge_calibration,
    save_knowledge_calibration,
)
from edgesdk.routing.neighbours import HASHED_ID, HashedWords
from edgesdk.routing.scorer import LinearScorer
from edgesdk.wiring import check_budget, estimate_memory_mb

GYM = """# Ironworks Fitness

## Memberships
Basic costs $29 a month.
You can freeze your membership for up to 2 months per year.
After that you can cancel with 30 days written notice.
Day pass: $15.
"""


class TableReader:
    """Scores a passage by the first key of ``table`` it contains (else -5)."""

    languages = frozenset({"en"})

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.seen: list[str] = []

    def score(self, question: str, passages: Sequence[str]) -> NDArray[np.float32]:
        self.seen += passages
        return np.array([next((v for k, v in self.table.items() if k in p), -5.0)
                         for p in passages], dtype=np.float32)


def gym_index() -> KnowledgeIndex:
    idx = KnowledgeIndex(None, embedder=HashedWords(), embedder_id=HASHED_ID)
    idx.add_text(GYM, source="gym.md")
    return idx


def test_the_reader_chooses_the_sentence_and_reports_its_score_and_margin() -> None:
    q = "can i pause my gym plan while travelling"
    reader = TableReader({"freeze": 6.5, "cancel": 4.0})
    found = extract(q, gym_index().search(q, k=8), reader=reader)
    assert found is not None and "freeze your membership" in found.text
    assert found.features["kn_read"] == 1.0
    assert found.features["kn_reader"] == pytest.approx(6.5)
    assert found.features["kn_reader_margin"] == pytest.approx(2.5)
    # each sentence is read under its document's title: "Day pass: $15" says whose pass it is
    assert all(p.startswith("Ironworks Fitness") for p in reader.seen)
    words_only = extract(q, gym_index().search(q, k=8))
    assert words_only is not None and words_only.features["kn_read"] == 0.0


def test_a_question_in_a_language_the_reader_does_not_read_is_chosen_by_words() -> None:
    reader = TableReader({})
    assert isinstance(reader, DocumentReader)
    assert reads(reader, "How much is a day pass?") and not reads(reader, "日票多少钱？")
    assert not reads(None, "How much is a day pass?")
    idx = KnowledgeIndex(None, embedder=HashedWords(), embedder_id=HASHED_ID)
    idx.add_text("云朵咖啡馆营业时间：周一至周五7:30-20:00。周六8:00-22:00。", source="zh.txt")
    found = extract("周六几点开门？", idx.search("周六几点开门？", k=8), reader=reader)
    assert found is not None and "周六8:00-22:00" in found.text
    assert found.features["kn_read"] == 0.0 and reader.seen == []


def _scorer(threshold: float) -> KnowledgeScorer:
    return KnowledgeScorer(scorer=LinearScorer(features=(), interactions=(), mean=(), scale=(),
                                               weights=(), bias=0.0), threshold=threshold)


def test_a_reader_has_its_own_scorers_and_the_plain_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    plain = KnowledgeCalibration(embedder="e", documents=_scorer(0.5), learned=_scorer(0.6))
    save_knowledge_calibration(plain, path)
    with_reader = KnowledgeCalibration(embedder="e", documents=_scorer(0.7),
                                       learned=_scorer(0.6), reader="r", read=_scorer(0.8))
    save_knowledge_calibration(with_reader, path)
    load_knowledge_calibration.cache_clear()
    assert load_knowledge_calibration("e", path).documents.threshold == 0.5  # untouched
    loaded = load_knowledge_calibration("e", path, reader="r")
    assert loaded.scorer("documents", {"kn_read": 1.0}).threshold == 0.8
    assert loaded.scorer("documents", {"kn_read": 0.0}).threshold == 0.7
    assert loaded.scorer("learned").threshold == 0.6
    with pytest.raises(CalibrationError, match="no documents scorers for the reader 'other'"):
        load_knowledge_calibration("e", path, reader="other")
    assert "readers" in json.loads(path.read_text())["embedders"]["e"]
    load_knowledge_calibration.cache_clear()


def test_the_shipped_calibration_has_every_profile_s_reader() -> None:
    for name in ("watch", "glasses", "phone", "edge"):
        profile = get_profile(name)
        calibration = load_knowledge_calibration(profile.knowledge_embedder,
                                                 reader=profile.knowledge_reader)
        assert (calibration.read is not None) == (profile.knowledge_reader is not None)
    assert get_profile("phone").knowledge_reader == READER_ID
    assert get_profile("watch").knowledge_reader is None


def test_the_budget_counts_the_reader() -> None:
    profile = get_profile("phone")
    catalog = Catalog()
    without = estimate_memory_mb(profile, catalog, ["gemma3-270m"],
                                 knowledge_embedder=profile.knowledge_embedder)
    with_reader = estimate_memory_mb(profile, catalog, ["gemma3-270m"],
                                     knowledge_embedder=profile.knowledge_embedder,
                                     knowledge_reader=READER_ID)
    assert with_reader - without == 85
    tight = profile.model_copy(update={"memory_budget_mb": without + 10})
    with pytest.raises(MemoryBudgetExceeded, match="document reader"):
        check_budget(tight, catalog, ["gemma3-270m"],
                     knowledge_embedder=profile.knowledge_embedder, knowledge_reader=READER_ID)


def test_an_unknown_reader_or_one_string_is_a_typed_error() -> None:
    with pytest.raises(InputError, match="unknown document reader"):
        CrossEncoderReader.load(model_id="nope")

    class Session:
        def get_inputs(self) -> list[object]:
            return []

    class Tok:
        def no_padding(self) -> None: ...

        def enable_truncation(self, **_: object) -> None: ...

    reader = CrossEncoderReader(session=Session(), tokenizer=Tok())
    with pytest.raises(InputError, match=r"score\(question, \[passage\]\)"):
        reader.score("q", "one passage")  # type: ignore[arg-type]
