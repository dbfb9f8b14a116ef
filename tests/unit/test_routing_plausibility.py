"""The plausibility verdict from labelled sentences (``routing/plausibility.py``): which names,
actions and events belong together, the router's ``plaus_agree`` signal built on it, and the
soft verdict (``plaus_soft``) that places unseen names and actions by their embeddings."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from edgesdk.routing import calibrate
from edgesdk.routing.fit import Outcome, fit_calibration
from edgesdk.routing.neighbours import HashedWords
from edgesdk.routing.plausibility import (
    LARGE_GROUP,
    PLAUSIBILITY_FEATURE,
    SOFT_FEATURE,
    PlausibilityGraph,
    Statement,
    soft_agreement,
    statement,
)
from edgesdk.routing.policy import Policy
from edgesdk.routing.router import Router
from edgesdk.textnorm import polarity
from tests.unit._routing_fakes import assert_refused, gen

SPORTS = ("hockey", "soccer", "tennis")
NAMES, ACTIONS, EVENTS = 10, 8, 3  # 21 members per sport: every sport is a large group
assert NAMES + ACTIONS + EVENTS >= LARGE_GROUP


def ask(sentence: str) -> str:
    return f'Is the following sentence plausible? "{sentence}."'


def name(sport: str, i: int) -> str:
    return f"Player{sport.capitalize()} Number{i}"


def action(sport: str, j: int) -> str:
    return f"did {sport} move {j}"


def sentence(sport: str, i: int, j: int, event: int | None = None, *,
             action_sport: str | None = None) -> str:
    text = f"{name(sport, i)} {action(action_sport or sport, j)}"
    return ask(text if event is None else f"{text} in the {sport} cup {event}")


def labelled_world(seed: int = 0, names: int = NAMES) -> list[tuple[str, tuple[str, ...]]]:
    """Plausible sentences join each sport's names, actions and events; implausible ones pair
    a name with another sport's action."""
    rng = random.Random(seed)
    out: list[tuple[str, tuple[str, ...]]] = []
    for s, sport in enumerate(SPORTS):
        for i in range(names):
            out.append((sentence(sport, i, i % ACTIONS, i % EVENTS), ("Yes",)))
            out.append((sentence(sport, i, rng.randrange(ACTIONS)), ("Yes",)))
            other = SPORTS[(s + 1) % len(SPORTS)]
            out.append((sentence(sport, i, rng.randrange(ACTIONS), action_sport=other),
                        ("No",)))
    return out


def test_statements_are_split_into_name_action_and_event() -> None:
    assert statement(ask("Joao Moutinho caught the screen pass in the NFC championship")) == (
        Statement(name="joao moutinho", action="caught screen pass", event="nfc championship"))
    assert statement("Is it plausible that Kevin De Bruyne scored a hat trick?") == Statement(
        name="kevin de bruyne", action="scored hat trick", event=None)
    assert statement("Is Paris the capital of France?") is None
    assert statement(ask("the ball went in")) is None  # no name
    assert statement(ask("Mookie Betts")) is None  # no action


def test_polarity_reads_the_first_word_as_scoring_does() -> None:
    assert polarity("Yes, it is.") is True
    assert polarity("No, the sentence is not plausible.") is False
    assert polarity("It is plausible because it is true") is None
    assert polarity("") is None


def test_verdicts_from_groups_and_from_implausible_sentences() -> None:
    graph = PlausibilityGraph.fit(labelled_world())
    assert graph.large_groups == len(SPORTS)
    assert graph.verdict(sentence("hockey", 3, 5)) is True  # never seen together, same sport
    assert graph.verdict(sentence("hockey", 3, 5, action_sport="tennis")) is False
    assert graph.verdict(sentence("hockey", 3, 5, 1)) is True
    # a name and action that belong together, at another sport's event
    assert graph.verdict(ask(f"{name('hockey', 3)} {action('hockey', 5)} in the tennis cup 1")
                         ) is False
    assert graph.verdict(ask(f"Unknown Person {action('hockey', 5)}")) is None
    assert graph.verdict(ask(f"{name('hockey', 3)} did something never seen")) is None
    assert graph.verdict("Is Paris the capital of France?") is None
    # a name only ever labelled implausible with a hockey action: not hockey, nothing more
    only_wrong = ask(f"Newcomer Smith {action('hockey', 1)}")
    graph2 = PlausibilityGraph.fit([*labelled_world(), (only_wrong, ("No",))])
    assert graph2.verdict(ask(f"Newcomer Smith {action('hockey', 6)}")) is False
    assert graph2.verdict(ask(f"Newcomer Smith {action('soccer', 6)}")) is None


