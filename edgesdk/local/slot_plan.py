"""How each argument of a tool is filled on the device, planned once from its JSON schema:
the kind of value (a duration, a clock time, a date-time, a percentage, a number, a language,
a contact, an enum value, or free text) and the parser that reads it out of a command.

The plan comes from the schema alone (type, format, enum, name, description), so an app's own
tools are read without any table here; ``actions.py`` decides which tool a command asks for and
takes the free text from what the parsers leave.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from edgesdk.local.clock import Found, alarm_time, find_clock, find_duration, find_when
from edgesdk.local.slots import (
    find_capitalised_name,
    find_language,
    find_number,
    find_percent,
    match_contact,
)
from edgesdk.tools import Tool

SlotKind = Literal["duration", "clock", "when", "date", "percent", "number", "language",
                   "contact", "enum", "flag", "text"]
_ENUM_SYNONYMS: dict[str, tuple[str, ...]] = {
    "walking": ("walk", "on foot", "走路", "步行", "走过去"),
    "driving": ("drive", "car", "开车", "自驾"),
    "cycling": ("bike", "cycle", "bicycle", "biking", "骑车", "骑自行车"),
    "transit": ("subway", "metro", "bus", "train", "public transport", "地铁", "公交", "坐车"),
}

_BY = re.compile(r"(?<![a-z])(?:by|via|on|in\s+a|on\s+a|on\s+the|by\s+the|in\s+the|with\s+the|"
                 r"take\s+the|taking\s+the|"
                 r"坐|乘)\s*$")
"""The preposition before an enum's synonym ("by car", "on foot", "坐地铁"), cut with it."""


@dataclass(frozen=True)
class Slot:
    name: str
    kind: SlotKind
    required: bool
    schema: Mapping[str, Any]
    seconds_per_unit: int = 1


def plan_slots(tool: Tool) -> tuple[Slot, ...]:
    """How each argument of ``tool`` is filled, from its type, format, name and description."""
    required = set(tool.required)
    out = []
    for name, schema in tool.properties.items():
        words = f"{name} {schema.get('description') or ''}".lower().replace("_", " ")
        types = schema.get("type")
        kind_of = types if isinstance(types, str) else next(
            (t for t in (types or []) if t != "null"), "string")
        fmt = schema.get("format")
        kind: SlotKind
        unit = 1
        if "enum" in schema:
            kind = "enum"
        elif fmt == "time":
            kind = "clock"
        elif fmt == "date-time":
            kind = "when"
        elif fmt == "date":
            kind = "date"
        elif kind_of in ("integer", "number"):
            if re.search(r"second|minute|hour|duration", words):
                kind = "duration"
                unit = 3600 if re.search(r"\bhours?\b", name) else 60 if re.search(
                    r"minute", name) else 1
            elif re.search(r"percent|volume|level|brightness|%", words) or \
                    schema.get("maximum") == 100:
                kind = "percent"
            else:
                kind = "number"
        elif kind_of == "boolean":
            kind = "flag"
        elif re.search(r"date and time|date-time|datetime|timestamp|yyyy-mm-ddthh", words) or \
                name in ("at", "when", "due", "deadline", "datetime"):
            kind = "when"
        elif re.search(r"clock time|hh:mm", words) or name == "time":
            kind = "clock"
        elif re.search(r"yyyy-mm-dd|\bdate\b", words) or name in ("date", "day"):
            kind = "date"
        elif re.search(r"\blanguage\b|\blang\b|locale", words):
            kind = "language"
        elif re.search(r"contact|recipient|callee|person|^to$|^who$", name) or (re.search(
                r"\b(contact|recipient|callee|person)\b", words) and not re.search(
                r"\b(message|body|text|content)\b", name)):
            kind = "contact"
        else:
            kind = "text"
        out.append(Slot(name=name, kind=kind, required=name in required, schema=schema,
                        seconds_per_unit=unit))
    return tuple(out)


def read_typed(slot: Slot, command: str, now: datetime,
               contacts: Sequence[str] = ()) -> Found[Any] | None:
    """The value of a typed (non-free-text) argument in ``command``, with its span."""
    kind = slot.kind
    if kind == "duration":
        d = find_duration(command)
        if d is None:
            return None
        value: Any = d.value / slot.seconds_per_unit
        if slot.schema.get("type") == "integer":
            if d.value % slot.seconds_per_unit:
                return None
            value = int(value)
        return Found(value, d.start, d.end)
    if kind == "clock":
        c = find_clock(command)
        return Found(alarm_time(c), c.start, c.end) if c is not None else None
    if kind in ("when", "date"):
        w = find_when(command, now)
        if w is None:
            return None
        text = w.value.date().isoformat() if kind == "date" else \
            w.value.strftime("%Y-%m-%dT%H:%M")
        return Found(text, w.start, w.end)
    if kind == "percent":
        return find_percent(command)
    if kind == "number":
        n = find_number(command)
        if n is None:
            return None
        return Found(int(n.value) if slot.schema.get("type") == "integer" else n.value,
                     n.start, n.end)
    if kind == "language":
        return find_language(command)
    if kind == "contact":
        return match_contact(command, contacts) or find_capitalised_name(command)
    if kind == "enum":
        return find_enum(slot, command)
    return None


def find_enum(slot: Slot, command: str) -> Found[Any] | None:
    """An enum value or one of its synonyms ("by car" → driving), with the preposition."""
    lowered = command.lower()
    for value in slot.schema.get("enum") or ():
        for word in (str(value), *_ENUM_SYNONYMS.get(str(value), ())):
            stem = word.lower()[:-3] if word.lower().endswith("ing") and len(word) > 5 else \
                word.lower()
            m = re.search(rf"(?<![a-z]){re.escape(stem)}\w*" if stem.isascii() else
                          re.escape(stem), lowered)
            if m:
                by = _BY.search(lowered, 0, m.start())
                return Found(value, by.start() if by else m.start(), m.end())
    return None
