"""Tools through the request path: on the device first, escalated with the tools when unsure,
refused when it cannot go up, validated whatever tier called, run only when asked."""

from __future__ import annotations

import json
import time

from edgesdk.assistant import Assistant
from edgesdk.cloud.client import ChatClient
from edgesdk.config import Settings
from edgesdk.devices import DeviceState
from edgesdk.testing.commands import load_command_tools, load_contacts
from edgesdk.testing.standin import StandIn
from tests.fakes import FakeLLM, FakeRouter, FakeTier

CONTACTS = load_contacts()
UNSURE = FakeRouter(threshold=0.5)
UNSURE.call_threshold = 1.01  # no device call is sure enough


def make(tmp_path, *, tiers=(), router=None, **kw) -> Assistant:
    return Assistant(profile="phone", settings=Settings(home=tmp_path),
                     llm=FakeLLM({"capital of France": ("Paris", -0.05)}), tiers=list(tiers),
                     router=router or FakeRouter(threshold=0.5), contacts=CONTACTS, **kw)


def wire(name: str, **args: object) -> dict:
    return {"id": "call_x", "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}


def test_a_sure_command_is_a_call_on_the_device_without_the_model(tmp_path) -> None:
    tier = FakeTier()
    with make(tmp_path, tiers=[tier], tools=load_command_tools()) as a:
        answer = a.ask("Set a timer for ten minutes")
        zh = a.ask("给妈妈打个电话")
    assert [(c.name, c.arguments) for c in answer.tool_calls] == [
        ("set_timer", {"duration_seconds": 600})]
    assert (answer.tier, answer.source, answer.escalated, answer.model) == (
        "device", "action", False, "actions")
    assert answer.text.startswith("OK: set_timer(")
    assert any(r.startswith("tool call set_timer: P(right)") for r in answer.reasons)
    assert answer.confidence > 0.5 and answer.confidence_known
    assert a.llm.prompts == [] and tier.calls == []  # type: ignore[attr-defined]
    assert (zh.tool_calls[0].name, zh.tool_calls[0].arguments) == (
        "call_contact", {"contact": "妈妈"})
    assert zh.text.startswith("好的：")


def test_a_command_with_private_details_is_made_on_the_device_and_nothing_leaves(
        tmp_path) -> None:
    """The smart-glasses demo's reminder: read right, kept on the device, never sent up."""
    def create_reminder(text: str, at: str | None = None) -> str:
        """Remind the user to do something, optionally at a time.

        Args:
            text: What to remind the user of.
            at: When, as local date and time YYYY-MM-DDTHH:MM.
        """
        return text

    tier = FakeTier()
    command = ("Remind me to email jane.doe@example.com and call +1 415 555 0100 about card "
               "4111 1111 1111 1111")
    with make(tmp_path, tiers=[tier], tools=[create_reminder]) as a:
        answer = a.ask(command)
    assert [(c.name, c.arguments) for c in answer.tool_calls] == [
        ("create_reminder", {"text": command[len("Remind me to "):]})]
    assert (answer.tier, answer.escalated, tier.calls) == ("device", False, [])


def test_a_question_with_tools_takes_the_usual_path(tmp_path) -> None:
    with make(tmp_path, tools=load_command_tools()) as a:
        answer = a.ask("What is the capital of France?")
    assert answer.tool_calls == [] and answer.text == "Paris" and answer.source == "llm"
    assert any(s.step == "action" and s.detail["tool"] is None for s in answer.trace)


def test_an_unsure_call_goes_up_with_the_tools_and_the_tiers_call_is_validated(
        tmp_path) -> None:
    tier = FakeTier(text="", tool_calls=[wire("send_message", contact="Maria Garcia",
                                             body="running late, [PHONE]")])
    with make(tmp_path, tiers=[tier], router=UNSURE,
              tools=load_command_tools()) as a:
        answer = a.ask("text Maria I'm running late, call me on +1 415 555 0100")
    sent = json.dumps(tier.calls[0])
    assert "415 555" not in sent and "[PHONE]" in sent  # the number never left
    assert tier.tools[0] is not None and len(tier.tools[0]) == 10
    call = answer.tool_calls[0]
    assert (answer.tier, answer.escalated, call.name) == ("cloud", True, "send_message")
    assert call.arguments["body"] == "running late, +1 415 555 0100"  # given back on device
    assert any("called send_message" in r for r in answer.reasons)


def test_a_tier_that_calls_an_unknown_tool_is_a_fault_and_nothing_is_called(tmp_path) -> None:
    bad = FakeTier(name="cloud", text="", tool_calls=[wire("order_pizza", size="L")])
    with make(tmp_path, tiers=[bad], router=UNSURE,
              tools=load_command_tools()) as a:
        answer = a.ask("set a timer for ten minutes")
    assert answer.tool_calls == []
    assert any("cloud_tool_call_invalid" in r and "order_pizza" in r for r in answer.reasons)
    assert answer.declined  # the device's own call was unsure, and nothing replaced it
    assert any("was not sure enough" in r for r in answer.reasons)


def test_offline_an_unsure_call_is_refused_with_the_reason(tmp_path) -> None:
    with make(tmp_path, tiers=[FakeTier()], router=UNSURE,
              device_state=DeviceState(network="none"), tools=load_command_tools()) as a:
        answer = a.ask("set a timer for ten minutes")
    assert answer.declined and answer.tool_calls == [] and answer.tier == "device"
    assert any("offline" in r for r in answer.reasons)


def test_execute_runs_the_registered_function_and_records_it(tmp_path) -> None:
    ran: list[int] = []
    with make(tmp_path) as a:
        @a.tool(examples=["start a countdown"])
        def set_timer(duration_seconds: int) -> str:
            """Start a countdown timer.

            Args:
                duration_seconds: How long, in seconds.
            """
            ran.append(duration_seconds)
            return f"Timer set for {duration_seconds // 60} minutes."

        plain = a.ask("set a timer for 5 minutes")
        done = a.ask("set a timer for 5 minutes", execute=True)
    assert ran == [300]  # once: only when asked
    assert plain.tool_calls and plain.text.startswith("OK:")
    assert done.text == "Timer set for 5 minutes."
    assert [s.step for s in done.trace][-1] == "tool:set_timer"


def test_a_request_can_bring_its_own_tools(tmp_path) -> None:
    with make(tmp_path) as a:
        answer = a.ask("take a picture", tools=[t for t in load_command_tools()
                                                if t["function"]["name"] == "take_photo"])
        none = a.ask("take a picture")
    assert answer.tool_calls[0].name == "take_photo"
    assert none.tool_calls == []


def test_the_stand_in_calls_tools_over_http_streamed_or_not(tmp_path) -> None:
    with StandIn() as server:
        for stream in (False, True):
            client = ChatClient(base_url=server.url, api_key=None, model="deepseek-chat")
            deltas: list[str] = []
            result = client.chat([{"role": "user", "content": "navigate to Central Station"}],
                                 deadline=time.monotonic() + 10, tools=load_command_tools(),
                                 on_delta=deltas.append if stream else None)
            client.close()
            assert result.finish_reason == "tool_calls" and deltas == []
            fn = result.tool_calls[0]["function"]
            assert fn["name"] == "navigate_to"
            assert json.loads(fn["arguments"]) == {"destination": "Central Station"}
        body = server.requests[-1].body
        assert body is not None and len(body["tools"]) == 10
