"""The answer bank: which answers are right for questions like this one (no models needed)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgesdk.errors import CalibrationError
from edgesdk.routing import calibration as calibrate
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.neighbours import BANK_FEATURES, AnswerBank, fit_bank
from edgesdk.routing.scorer import LinearScorer
from edgesdk.routing.signal import LabelledRow as Outcome
from edgesdk.routing.signal import RunTime
from edgesdk.routing.signals.neighbours import NeighbourSignal
from tests.unit._routing_fakes import gen


class HashEmbedder:
    """Bag of hashed words, L2-normalised: similar wording → similar vectors."""

    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim))
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.sha256(word.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
            out[i] /= max(np.linalg.norm(out[i]), 1e-9)
        return out


def labelled(n: int = 300, seed: int = 0) -> list[Outcome]:
    """Instrument questions (gold mostly piano) and citizenship questions (gold rarely
    Germany); the device always says piano / Germany with the same token evidence."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lp = (-0.3, -0.2)
        if i % 2 == 0:
            gold = "piano" if rng.random() < 0.7 else rng.choice(["guitar", "violin"])
            q = f"The instrument played by musician {i} is"
            answer = "piano"
        else:
            gold = "Germany" if rng.random() < 0.1 else rng.choice(["France", "Italy", "Spain"])
            q = f"The country of citizenship of writer {i} is"
            answer = "Germany"
        out.append(Outcome(question=q, generation=gen(answer, lp), skill=None,
                           correct=gold == answer, answers=(gold,)))
    return out


def bank_of(data: Sequence[Outcome], emb: HashEmbedder) -> AnswerBank:
    questions = [o.question for o in data]
    return fit_bank(questions, emb.embed(questions), [o.answers for o in data],
                    embedder_id="hash")


def lookup(cal: calibrate.Calibration) -> NeighbourSignal:
    """The calibration's answer bank and history: its ``neighbours`` signal."""
    signal = cal.signal("neighbours")
    assert isinstance(signal, NeighbourSignal)
    return signal


def test_fit_bank_keeps_only_shared_answers_and_unit_vectors() -> None:
    emb = HashEmbedder()
    questions = ["The instrument of A is", "The instrument of B is", "The capital of C is"]
    bank = fit_bank(questions, emb.embed(questions), [["Piano"], ["piano", "Kazoo"], ["Lima"]],
                    embedder_id="hash")
    assert bank.answers == (("piano",), ("piano",), ())  # kazoo and Lima are one-offs
    assert np.allclose(np.linalg.norm(bank.vectors, axis=1), 1.0, atol=0.02)
    with pytest.raises(ValueError, match="one embedding row"):
        fit_bank(questions, emb.embed(questions), [["x"]], embedder_id="hash")


def test_features_count_neighbours_whose_gold_matches_the_answer() -> None:
    emb = HashEmbedder()
    bank = bank_of(labelled(), emb)
    q = "The instrument played by musician 1000 is"
    vec = emb.embed([q])[0]
    piano = bank.features(vec, q, "piano")
    assert set(piano) == set(BANK_FEATURES)
    assert piano["nb_rate"] > 0.5 and piano["nb_sim"] > 0.5
    assert bank.features(vec, q, "The instrument is the piano.")["nb_rate"] == piano["nb_rate"]
    assert bank.features(vec, q, "kazoo")["nb_rate"] == 0.0
    q2 = "The country of citizenship of writer 1001 is"
    germany = bank.features(emb.embed([q2])[0], q2, "Germany")
    assert germany["nb_rate"] < 0.3
    assert bank.features(vec, q, "  ") == dict.fromkeys(BANK_FEATURES, 0.0)


def test_a_question_is_never_its_own_neighbour_when_excluded() -> None:
    emb = HashEmbedder()
    questions = ["alpha beta gamma", "alpha beta gamma", "delta epsilon zeta", "eta theta"]
    bank = fit_bank(questions, emb.embed(questions), [["yes"], ["no"], ["yes"], ["no"]],
                    embedder_id="hash", k=1)
    vec = emb.embed(["alpha beta gamma"])[0]
    assert bank.features(vec, "alpha beta gamma", "no", exclude=0)["nb_rate"] == 1.0
    assert bank.features(vec, "alpha beta gamma", "no", exclude=1)["nb_rate"] == 0.0


