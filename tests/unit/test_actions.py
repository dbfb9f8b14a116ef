"""The device's command reader on labelled commands it was, and was not, written from."""

from __future__ import annotations

from datetime import datetime

import pytest

from edgesdk.bench_actions import measure_set, reader_for_commands
from edgesdk.local.actions import FEATURES, ActionReader
from edgesdk.local.grammar import span_grammar, span_tokens
from edgesdk.local.slot_plan import plan_slots
from edgesdk.routing.actions import load_call_calibration
from edgesdk.testing.commands import COMMAND_SETS, call_right, load_commands
from edgesdk.tools import Tool, Toolbox

NOW = datetime(2026, 1, 15, 12, 0)


@pytest.fixture(scope="module")
def measured() -> dict:
    reader, free = reader_for_commands()
    calibration = load_call_calibration()
    return {name: measure_set(name, reader, calibration, free=free) for name in COMMAND_SETS}


def test_every_set_is_labelled_consistently() -> None:
    for name in COMMAND_SETS:
        items = load_commands(name)
        assert len({c.id for c in items}) == len(items)
        assert {c.lang for c in items} == {"en", "zh"}
        assert sum(c.expected is None for c in items) >= 0.25 * len(items)


def test_the_unseen_commands_hold_their_measured_figures(measured) -> None:
    """heldout_d was written apart and never used to change or fit anything (docs/actions.md);
    these floors hold the figures measured on it, so a change that loses them fails here."""
    d = measured["heldout_d"]
    assert d["tool_choice"] >= 0.95 and d["full_call"] >= 0.93
    assert d["auroc"] is not None and d["auroc"] >= 0.85
    assert d["kept_share_of_commands"] >= 0.90 and d["kept_accuracy"] >= 0.95
    b = measured["heldout_b"]  # unseen until its misses widened the parsers; now fitted on
    assert b["tool_choice"] >= 0.98 and b["full_call"] >= 0.97 and b["kept_accuracy"] >= 0.95
    c = measured["heldout_c"]  # the hard set; its misses widened the parsers too
    assert c["tool_choice"] >= 0.97 and c["full_call"] >= 0.94
    a = measured["heldout_a"]
    assert a["tool_choice"] >= 0.97 and a["full_call"] >= 0.95
    assert measured["dev"]["full_call"] >= 0.98


def test_questions_and_requests_no_tool_does_are_rarely_calls(measured) -> None:
    for name, s in measured.items():
        assert s["by"]["style"]["question"]["tool"] >= (0.95 if name == "heldout_d" else 0.98)
        assert s["by"]["style"]["no_tool"]["tool"] >= 0.95


def test_a_reading_says_why_and_gives_the_scorer_every_feature() -> None:
    reader, _ = reader_for_commands()
    made = reader.read("text Maria I'm running late")
    assert (made.tool, made.arguments) == ("send_message", {"contact": "Maria Garcia",
                                                             "body": "I'm running late"})
    assert made.free_text == ("body",)
    assert set(made.features) == set(FEATURES)
    assert "contact by parser" in made.reasons[0]
    question = reader.read("why is French hard to learn?")
    assert question.tool is None
    closest = reader.read("what's a good alarm clock app?")
    assert closest.tool is None and "not a call" in closest.reasons[0]
    proposed = reader.read("what's a good alarm clock app?", propose=True)
    assert proposed.tool == "set_alarm"  # the near miss the scorer is fitted on


def test_an_apps_own_tool_with_no_built_in_intent_is_found_by_its_words() -> None:
    def add_to_shopping_list(item: str) -> str:
        """Add an item to the shopping list."""
        return item

    reader = ActionReader(Toolbox([add_to_shopping_list]), now=lambda: NOW)
    assert plan_slots(Tool.from_function(add_to_shopping_list))[0].kind == "text"
    reading = reader.read("add oat milk to my shopping list")
    assert reading.tool == "add_to_shopping_list"
    assert reading.arguments["item"]
    assert reader.read("what is the capital of France?").tool is None


def test_the_span_grammar_allows_only_the_commands_own_words() -> None:
    tokens = span_tokens('text "Maria" I\'m late，好的')
    assert [t for _, t in tokens] == ["text", "Maria", "I'm", "late", "好", "的"]
    grammar = span_grammar("text Maria I'm late", ["body"], fixed={"contact": "Maria Garcia"})
    assert grammar.startswith('root ::= "{" "\\"contact\\": \\"Maria Garcia\\"" ", "')
    assert 's2 ::= "I\'m" t3?' in grammar and 't3 ::= " late"' in grammar


def test_scoring_folds_case_articles_and_allows_a_near_free_text() -> None:
    want = {"name": "navigate_to", "arguments": {"destination": "the nearest pharmacy"}}
    assert call_right(want, "navigate_to", {"destination": "Nearest Pharmacy"},
                      free={"destination"})
    assert not call_right(want, "navigate_to", {"destination": "pharmacy on Main"},
                          free={"destination"})
    assert not call_right(want, "navigate_to", {"destination": "the nearest pharmacy",
                                                "mode": "walking"}, free={"destination"})
    assert call_right(None, None, None, free=set())