def test_agreement_needs_a_verdict_and_a_yes_or_no() -> None:
    graph = PlausibilityGraph.fit(labelled_world())
    same, other = sentence("soccer", 2, 4), sentence("soccer", 2, 4, action_sport="hockey")
    assert graph.agreement(same, "Yes") == 1.0
    assert graph.agreement(same, "No, the sentence is not plausible.") == -1.0
    assert graph.agreement(other, "No") == 1.0
    assert graph.agreement(same, "It is plausible because it is true") == 0.0
    assert graph.agreement("Is Paris the capital of France?", "Yes") == 0.0


def test_the_graph_round_trips_without_any_name_in_it() -> None:
    graph = PlausibilityGraph.fit([*labelled_world(),
                                   (ask(f"Newcomer Smith {action('hockey', 1)}"), ("No",))])
    assert graph.excluded
    text = json.dumps(graph.to_dict())
    assert "player" not in text.lower() and "hockey" not in text.lower()
    back = PlausibilityGraph.from_dict(json.loads(text))
    assert back == graph
    assert back.verdict(sentence("tennis", 1, 2)) is True
    with pytest.raises(ValueError, match="keys"):
        PlausibilityGraph(keys=(1, 2), groups=(0,))


def device_says_no(world: list[tuple[str, tuple[str, ...]]]) -> list[Outcome]:
    """A model that answers "No" to every plausibility question, equally sure each time (as
    SmolLM2 does): right exactly when the sentence is implausible."""
    return [Outcome(question=q, generation=gen("No", (-0.4, -0.3)), skill=None,
                    correct=gold[0] == "No", answers=gold) for q, gold in world]


def test_the_fit_reads_the_verdicts_and_the_router_ranks_with_them(tmp_path: Path) -> None:
    world = labelled_world(names=14)
    rng = random.Random(1)
    rng.shuffle(world)
    # and sentences about names no other sentence mentions: no verdict, right half the time
    unseen = [(sentence(sport, 500 + i, i % ACTIONS), ("Yes" if i % 2 else "No",))
              for sport in SPORTS for i in range(14)]
    train, pool = [*world[:80], *unseen], world[80:]
    cal = fit_calibration(device_says_no(train), model_id="fake-llm", model_sha256="a" * 64,
                          bank_pool=pool)
    assert cal.plausibility is not None and PLAUSIBILITY_FEATURE in cal.scorer.features
    assert cal.fit_info["plausibility"]["llm_verdicts"] >= 40
    assert cal.fit_info["cv_auroc"] > 0.8  # 0.5 from the tokens alone: every answer is "No"

    loaded = calibrate.load("fake-llm", path=calibrate.save(cal, tmp_path / "fake-llm.json"))
    assert loaded.plausibility == cal.plausibility
    router = Router(calibration=loaded, policy=Policy(threshold=0.5))

    def conf(question: str) -> tuple[float, list[str]]:
        value, why = router.confidence(question=question, skill=None,
                                       generation=gen("No", (-0.4, -0.3)))
        assert value is not None
        return value, why

    plausible = next(q for q, gold in pool if gold == ("Yes",))
    implausible = next(q for q, gold in pool if gold == ("No",))
    contradicted, why = conf(plausible)  # "No" to a sentence the labels call plausible
    confirmed, why_right = conf(implausible)
    unknown, why_unknown = conf(sentence("tennis", 99, 3))  # a name never seen: no verdict
    assert contradicted < 0.1 < unknown < 0.9 < confirmed, (contradicted, unknown, confirmed)
    assert any("disagrees with the labelled sentences" in w for w in why), why
    assert any("agrees with the labelled sentences" in w for w in why_right), why_right
    assert not any("labelled sentences" in w for w in why_unknown), why_unknown