def test_round_trip_through_json_keeps_the_features() -> None:
    emb = HashEmbedder()
    bank = bank_of(labelled(), emb)
    again = AnswerBank.from_dict(json.loads(json.dumps(bank.to_dict())))
    q = "The instrument played by musician 7 is"
    vec = emb.embed([q])[0]
    a, b = bank.features(vec, q, "piano"), again.features(vec, q, "piano")
    assert a["nb_rate"] == b["nb_rate"] and abs(a["nb_sim"] - b["nb_sim"]) < 1e-3
    broken = {**bank.to_dict(), "answers": [["piano"]]}
    with pytest.raises(ValueError, match="answer lists"):
        AnswerBank.from_dict(broken)


def piano_or_kazoo(n: int = 300) -> list[Outcome]:
    """One template, one-word answers, identical token evidence: piano is right 70% of the
    time, kazoo never; only the bank can tell them apart."""
    rng = random.Random(1)
    data = []
    for i in range(n):
        gold = "piano" if rng.random() < 0.7 else rng.choice(["guitar", "violin"])
        answer = "piano" if i % 2 else "kazoo"
        data.append(Outcome(question=f"The instrument played by musician {i} is",
                            generation=gen(answer, (-0.3, -0.2)), skill=None,
                            correct=gold == answer, answers=(gold,)))
    return data


def test_fit_with_the_bank_sees_what_token_evidence_cannot(tmp_path: Path) -> None:
    data = piano_or_kazoo()
    plain = fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64)
    emb = HashEmbedder()
    with_bank = fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                                embed=emb.embed, embedder_id="hash")
    assert plain.signal("neighbours") is None
    bank = lookup(with_bank).bank
    assert set(BANK_FEATURES) <= set(with_bank.scorer.features)
    assert len(bank.answers) == len(data)
    assert with_bank.fit_info["embedder_id"] == "hash" and plain.fit_info["embedder_id"] is None
    assert plain.fit_info["cv_auroc"] < 0.6
    assert with_bank.fit_info["cv_auroc"] > 0.75
    path = calibrate.save(with_bank, tmp_path / "fake-llm.json")
    loaded = lookup(calibrate.load("fake-llm", path=path))
    assert loaded.bank.answers == bank.answers and loaded.bank.digest() == bank.digest()
    assert (loaded.low, loaded.high) == (lookup(with_bank).low, lookup(with_bank).high)


def test_fit_needs_gold_answers_for_the_bank() -> None:
    data = [Outcome(question=o.question, generation=o.generation, skill=None,
                    correct=o.correct) for o in labelled()]
    with pytest.raises(CalibrationError, match="gold answers"):
        fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                        embed=HashEmbedder().embed, embedder_id="hash")
    with pytest.raises(ValueError, match="question embedder"):  # the id says what it is
        fit_calibration(labelled(), model_id="fake-llm", model_sha256="a" * 64,
                        embed=HashEmbedder().embed)


def test_hashed_words_are_stable_normalised_and_wording_aware() -> None:
    from edgesdk.routing.neighbours import HashedWords

    hw = HashedWords()
    a, b, c, zh, empty = hw.embed(["The instrument of Philip Glass is",
                                   "The instrument of Frank Zappa is",
                                   "Lithuania shares a border with", "太阳是恒星吗？", ""])
    assert np.allclose([np.linalg.norm(v) for v in (a, b, c, zh)], 1.0)
    assert not empty.any()
    assert a @ b > 0.4 > abs(a @ c)
    assert np.array_equal(hw.embed(["The instrument of Philip Glass is"])[0], a)  # no salt


def test_router_refuses_a_bank_from_an_unknown_embedder(tmp_path: Path) -> None:
    from edgesdk.routing.neighbours import HashedWords
    from edgesdk.routing.policy import Policy
    from edgesdk.routing.router import Router
    from edgesdk.routing.signals import neighbours as signal_module

    data = piano_or_kazoo()
    fitted = fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                             embed=HashEmbedder().embed, embedder_id="someone-elses-model")
    path = calibrate.save(fitted, tmp_path / "fake-llm.json")
    # given an embedder, it must be the one the bank was fitted with
    with pytest.raises(CalibrationError, match="someone-elses-model"):
        calibrate.load("fake-llm", path=path, runtime=RunTime(embedder=HashedWords()))
    # without one, the lookup loads the bank's own on first use, which this edgesdk lacks
    cal = calibrate.load("fake-llm", path=path)
    router = Router(calibration=cal, policy=Policy(threshold=0.5))
    q = "The instrument played by musician 1 is"
    with pytest.raises(CalibrationError, match="someone-elses-model"):
        lookup(cal).vector(q)
    assert not router.prepare(q)
    d = router.decide(question=q, generation=gen("piano", (-0.1,)), skill=None)
    assert d.action == "escalate" and any("embedding unavailable" in r for r in d.reasons)

    calls = []
    monkey = pytest.MonkeyPatch()
    monkey.setattr(signal_module, "bank_embedder", lambda eid: calls.append(eid))
    try:
        with pytest.raises(CalibrationError):
            lookup(cal).vector("another question")
        assert not router.prepare("a third question")
    finally:
        monkey.undo()
    assert calls == []  # the failed load is remembered, not retried per question


