"""Tools: schemas from typed functions and OpenAI definitions, validation, typed errors."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from edgesdk.errors import (
    CloudToolCallInvalid,
    DuplicateTool,
    ToolArgumentsInvalid,
    ToolSchemaError,
)
from edgesdk.testing.commands import load_command_tools
from edgesdk.tools import Tool, Toolbox, calls_from_tier, load_tools


def set_timer(minutes: int, label: str | None = None,
              sound: Literal["bell", "chime"] = "bell") -> str:
    """Start a countdown timer.

    Args:
        minutes: How long, in minutes.
            Whole minutes only.
        label: What it is for.

    Returns:
        A confirmation.
    """
    return f"timer {minutes} min {label or ''}".strip()


def test_a_typed_function_becomes_an_openai_tool() -> None:
    tool = Tool.from_function(set_timer)
    fn = tool.openai()["function"]
    assert (fn["name"], fn["description"]) == ("set_timer", "Start a countdown timer.")
    props = fn["parameters"]["properties"]
    assert props["minutes"] == {"type": "integer",
                                "description": "How long, in minutes. Whole minutes only."}
    assert props["label"]["type"] == ["string", "null"]
    assert props["sound"]["enum"] == ["bell", "chime"]
    assert fn["parameters"]["required"] == ["minutes"]
    assert "$defs" not in json.dumps(fn) and "title" not in props["minutes"]
    assert tool.validate({"minutes": 3}) == {"minutes": 3}
    assert tool.run({"minutes": 3, "label": "tea"}) == "timer 3 min tea"


def test_an_openai_definition_validates_like_the_function() -> None:
    box = Toolbox(load_command_tools())
    assert len(box) == 10
    reminder = box.get("create_reminder")
    assert reminder is not None
    assert reminder.validate({"text": "pills", "at": "2026-01-15T21:00"})["at"] == \
        "2026-01-15T21:00"
    with pytest.raises(ToolArgumentsInvalid, match="not an ISO date"):
        reminder.validate({"text": "pills", "at": "tonight"})
    with pytest.raises(ToolArgumentsInvalid, match="less than or equal to 100"):
        box.call("set_volume", {"percent": 120})
    with pytest.raises(ToolArgumentsInvalid, match="24-hour"):
        box.call("set_alarm", {"time": "25:00"})
    with pytest.raises(ToolArgumentsInvalid, match="Field required"):
        box.call("send_message", {"contact": "Mom"})
    with pytest.raises(ToolArgumentsInvalid, match="Extra inputs"):
        box.call("take_photo", {"flash": True})
    call = box.call("set_timer", {"duration_seconds": 600})
    assert call.openai()["function"] == {"name": "set_timer",
                                         "arguments": '{"duration_seconds": 600}'}


@pytest.mark.parametrize("schema, words", [
    ({"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}}, "oneOf"),
    ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, r"\$ref"),
    ({"type": "object", "properties": {"a": {"type": "tuple"}}}, "unknown type"),
    ({"type": "object", "properties": {"a": {"type": "string", "format": "ipv9"}}}, "format"),
    ({"type": "object", "properties": {}, "required": ["a"]}, "requires 'a'"),
    ({"type": "object", "properties": {"a": {"type": "array"}}}, "without 'items'"),
    ({"type": "string"}, "type 'object'"),
])
def test_a_schema_the_device_cannot_decode_is_refused_at_registration(schema, words) -> None:
    with pytest.raises(ToolSchemaError, match=words):
        Tool.from_openai({"type": "function", "function": {"name": "t", "parameters": schema}})


def test_bad_names_duplicates_and_untyped_functions_are_typed_errors() -> None:
    with pytest.raises(ToolSchemaError, match="not a valid tool name"):
        Tool.from_openai({"type": "function", "function": {"name": "set timer"}})
    with pytest.raises(DuplicateTool, match="set_timer"):
        Toolbox([set_timer, set_timer])

    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(ToolSchemaError, match="no type hint"):
        Tool.from_function(untyped)

    def star(*args: int) -> None:
        return None

    with pytest.raises(ToolSchemaError, match=r"\*args"):
        Tool.from_function(star)
    with pytest.raises(ToolSchemaError, match="no Python function"):
        Toolbox(load_command_tools()).get("take_photo").run({})  # type: ignore[union-attr]


def test_a_tools_file_that_is_not_a_list_says_what_to_give(tmp_path) -> None:
    bad = tmp_path / "tools.json"
    bad.write_text('{"name": "x"}')
    with pytest.raises(ToolSchemaError, match="JSON list"):
        load_tools(bad)
    with pytest.raises(ToolSchemaError, match="cannot read"):
        load_tools(tmp_path / "missing.json")


def _wire(name: str, args: str) -> dict:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}


def test_a_tiers_calls_are_validated_and_get_the_redacted_words_back() -> None:
    box = Toolbox(load_command_tools())
    calls = calls_from_tier(box, [_wire("send_message",
                                        '{"contact": "Mom", "body": "call me at [PHONE]"}')],
                            restore=[("[PHONE]", "+1 415 555 0100")])
    assert calls[0].arguments == {"contact": "Mom", "body": "call me at +1 415 555 0100"}
    assert calls[0].id == "call_1"
    with pytest.raises(CloudToolCallInvalid, match="not offered"):
        calls_from_tier(box, [_wire("order_pizza", "{}")])
    with pytest.raises(CloudToolCallInvalid, match="not JSON"):
        calls_from_tier(box, [_wire("set_timer", "{duration")])
    with pytest.raises(CloudToolCallInvalid, match="do not validate"):
        calls_from_tier(box, [_wire("set_timer", '{"duration_seconds": "ten"}')])
