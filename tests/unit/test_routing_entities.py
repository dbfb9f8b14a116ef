"""The rare-word index: bank questions about the same entity, and the two signals read from them."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from edgesdk.errors import CalibrationError
from edgesdk.routing import calibration as calibrate
from edgesdk.routing.entities import ENTITY_FEATURES, RareWordIndex, entity_features
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.neighbours import AnswerBank, HashedWords, fit_bank
from edgesdk.routing.signal import LabelledRow as Outcome
from tests.unit._routing_fakes import gen

QUESTIONS = [
    "The country of Haiphong is",          # 0
    "Haiphong shares a border with",       # 1
    "The country of Lyon is",              # 2
    "The capital of Vietnam is",           # 3
    "The country of Porto is",             # 4
]


def test_only_rare_words_are_indexed_and_lookups_are_by_word() -> None:
    index = RareWordIndex.build(QUESTIONS, max_df=2)
    assert sorted(index.related("Haiphong is located in").tolist()) == [0, 1]
    assert index.related("Haiphong is located in", exclude=0).tolist() == [1]
    # "country" is in three questions: a relation word, not an entity, so never a key
    assert index.related("The country of Atlantis is").tolist() == []
    assert index.related("").tolist() == []
    assert index.related("HAIPHONG?").tolist() == [0, 1]  # lower-cased \w+ words
    assert len(index.keys) == len(set(index.keys.tolist()))
    assert np.all(np.diff(index.keys.astype(np.float64)) > 0)


def test_an_index_with_inconsistent_arrays_is_refused() -> None:
    index = RareWordIndex.build(QUESTIONS)
    with pytest.raises(ValueError, match="offsets"):
        RareWordIndex(keys=index.keys, offsets=index.offsets[:-1], rows=index.rows)
    bank = _bank()
    beyond = RareWordIndex(keys=index.keys, offsets=index.offsets, rows=index.rows + 100)
    with pytest.raises(ValueError, match="point into them"):
        AnswerBank(embedder_id=bank.embedder_id, mean=bank.mean, basis=bank.basis,
                   vectors=bank.vectors, answers=bank.answers, entities=beyond)


def test_a_hit_on_a_rare_answer_counts_more_than_on_a_common_one() -> None:
    counts = {"vietnam": 2, "france": 50}
    related = np.array([0, 1], dtype=np.int32)
    rare = entity_features(related, ["vietnam"], answer_count=counts, n=100)
    common = entity_features(related, ["france"], answer_count=counts, n=100)
    none = entity_features(related, [], answer_count=counts, n=100)
    assert set(rare) == set(ENTITY_FEATURES)
    assert rare["rare_hit"] == pytest.approx(math.log(100 / 2) / 10)
    assert rare["rare_hit"] > common["rare_hit"] > none["rare_hit"] == 0.0
    assert rare["rare_related"] == pytest.approx(math.log1p(2))
    assert entity_features(related[:0], [], answer_count=counts, n=100) == {
        "rare_related": 0.0, "rare_hit": 0.0}


def _bank() -> AnswerBank:
    questions = [*QUESTIONS, "The capital of Laos is", "The country of Hue is"]
    golds = [["Vietnam"], ["China"], ["France"], ["Hanoi"], ["Portugal"], ["Vientiane"],
             ["Vietnam"]]
    return fit_bank(questions, HashedWords().embed(questions), golds, embedder_id="hashed",
                    max_df=2)


def test_the_bank_reads_the_entity_signals_leave_one_out() -> None:
    bank = _bank()
    q = "Haiphong is located in"
    vec = HashedWords().embed([q])[0]
    right = bank.features(vec, q, "Vietnam")
    wrong = bank.features(vec, q, "Germany")
    assert right["rare_related"] == wrong["rare_related"] == pytest.approx(math.log1p(2))
    assert right["rare_hit"] > 0 and wrong["rare_hit"] == 0.0
    # fitting: the question's own row must not vouch for its answer
    own = "The country of Haiphong is"
    vec_own = HashedWords().embed([own])[0]
    assert bank.features(vec_own, own, "Vietnam", exclude=0)["rare_related"] == pytest.approx(
        math.log1p(1))  # only "Haiphong shares a border with" (gold China) is left
    assert bank.features(vec_own, own, "Vietnam", exclude=0)["rare_hit"] == 0.0


def test_the_index_survives_json_and_npz_and_is_part_of_the_digest(tmp_path: Path) -> None:
    bank = _bank()
    again = AnswerBank.from_dict(json.loads(json.dumps(bank.to_dict())))
    bank.save_npz(tmp_path / "bank.npz")
    loaded = AnswerBank.load_npz(tmp_path / "bank.npz")
    for other in (again, loaded):
        assert np.array_equal(other.entities.keys, bank.entities.keys)
        assert np.array_equal(other.entities.rows, bank.entities.rows)
        assert other.digest() == bank.digest()
    fewer = RareWordIndex.build(QUESTIONS[:2])
    changed = AnswerBank(embedder_id=bank.embedder_id, mean=bank.mean, basis=bank.basis,
                         vectors=bank.vectors, answers=bank.answers, entities=fewer)
    assert changed.digest() != bank.digest()


def test_a_bank_from_before_the_index_is_refused_with_a_fix(tmp_path: Path) -> None:
    bank = _bank()
    old = {k: v for k, v in bank.to_dict().items() if not k.startswith("ent_")}
    with pytest.raises(ValueError, match="older edgesdk"):
        AnswerBank.from_dict(old)
    bank.save_npz(tmp_path / "bank.npz")
    with np.load(tmp_path / "bank.npz") as z:
        kept = {k: z[k] for k in z.files if not k.startswith("ent_")}
    np.savez_compressed(tmp_path / "old.npz", **kept)
    with pytest.raises(ValueError, match="older edgesdk"):
        AnswerBank.load_npz(tmp_path / "old.npz")


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_calibration_is_refused_before_it_is_parsed(tmp_path: Path, version: int
                                                             ) -> None:
    # format 2 kept the answer bank and the history in fields of their own, not as signals
    path = tmp_path / "fake-llm.json"
    path.write_text(json.dumps({"format": version, "model_id": "fake-llm",
                                "answer_bank": {"file": "answer-bank-0.npz"}, "history": None}))
    assert calibrate.FORMAT_VERSION == 3
    with pytest.raises(CalibrationError,
                       match=rf"format {version}, .*reads format 3.*router fit"):
        calibrate.load("fake-llm", path=path)


def known_entities(n: int = 400) -> list[Outcome]:
    """Same template, same answer words, same token evidence; the device is right exactly for
    the cities whose country another labelled question names (a "known" entity)."""
    rng = random.Random(3)
    data = []
    countries = ["Vietnam", "Peru", "Kenya", "Chile", "Nepal", "Ghana"]
    for i in range(n):
        gold = rng.choice(countries)
        known = i % 2 == 0
        answer = gold if known else rng.choice([c for c in countries if c != gold])
        data.append(Outcome(question=f"The country of city{i} is", generation=gen(answer, (-0.3,)),
                            skill=None, correct=answer == gold, answers=(gold,)))
    return data


def test_the_fitted_router_learns_from_questions_about_the_same_entity() -> None:
    data = known_entities()
    pool = [(f"city{i} lies in the region of", [o.answers[0]])
            for i, o in enumerate(data) if i % 2 == 0]
    without = fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                              embed=HashedWords().embed, embedder_id="hashed")
    with_pool = fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                                embed=HashedWords().embed, embedder_id="hashed",
                                bank_pool=pool)
    assert set(ENTITY_FEATURES) <= set(with_pool.scorer.features)
    assert without.fit_info["cv_auroc"] < 0.65
    assert with_pool.fit_info["cv_auroc"] > 0.9