def test_top_k_is_exact_whatever_the_similarities() -> None:
    from edgesdk.routing.neighbours import _top

    rng = np.random.default_rng(0)
    for spread in (0.05, 0.3, 1.0):  # few, some or many rows above the floors
        sims = (rng.random(5000) * spread + (1 - spread)).astype(np.float32)
        want = set(np.argsort(-sims)[:20].tolist())
        assert set(_top(sims, 20).tolist()) == want
    sims = np.full(30, -0.5, dtype=np.float32)
    sims[:3] = 0.9
    assert set(_top(sims, 3).tolist()) == {0, 1, 2}


def test_a_large_bank_lives_in_one_shared_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    from edgesdk.routing.signals import neighbours as signal_module

    monkeypatch.setattr(signal_module, "INLINE_BANK_MAX", 10)
    monkeypatch.setattr(calibrate, "CALIBRATION_DIR", tmp_path / "shipped")
    data = piano_or_kazoo()
    pool = [(f"The country of citizenship of painter {i} is", ["France" if i % 3 else "Italy"])
            for i in range(200)]
    cal = fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                          embed=HashEmbedder().embed, embedder_id="hash", bank_pool=pool)
    bank = lookup(cal).bank
    assert len(bank.answers) == 500
    out = calibrate.save(cal, tmp_path / "a" / "fake-llm.json")
    banks = list((tmp_path / "a").glob("answer-bank-*.npz"))
    assert len(banks) == 1
    state = json.loads(out.read_text())["signals"]["neighbours"]["bank"]
    assert state == {"file": banks[0].name, "sha256": bank.digest()}
    again = lookup(calibrate.load("fake-llm", path=out)).bank
    assert again.answers == bank.answers and again.file == banks[0].name
    # a second model fitted on the same questions shares the file
    calibrate.save(cal, tmp_path / "a" / "other.json")
    assert len(list((tmp_path / "a").glob("answer-bank-*.npz"))) == 1
    # a bank that does not match what the calibration was fitted with is refused
    other = fit_bank(["a b", "c d"], HashEmbedder().embed(["a b", "c d"]), [["x"], ["x"]],
                     embedder_id="hash")
    other.save_npz(banks[0])
    with pytest.raises(CalibrationError, match="does not match"):
        calibrate.load("fake-llm", path=out)
    banks[0].unlink()
    with pytest.raises(CalibrationError, match="is missing"):
        calibrate.load("fake-llm", path=out)


def test_pool_duplicates_of_a_training_question_are_left_out_of_its_own_features() -> None:
    data = piano_or_kazoo(120)
    # the pool repeats every training question (other ids, same text): leave-one-out must
    # drop the merged row, or each row would see its own gold answer
    pool = [(o.question.upper(), list(o.answers)) for o in data]
    cal = fit_calibration(data, model_id="fake-llm", model_sha256="a" * 64,
                          embed=HashEmbedder().embed, embedder_id="hash", bank_pool=pool)
    assert len(lookup(cal).bank.answers) == len(data)
    leaky = fit_calibration(
        [Outcome(question=o.question, generation=o.generation, skill=None, correct=o.correct,
                 answers=o.answers) for o in data], model_id="fake-llm", model_sha256="a" * 64,
        embed=HashEmbedder().embed, embedder_id="hash",
        bank_pool=[(o.question + " ?", list(o.answers)) for o in data])  # not the same text
    assert cal.fit_info["cv_auroc"] < leaky.fit_info["cv_auroc"]  # the leak would show


def test_every_shipped_bank_file_is_used_by_a_shipped_calibration() -> None:
    shipped = {p.name for p in calibrate.CALIBRATION_DIR.glob("answer-bank-*.npz")}
    used = set()
    for p in calibrate.CALIBRATION_DIR.glob("*.json"):
        cal = calibrate.load(p.stem, path=p)
        if cal.signal("neighbours") is not None:
            used.add(lookup(cal).bank.file)
    assert shipped == used