def test_a_training_question_never_gets_its_verdict_from_its_own_label() -> None:
    # each name appears in exactly one sentence: without its own label, no verdict is possible
    rng = random.Random(2)
    world = []
    for s, sport in enumerate(SPORTS):
        for j in range(ACTIONS):  # the actions and events join through shared names
            world.append((sentence(sport, 100 + j, j, j % EVENTS), ("Yes",)))
            world.append((sentence(sport, 200 + j, (j + 1) % ACTIONS), ("Yes",)))
        for i in range(30):
            plausible = rng.random() < 0.5
            other = None if plausible else SPORTS[(s + 1) % len(SPORTS)]
            world.append((sentence(sport, 300 + i, rng.randrange(ACTIONS), action_sport=other),
                          ("Yes" if plausible else "No",)))
    lone = [w for w in world if "Number3" in w[0]]
    assert len(lone) >= 60
    cal = fit_calibration(device_says_no(lone), model_id="fake-llm", model_sha256="a" * 64,
                          bank_pool=[w for w in world if w not in lone])
    # the lone names are known only from their own sentences (the pool knows the actions)
    assert cal.plausibility is None  # no verdict at fit time: nothing to fit the weight on


def test_a_file_whose_scorer_reads_verdicts_needs_the_graph(tmp_path: Path) -> None:
    world = labelled_world(names=14)
    cal = fit_calibration(device_says_no(world[:80]), model_id="fake-llm",
                          model_sha256="a" * 64, bank_pool=world[80:])
    path = calibrate.save(cal, tmp_path / "fake-llm.json")
    data = json.loads(path.read_text())
    data["plausibility"] = None
    assert_refused(path, data, "plausibility graph")


def test_shipped_calibrations_carry_no_plausibility_graph() -> None:
    """The graph is fitted from labelled sports sentences (BIG-bench sports_understanding),
    which no registry serves any more (docs/router.md, "Why the sources changed"): the shipped
    calibrations have none, and the router works without one."""
    for model in ("smollm2-135m-instruct", "gemma3-270m"):
        cal = calibrate.load(model)
        assert cal.plausibility is None
        assert PLAUSIBILITY_FEATURE not in cal.scorer.features
        assert SOFT_FEATURE not in cal.scorer.features
        assert cal.fit_info["plausibility"] is None


# ----------------------------------------------------------------------- the soft verdict


class SportEmbedder:
    """A stand-in sentence model whose vectors carry the sport a text's words hint at (the
    test names and actions spell it out), plus a little per-text noise; counts its calls."""

    model_id = "fake-sport-embedder"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")
            v = np.random.default_rng(seed).normal(0.0, 0.15, 8)
            for i, sport in enumerate(SPORTS):
                v[i] += sport in text.lower()
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)


