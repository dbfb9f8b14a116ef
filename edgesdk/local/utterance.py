"""How people actually say a command: they correct themselves mid-sentence ("set a timer for
35 minutes, no wait, make it 40", "定个十五分钟的，不对，二十分钟") and wrap it in other clauses
("my flight is at 9, so wake me up at 5:45", "三点开会，两点半提醒我").

A parser that reads the first value it meets gets both wrong. This module rewrites a corrected
number into the sentence (the unit of the value it replaces is kept when the correction is a
bare number), and splits a command into clauses so the reader (``actions.py``) can prefer the
value in the clause that holds the command's cue when the command says more than one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_I = re.IGNORECASE

CORRECTION = re.compile(
    r"[\s,，。.]*(?:\b(?:no+\s+wait|wait\s+no|no\s+no|sorry|oops|i\s+mean|i\s+meant|"
    r"actually|no)\b[\s,，.]*(?:\b(?:make\s+(?:it|that)|change\s+(?:it|that)\s+to|let'?s\s+say|"
    r"rather)\b)|\b(?:no+\s+wait|wait\s+no|no\s+no|sorry\s+i\s+mean|i\s+mean|make\s+that)\b|"
    r"\bno(?=[\s,，]+\d)|"
    r"不对|不是不是|说错了|算了|改成|改为)[\s,，。.:：]*(?:改成|改为|是)?\s*", _I)
"""A self-correction and the words that introduce the new value ("no wait, make it")."""

_NUMBER = (r"(?:\d+(?:[.:]\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
           r"twelve|fifteen|twenty|thirty|forty|forty-five|fifty|sixty|ninety|half|"
           r"[零〇一二两三四五六七八九十百]+)")
_UNIT = (r"(?:\s*(?:hours?|hrs?|minutes?|mins?|seconds?|secs?|percent|%|am|pm|a\.m\.|p\.m\.|"
         r"o'?clock)(?![a-z])|\s*(?:个?小时|个?钟头|分钟|分|秒钟?|点半?|%))?")
_VALUE = re.compile(rf"(?<![a-z0-9]){_NUMBER}{_UNIT}", _I)
_BARE = re.compile(rf"^\s*(?:to\s+|为|成)?({_NUMBER})({_UNIT})\s*[.!。！]?\s*$", _I)

CLAUSE_BREAK = re.compile(r"[,，。;；!！?？]+\s*|(?<=\S)\.\s+|\s+(?:so|but|because|and then|"
                          r"then)\s+|所以|但是|因为", _I)


@dataclass(frozen=True)
class Corrected:
    text: str
    said: str
    """The words of the correction that were folded in, for the reasons."""


def apply_correction(command: str) -> Corrected | None:
    """The command with a corrected number folded in, or None when it has no correction of a
    number: "timer for 35 minutes no wait make it 40" → "timer for 40 minutes"."""
    for m in CORRECTION.finditer(command):
        head, tail = command[:m.start()], command[m.end():]
        new = _BARE.match(tail)
        olds = [v for v in _VALUE.finditer(head) if v.group(0).strip()]
        if new is None or not olds:
            continue
        old = olds[-1]
        value, unit = new[1], new[2]
        if not unit.strip():
            unit = _VALUE.match(old.group(0)).group(0)[len(_leading_number(old.group(0))):]  # type: ignore[union-attr]
        rewritten = head[:old.start()] + value + unit + head[old.end():]
        return Corrected(text=rewritten.rstrip(" ,，。."), said=command[m.start():].strip(" ,，"))
    return None


def _leading_number(value: str) -> str:
    m = re.match(_NUMBER, value, _I)
    return m.group(0) if m else ""


def clauses(command: str) -> list[tuple[int, int]]:
    """The spans of the command's clauses (split at sentence marks and "so/but/所以")."""
    out, start = [], 0
    for m in CLAUSE_BREAK.finditer(command):
        if m.start() > start:
            out.append((start, m.start()))
        start = m.end()
    if start < len(command):
        out.append((start, len(command)))
    return out or [(0, len(command))]


def clause_of(spans: list[tuple[int, int]], at: int) -> tuple[int, int] | None:
    """The clause holding character ``at``."""
    return next(((a, b) for a, b in spans if a <= at < b), None)
