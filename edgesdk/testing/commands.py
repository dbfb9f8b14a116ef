"""Labelled spoken commands (English, Chinese) and how a tool call is scored against them.

Five sets, written apart by six people from one brief (the tools in ``commands_tools.json``,
the contacts in ``commands_contacts.json``, a fixed clock):

- ``dev`` — the commands the device's parsers and cues were written from;
- ``heldout_a``, ``heldout_b``, ``heldout_c`` — written without seeing the parsers, the cues or
  each other; each was measured unseen first (docs/actions.md), then its misses were read to
  widen the parsers and it was fitted on (``heldout_c`` asked for hard phrasings);
- ``heldout_d`` — written later by two more people; never used to change or fit anything. The
  issue's targets are read from it.

A call is right when the tool is right (or both are none) and every expected argument is
right after normalisation: numbers and codes equal; contacts equal; free text (a message
body, a destination) equal after case, punctuation, articles and traditional/simplified
forms are folded, or, for longer texts, a token F1 of at least 0.8 (characters in Chinese).
No argument the user did not state may be added, except an optional free-text one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

COMMAND_SETS = ("dev", "heldout_a", "heldout_c", "heldout_b", "heldout_d")
COMMANDS_NOW = datetime(2026, 1, 15, 12, 0)
"""The clock every set was labelled against (a Thursday, noon)."""
FREE_TEXT_F1 = 0.8


@dataclass(frozen=True)
class Command:
    id: str
    lang: str
    style: str
    text: str
    expected: dict[str, Any] | None


def load_commands(name: str) -> list[Command]:
    if name not in COMMAND_SETS:
        raise ValueError(f"unknown command set '{name}'; choose one of {COMMAND_SETS}")
    raw = resources.files("edgesdk.testing").joinpath(f"commands_{name}.jsonl").read_text("utf-8")
    return [Command(**json.loads(line)) for line in raw.splitlines() if line.strip()]


def load_command_tools() -> list[dict[str, Any]]:
    raw = resources.files("edgesdk.testing").joinpath("commands_tools.json").read_text("utf-8")
    tools: list[dict[str, Any]] = json.loads(raw)
    return tools


def load_contacts() -> list[str]:
    raw = resources.files("edgesdk.testing").joinpath("commands_contacts.json").read_text("utf-8")
    contacts: list[str] = json.loads(raw)
    return contacts


def free_text_keys(tools: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Per tool, its string arguments without a format, enum or contact role (free text)."""
    out: dict[str, set[str]] = {}
    for t in tools:
        fn = t["function"]
        props = fn["parameters"].get("properties", {})
        out[fn["name"]] = {k for k, v in props.items()
                           if v.get("type") == "string" and "enum" not in v
                           and "format" not in v and k not in ("contact", "target_language")}
    return out


def tool_right(expected: Mapping[str, Any] | None, name: str | None) -> bool:
    return (expected["name"] if expected else None) == name


def call_right(expected: Mapping[str, Any] | None, name: str | None,
               arguments: Mapping[str, Any] | None, *, free: set[str]) -> bool:
    """Right tool (or none) and every argument right after normalisation."""
    if not tool_right(expected, name):
        return False
    if expected is None:
        return True
    got = dict(arguments or {})
    want = dict(expected.get("arguments") or {})
    for key, value in want.items():
        if key not in got or not _same(value, got[key], free=key in free):
            return False
    extra = set(got) - set(want)
    return all(k in free for k in extra)  # an optional free-text label may be added


def _same(want: Any, got: Any, *, free: bool) -> bool:
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return isinstance(got, (int, float)) and abs(float(want) - float(got)) < 1e-6
    a, b = normalise(str(want)), normalise(str(got))
    if a == b:
        return True
    return free and f1(a, b) >= FREE_TEXT_F1


def normalise(text: str) -> str:
    text = text.casefold()
    text = re.sub(r"[^\w\s\u3400-\u9fff']", " ", text)
    text = re.sub(r"\b(the|a|an)\b", " ", text)
    return " ".join(text.replace("'", "'").split())


def f1(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return 0.0
    common = 0
    pool = list(tb)
    for t in ta:
        if t in pool:
            pool.remove(t)
            common += 1
    if not common:
        return 0.0
    p, r = common / len(tb), common / len(ta)
    return 2 * p * r / (p + r)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[\u3400-\u9fff]|[^\s\u3400-\u9fff]+", text)