def test_the_soft_verdict_places_unseen_names_and_actions_by_their_embedding() -> None:
    embedder = SportEmbedder()
    graph = PlausibilityGraph.fit(labelled_world(), embed=embedder.embed,
                                  embedder_id=embedder.model_id)
    assert graph.centroids is not None and len(graph.centroids.groups) == len(SPORTS)
    newcomer = "PlayerHockey Newcomer"  # a hockey-sounding name no sentence mentions
    embedder.calls.clear()
    p_same = graph.soft_verdict(ask(f"{newcomer} {action('hockey', 5)}"), embedder.embed)
    assert embedder.calls == [["playerhockey newcomer"]]  # only the unseen part is embedded
    p_other = graph.soft_verdict(ask(f"{newcomer} {action('tennis', 5)}"), embedder.embed)
    assert p_same is not None and p_other is not None
    assert p_same > 0.9 and p_other < 0.1, (p_same, p_other)
    # a seen name with an unseen action that sounds like its sport, and like another
    seen = name("soccer", 2)
    p_action = graph.soft_verdict(ask(f"{seen} did a soccer trick"), embedder.embed)
    p_wrong = graph.soft_verdict(ask(f"{seen} did a tennis trick"), embedder.embed)
    assert p_action is not None and p_wrong is not None and p_action > 0.9 > 0.1 > p_wrong
    # an event of the name's sport makes it likelier, one of the action's sport less so
    with_event = graph.soft_verdict(ask(f"{newcomer} {action('tennis', 5)} in the hockey cup 1"),
                                    embedder.embed)
    assert with_event is not None and with_event < 0.1
    # a name that sounds like hockey and soccer, which a sentence labelled implausible
    # kept out of hockey: soccer is left
    both = "Hockeysoccer Newcomer3"  # leans hockey: P(soccer) 0.08 before
    ruled = PlausibilityGraph.fit([*labelled_world(), (ask(f"{both} {action('hockey', 1)}"),
                                                       ("No",))],
                                  embed=embedder.embed, embedder_id=embedder.model_id)
    before = graph.soft_verdict(ask(f"{both} {action('soccer', 2)}"), embedder.embed)
    after = ruled.soft_verdict(ask(f"{both} {action('soccer', 2)}"), embedder.embed)
    assert before is not None and after is not None and before < 0.2 < 0.9 < after
    assert ruled.verdict(ask(f"{both} {action('hockey', 2)}")) is False  # the hard rule
    # a hard verdict, another question, no centroids: no soft verdict (and no embedding)
    embedder.calls.clear()
    assert graph.soft_verdict(sentence("hockey", 3, 5), embedder.embed) is None
    assert graph.soft_verdict("Is Paris the capital of France?", embedder.embed) is None
    assert PlausibilityGraph.fit(labelled_world()).soft_verdict(
        ask(f"{newcomer} {action('hockey', 5)}"), embedder.embed) is None
    assert embedder.calls == []


def test_soft_agreement_signs_the_verdict_by_the_answer() -> None:
    assert soft_agreement(0.8, "Yes, it is.") == pytest.approx(0.6)
    assert soft_agreement(0.8, "No, the sentence is not plausible.") == pytest.approx(-0.6)
    assert soft_agreement(0.1, "No") == pytest.approx(0.8)
    assert soft_agreement(0.8, "It is plausible") == 0.0
    assert soft_agreement(None, "Yes") == 0.0
    assert soft_agreement(math.nan, "Yes") == 0.0


def test_centroids_round_trip_and_carry_no_text() -> None:
    embedder = SportEmbedder()
    graph = PlausibilityGraph.fit(labelled_world(), embed=embedder.embed,
                                  embedder_id=embedder.model_id)
    text = json.dumps(graph.to_dict())
    assert "player" not in text.lower() and "hockey" not in text.lower()
    back = PlausibilityGraph.from_dict(json.loads(text))
    assert back.centroids is not None and graph.centroids is not None
    assert back.centroids.embedder_id == embedder.model_id
    for role, vectors in graph.centroids.vectors.items():
        assert np.allclose(back.centroids.vectors[role], vectors, atol=1e-3)  # float16
    question = ask(f"PlayerTennis Newcomer {action('tennis', 1)}")
    assert back.soft_verdict(question, embedder.embed) == pytest.approx(
        graph.soft_verdict(question, embedder.embed), abs=1e-3)


def unseen_world(embedder_hint: bool) -> list[tuple[str, tuple[str, ...]]]:
    """Sentences about names no other sentence mentions (no hard verdict): half plausible, half
    pairing the name with another sport's action. With ``embedder_hint`` the names sound like
    their sport (``SportEmbedder`` hears it); without, they say nothing."""
    out = []
    for s, sport in enumerate(SPORTS):
        for i in range(16):
            who = f"{'Player' + sport.capitalize() if embedder_hint else 'Someone'} Lone{s}x{i}"
            plausible = i % 2 == 0
            act = action(sport if plausible else SPORTS[(s + 1) % len(SPORTS)], i % ACTIONS)
            out.append((ask(f"{who} {act}"), ("Yes" if plausible else "No",)))
    return out


