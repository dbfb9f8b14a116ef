"""Tools and typed answers with the real local model: grammars decode fast and always parse."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import BaseModel, Field

from edgesdk.assistant import Assistant
from edgesdk.config import Settings
from edgesdk.local.slot_llm import fill_free_text
from edgesdk.testing.commands import load_command_tools, load_contacts
from edgesdk.testing.standin import StandIn
from edgesdk.tools import Toolbox
from tests.conftest import REAL_HOME

pytestmark = pytest.mark.integration


class Sign(BaseModel):
    title: str = Field(description="what the event is")
    date: str | None = Field(None, description="the day, as written")
    place: str | None = Field(None, description="where")


@pytest.fixture(scope="module")
def glasses(real_catalog: object):
    with Assistant(profile="glasses", settings=Settings(home=REAL_HOME), tiers=[],
                   tools=load_command_tools(), contacts=load_contacts()) as assistant:
        yield assistant


def test_a_typed_answer_from_the_real_model_under_the_schema_grammar(glasses) -> None:
    started = time.perf_counter()
    answer = glasses.ask("Farmers market, Saturday 9am-1pm, Union Square", schema=Sign,
                         mode="only-on-device")
    seconds = time.perf_counter() - started
    assert isinstance(answer.output, Sign), answer.reasons
    assert "market" in answer.output.title.lower()
    assert seconds < 20  # the grammar checks one token per step, not the vocabulary


def test_the_real_model_picks_a_span_of_the_command_under_the_span_grammar(glasses) -> None:
    tool = Toolbox(load_command_tools()).get("send_message")
    assert tool is not None
    command = "text Maria I'm running late"
    values = fill_free_text(glasses.llm, command, tool, ["body"])
    assert values is not None and values["body"]
    assert values["body"] in command  # a span of the user's words, never invented


def test_a_command_is_a_call_on_the_device_and_a_question_is_not(glasses) -> None:
    call = glasses.ask("Set a timer for ten minutes", mode="only-on-device")
    assert call.tool_calls[0].arguments == {"duration_seconds": 600} and call.tier == "device"
    question = glasses.ask("What is the capital of France?", mode="only-on-device")
    assert question.tool_calls == [] and question.source in ("llm", "skill")


def test_an_unsure_call_is_escalated_to_the_stand_ins_function_calling(real_catalog) -> None:
    from edgesdk.cloud.tier import build_tier
    from tests.fakes import FakeRouter

    unsure = FakeRouter(threshold=0.5)
    unsure.call_threshold = 1.01
    with StandIn() as server:
        tier = build_tier(name="cloud", tier="cloud", base_url=server.url, model="deepseek-chat",
                          api_key=None)
        with Assistant(profile="glasses", settings=Settings(home=REAL_HOME), tiers=[tier],
                       router=unsure, tools=load_command_tools()) as a:
            answer = a.ask("navigate to Central Station")
        body = server.requests[-1].body or {}
    assert answer.tier == "cloud" and answer.tool_calls[0].name == "navigate_to"
    assert answer.tool_calls[0].arguments == {"destination": "Central Station"}
    assert len(body["tools"]) == 10 and body["tool_choice"] == "auto"
    assert json.dumps(body).count("Central Station") == 1