def test_a_rewording_shares_its_questions_bank_row_and_never_sees_it() -> None:
    data = piano_or_kazoo(120)

    def reworded(o: Outcome, *, same_as: bool) -> Outcome:
        number = o.question.split()[-2]
        return Outcome(question=f"Which instrument does musician {number} play?",
                       generation=o.generation, skill=None, correct=o.correct,
                       answers=o.answers, same_as=o.question if same_as else None)

    kept = fit_calibration([*data, *(reworded(o, same_as=True) for o in data)],
                           model_id="fake-llm", model_sha256="a" * 64,
                           embed=HashEmbedder().embed, embedder_id="hash")
    assert len(lookup(kept).bank.answers) == len(data)
    # without same_as each rewording is its own bank row and finds its twin, gold and all
    leaky = fit_calibration([*data, *(reworded(o, same_as=False) for o in data)],
                            model_id="fake-llm", model_sha256="a" * 64,
                            embed=HashEmbedder().embed, embedder_id="hash")
    assert len(lookup(leaky).bank.answers) == 2 * len(data)
    assert kept.fit_info["cv_auroc"] < leaky.fit_info["cv_auroc"] - 0.05


def _generic_part(scorer: LinearScorer, lookup_features: Sequence[str]) -> LinearScorer:
    """``scorer`` without its columns for ``lookup_features``: what it reads from the generic
    signals alone."""
    keep = [i for i, f in enumerate(scorer.features) if f not in lookup_features]
    columns = [*keep, *range(len(scorer.features), len(scorer.features) + len(scorer.interactions))]

    def pick(values: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(values[i] for i in columns) if values else ()

    return replace(scorer, features=tuple(scorer.features[i] for i in keep), mean=pick(scorer.mean),
                   scale=pick(scorer.scale), weights=pick(scorer.weights), low=pick(scorer.low),
                   high=pick(scorer.high))


def test_far_from_the_bank_the_lookup_adds_nothing() -> None:
    from edgesdk.routing.kinds import question_kind
    from edgesdk.routing.policy import Policy
    from edgesdk.routing.router import Router
    from edgesdk.routing.signal import Request

    emb = HashEmbedder()
    cal = fit_calibration(labelled(), model_id="fake-llm", model_sha256="a" * 64,
                          embed=emb.embed, embedder_id="hash")
    signal = lookup(cal)
    gated = signal.features
    assert gated[0] == "nb_near" and not any(f in pair for pair in cal.scorer.interactions
                                             for f in gated)
    generic = [s for s in cal.base_signals() if s.role == "generic"]
    router = Router(calibration=cal, policy=Policy(threshold=0.5))
    near_q = "The country of citizenship of writer 1001 is"
    far_q = "The boiling point of liquid nitrogen in kelvin is"  # other words, same kind
    assert question_kind(far_q) == "fact" and cal.fitted_on("fact")  # so the router scores it
    assert float(signal.bank.similarities(emb.embed([far_q])[0]).max()) < 0.5

    def confidences(question: str) -> dict[str, float]:
        out = {}
        for answer in ("Italy", "Germany"):  # same tokens, the bank tells them apart
            g = gen(answer, (-0.3, -0.2))
            request = Request(question=question, generation=g)
            why: list[str] = []
            feats = router.features(request, why)
            conf, reasons = router.confidence(question=question, generation=g, skill=None)
            assert conf is not None
            base = {k: v for s in generic for k, v in s.compute(request, []).items()}
            zeroed = cal.scorer.prob({**base, **dict.fromkeys(gated, 0.0)})
            if question == far_q:
                assert feats["nb_near"] == 0.0
                assert all(feats[f] == 0.0 for f in gated), feats  # exactly: no nan, no noise
                assert "far from the labelled questions: generic signals only" in why
                # what the same scorer gives without the lookup, and what its generic
                # columns alone give: the lookup adds exactly nothing
                assert conf == zeroed == _generic_part(cal.scorer, gated).prob(base)
            else:
                assert 0.0 < feats["nb_near"] <= 1.0 and feats["nb_rate"] > 0.0
                assert any("near labelled questions" in r for r in reasons), reasons
                assert conf != zeroed
            out[answer] = conf
        return out

    near, far = confidences(near_q), confidences(far_q)
    assert abs(near["Italy"] - near["Germany"]) > 0.05  # near the bank it reads the answer
    assert far["Italy"] == far["Germany"]  # far from it, only the (identical) evidence