def test_the_fit_reads_soft_verdicts_and_the_router_ranks_unseen_names(tmp_path: Path) -> None:
    world = labelled_world(names=14)
    rng = random.Random(3)
    rng.shuffle(world)
    train, pool = [*world[:60], *unseen_world(True)], world[60:]
    embedder = SportEmbedder()
    cal = fit_calibration(device_says_no(train), model_id="fake-llm", model_sha256="a" * 64,
                          bank_pool=pool, embed=embedder.embed, embedder_id=embedder.model_id)
    assert cal.plausibility is not None and cal.plausibility.centroids is not None
    assert SOFT_FEATURE in cal.scorer.features
    assert cal.fit_info["plausibility"]["llm_soft_verdicts"] >= 40
    loaded = calibrate.load("fake-llm", path=calibrate.save(cal, tmp_path / "fake-llm.json"))
    router = Router(calibration=loaded, policy=Policy(threshold=0.5), embedder=embedder)

    def conf(question: str) -> tuple[float, list[str]]:
        value, why = router.confidence(question=question, skill=None,
                                       generation=gen("No", (-0.4, -0.3)))
        assert value is not None
        return value, why

    # "No" to unseen hockey-sounding names: right with a soccer action, wrong with a hockey one
    right, why = conf(ask(f"PlayerHockey Stranger {action('soccer', 2)}"))
    wrong, _ = conf(ask(f"PlayerHockey Stranger {action('hockey', 2)}"))
    assert wrong < 0.3 < 0.7 < right, (wrong, right)
    assert any("unseen parts" in w for w in why), why

    # the same sentences with names that say nothing: the unseen ones are guesses again
    quiet = fit_calibration(device_says_no([*world[:60], *unseen_world(False)]),
                            model_id="fake-llm", model_sha256="a" * 64, bank_pool=pool,
                            embed=embedder.embed, embedder_id=embedder.model_id)
    assert quiet.fit_info["cv_auroc"] < cal.fit_info["cv_auroc"] - 0.05


def test_hashed_words_keep_no_centroids_and_files_must_match(tmp_path: Path) -> None:
    world = labelled_world(names=14)
    train, pool = [*world[:60], *unseen_world(True)], world[60:]
    hashed = HashedWords()
    plain = fit_calibration(device_says_no(train), model_id="fake-llm", model_sha256="a" * 64,
                            bank_pool=pool, embed=hashed.embed, embedder_id=hashed.model_id)
    assert plain.plausibility is not None and plain.plausibility.centroids is None
    assert SOFT_FEATURE not in plain.scorer.features

    embedder = SportEmbedder()
    cal = fit_calibration(device_says_no(train), model_id="fake-llm", model_sha256="a" * 64,
                          bank_pool=pool, embed=embedder.embed, embedder_id=embedder.model_id)
    path = calibrate.save(cal, tmp_path / "fake-llm.json")
    data = json.loads(path.read_text())
    data["plausibility"].pop("centroids")
    assert_refused(path, data, "soft plausibility verdicts")
    data = json.loads(calibrate.save(cal, tmp_path / "fake-llm.json").read_text())
    data["plausibility"]["centroids"]["embedder_id"] = "another-model"
    assert_refused(path, data, "embedded with 'another-model'")


def test_without_its_embedder_the_soft_signal_is_missing_and_routing_fails_safe() -> None:
    world = labelled_world(names=14)
    embedder = SportEmbedder()
    cal = fit_calibration(device_says_no([*world[:60], *unseen_world(True)]),
                          model_id="fake-llm", model_sha256="a" * 64, bank_pool=world[60:],
                          embed=embedder.embed, embedder_id=embedder.model_id)

    class Broken:
        model_id = embedder.model_id

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            raise RuntimeError("no model file")

    router = Router(calibration=cal, policy=Policy(threshold=0.5), embedder=Broken())
    question = ask(f"PlayerHockey Stranger {action('soccer', 2)}")
    feats = router.features(question, gen("No", (-0.4, -0.3)))
    assert math.isnan(feats[SOFT_FEATURE])
    value, why = router.confidence(question=question, skill=None,
                                   generation=gen("No", (-0.4, -0.3)))
    assert value is None and any("embedding unavailable" in w for w in why), (value, why)
