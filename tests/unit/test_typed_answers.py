"""Typed answers: a validated instance from the device (under a grammar) or a tier, retried
once, escalated, and never returned unvalidated."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from edgesdk.assistant import Assistant
from edgesdk.config import Settings
from edgesdk.devices import DeviceState
from edgesdk.errors import ToolSchemaError
from tests.fakes import FakeLLM, FakeRouter, FakeTier


class Event(BaseModel):
    title: str = Field(description="what the event is")
    date: str | None = Field(None, description="the day, as written")
    seats: int = Field(1, ge=1, le=500)


GOOD = json.dumps({"title": "Jazz night", "date": "Friday", "seats": 40})
BAD = json.dumps({"title": "Jazz night", "date": "Friday", "seats": 9000})


def make(tmp_path, llm_text: str, tiers=(), **kw) -> Assistant:
    return Assistant(profile="phone", settings=Settings(home=tmp_path),
                     llm=FakeLLM({"Jazz night": (llm_text, -0.2)}), tiers=list(tiers),
                     router=FakeRouter(threshold=0.5), **kw)


def test_the_device_answers_with_a_validated_instance_under_a_grammar(tmp_path) -> None:
    with make(tmp_path, GOOD) as a:
        answer = a.ask("Jazz night at the Blue Note, Friday, 40 seats", schema=Event)
        llm = a.llm
    assert isinstance(answer.output, Event) and answer.output.seats == 40
    assert (answer.tier, answer.declined, answer.confidence_known) == ("device", False, False)
    assert json.loads(answer.text)["title"] == "Jazz night"
    grammar = llm.grammars[-1]  # type: ignore[attr-defined]
    assert grammar is not None and "root ::=" in grammar and "seats" in grammar
    assert "output" not in json.loads(answer.model_dump_json())  # the JSON is in text


def test_an_invalid_device_output_is_retried_once_then_escalated(tmp_path) -> None:
    tier = FakeTier(text=GOOD)
    with make(tmp_path, BAD, tiers=[tier]) as a:
        answer = a.ask("Jazz night at the Blue Note", schema=Event)
        tries = len(a.llm.prompts)  # type: ignore[attr-defined]
    assert tries == 2
    assert "The last answer was invalid" in str(a.llm.prompts[-1])  # type: ignore[attr-defined]
    assert isinstance(answer.output, Event) and answer.tier == "cloud"
    system = tier.calls[0][0]["content"]
    assert "JSON schema" in system and '"seats"' in system


def test_nothing_valid_anywhere_is_a_decline_never_an_unvalidated_output(tmp_path) -> None:
    with make(tmp_path, BAD, tiers=[FakeTier(text="Jazz night is on Friday")]) as a:
        answer = a.ask("Jazz night at the Blue Note", schema=Event)
    assert answer.output is None and answer.declined
    assert any("cloud_output_invalid" in r for r in answer.reasons)
    with make(tmp_path, BAD, tiers=[FakeTier(text=GOOD)],
              device_state=DeviceState(network="none")) as a:
        offline = a.ask("Jazz night at the Blue Note", schema=Event)
    assert offline.output is None and offline.declined
    assert any("offline" in r for r in offline.reasons)


def test_a_schema_the_device_cannot_decode_is_a_typed_error_before_anything_runs(
        tmp_path) -> None:
    class Odd(BaseModel):
        when: int | str  # a union: outside the subset the device decodes

    with make(tmp_path, GOOD) as a, pytest.raises(ToolSchemaError, match="anyOf"):
        a.ask("Jazz night", schema=Odd)
    assert a.llm.prompts == []  # type: ignore[attr-defined]
