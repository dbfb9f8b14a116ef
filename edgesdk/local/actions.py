"""Which of the app's tools a command asks for, and its arguments, read on the device.

For each registered tool the reader plans how to fill every argument from the schema alone:
a duration, a clock time, a date-time, a percentage, a number, a language (ISO 639-1), a
contact from the list the app passed, an enum value, or free text. Typed arguments come from
the deterministic parsers (``clock.py``, ``slots.py``); the free text is what is left of the
command once the intent's cue words, the typed values and the polite wrapper are cut out. A
tool is chosen by its intent's cues (``intents.py``), its examples or its own words, and only
when every required argument was filled; otherwise the command is not a call here (a question,
or something no tool does) and takes the usual path.

What the reader saw becomes numbers (``CallReading.features``) that the router turns into a
calibrated P(this call is right), fitted on labelled commands; the reader itself decides
nothing about staying or escalating.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from edgesdk.local.clock import Found, alarm_time, find_clock, find_duration, find_when
from edgesdk.local.intents import (
    ACTS_ON_EXISTING,
    FILLERS,
    FILLERS_ZH,
    NEGATED_START,
    POLITE,
    POLITE_ZH,
    QUESTION_START,
    QUESTION_ZH,
    Intent,
    bound_intent,
)
from edgesdk.local.slots import (
    find_capitalised_name,
    find_language,
    find_number,
    find_percent,
    match_contact,
)
from edgesdk.textnorm import CJK
from edgesdk.tools import Tool, Toolbox

FreeTextFiller = Callable[[str, Tool, list[str]], "dict[str, str] | None"]
"""(command, tool, argument names) → the free-text values picked for them, or None."""
SlotKind = Literal["duration", "clock", "when", "date", "percent", "number", "language",
                   "contact", "enum", "flag", "text"]
FEATURES = ("score", "cue", "cue_strong", "runner_up_gap", "missing_share", "typed_share",
            "free_share", "free_words", "free_pieces", "leftover_share", "question",
            "acts_on_existing", "zh", "words", "contact_known")
"""The numbers the router's action scorer reads (``CallReading.features``)."""
CHOOSE_ABOVE = 1.5
"""A tool is chosen when its score (cue ×2 + share of required arguments filled − penalties)
clears this; below it the command is left to the usual path."""
_QUOTED = re.compile(r"(?:^|(?<=[\s:：,，]))[\"'“‘「『]([^\"“”‘’「」『』]{1,200}?)[\"'”’」』]"
                     r"(?=$|[\s,，.。!?！？:：])")
_WORD = re.compile(r"[a-z0-9']+|[\u3400-\u9fff]", re.IGNORECASE)
_GENERIC = frozenset({"set", "get", "create", "make", "start", "send", "do", "the", "a", "to",
                      "an", "of", "for", "and", "or", "with", "it", "user", "tool", "add"})
_ENUM_SYNONYMS: dict[str, tuple[str, ...]] = {
    "walking": ("walk", "on foot", "走路", "步行", "走过去"),
    "driving": ("drive", "car", "开车", "自驾"),
    "cycling": ("bike", "cycle", "bicycle", "biking", "骑车", "骑自行车"),
    "transit": ("subway", "metro", "bus", "train", "public transport", "地铁", "公交", "坐车"),
}


@dataclass(frozen=True)
class Slot:
    name: str
    kind: SlotKind
    required: bool
    schema: Mapping[str, Any]
    seconds_per_unit: int = 1


@dataclass
class CallReading:
    """What the device read from one command: the call it would make (or none) and why."""

    command: str
    tool: str | None
    arguments: dict[str, Any] = field(default_factory=dict)
    free_text: tuple[str, ...] = ()
    """The arguments filled as free text (the rest came from parsers)."""
    missing: tuple[str, ...] = ()
    features: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    runner_up: str | None = None
    ms: float = 0.0


@dataclass(frozen=True)
class _Plan:
    tool: Tool
    intent: Intent | None
    slots: tuple[Slot, ...]
    words: frozenset[str]


@dataclass
class _Candidate:
    plan: _Plan
    cue: float
    strong: bool
    asks: bool
    score: float = 0.0
    arguments: dict[str, Any] = field(default_factory=dict)
    free: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    spans: list[tuple[int, int]] = field(default_factory=list)
    leftover: str = ""
    pieces: int = 0
    """How many separate runs of words were left for the free text (1: one clean span)."""


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


class ActionReader:
    """Reads commands against one set of tools (plans are built once, at construction)."""

    def __init__(self, tools: Toolbox, *, contacts: Sequence[str] = (),
                 now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
                 fill: FreeTextFiller | None = None,
                 fill_mode: Literal["fallback", "always"] = "fallback") -> None:
        """``fill``: picks free-text arguments the leftover rule could not (the local model
        under a span grammar, ``slot_llm.py``); ``fill_mode="always"`` lets it pick every
        free-text argument (to measure it against the rule)."""
        self.contacts = tuple(contacts)
        self.now = now
        self.fill = fill
        self.fill_mode = fill_mode
        self._plans = tuple(
            _Plan(tool=t, intent=bound_intent(t.name, t.description), slots=plan_slots(t),
                  words=frozenset(_words(" ".join((t.name.replace("_", " "), t.description,
                                                   *t.examples)))) - _GENERIC)
            for t in tools)

    def read(self, command: str, *, propose: bool = False) -> CallReading:
        """The call ``command`` asks for, or none. ``propose``: return the closest tool's call
        even when it would not be chosen (fitting the router's scorer needs the near misses)."""
        t0 = time.perf_counter()
        now = self.now()
        zh = bool(CJK.search(command))
        body_start = _polite_end(command)
        core = command[body_start:]
        asked = _question_at(core, zh=zh)
        question = asked is not None
        acts_on = ACTS_ON_EXISTING.match(core) or ACTS_ON_EXISTING.search(
            core, 0, 6 if zh else 0)
        candidates = [c for c in (self._cue(p, command) for p in self._plans) if c is not None]
        for cand in candidates:
            self._fill(cand, command, body_start, now)
            filled = 1.0 - len(cand.missing) / max(1, sum(s.required for s in cand.plan.slots))
            penalty = 0.0
            if asked is not None and cand.strong and _inside(cand, core, asked):
                pass  # the question is the message or the phrase to translate
            elif question and not cand.asks:
                penalty += 2.5 if not cand.strong else 2.0
            if acts_on and acts_on.group(0).lower() not in cand.plan.words:
                penalty += 2.0
            cand.score = 2.0 * cand.cue + filled - penalty
        candidates.sort(key=lambda c: c.score, reverse=True)
        best = candidates[0] if candidates else None
        if best is not None and self.fill is not None:
            self._fill_by_model(best, command, question=question)
        second = candidates[1] if len(candidates) > 1 else None
        reading = CallReading(command=command, tool=None,
                              runner_up=second.plan.tool.name if second else None)
        if best is not None and propose:
            reading.tool, reading.arguments, reading.free_text = (best.plan.tool.name,
                                                                  best.arguments, best.free)
        if best is None:
            reading.reasons.append("action: no tool's cues in the command")
        elif best.missing:
            reading.reasons.append(f"action: {best.plan.tool.name} is closest, but "
                                   f"{', '.join(best.missing)} could not be read; not a call")
        elif best.score < CHOOSE_ABOVE:
            why = "a question" if question else "the cues are weak"
            reading.reasons.append(f"action: {best.plan.tool.name} is closest, but {why}; "
                                   "not a call")
        else:
            reading.tool = best.plan.tool.name
            reading.arguments = best.arguments
            reading.free_text = best.free
            filled_by = [f"{k} by parser" for k in best.arguments if k not in best.free]
            filled_by += [f"{k} from the command's words" for k in best.free]
            how = "; ".join(filled_by) or "no arguments"
            reading.reasons.append(f"action: {best.plan.tool.name} ({how})")
        if best is not None:
            n_words = max(1, len(_words(command)))
            n_typed = sum(1 for s in best.plan.slots if s.kind != "text")
            n_free = sum(1 for s in best.plan.slots if s.kind == "text")
            reading.missing = best.missing
            n_required = max(1, sum(s.required for s in best.plan.slots))
            reading.features = {
                "score": best.score, "missing_share": len(best.missing) / n_required,
                "cue": best.cue, "cue_strong": float(best.strong or best.asks),
                "runner_up_gap": best.score - (second.score if second else 0.0),
                "typed_share": (sum(1 for k in best.arguments if k not in best.free) / n_typed
                                if n_typed else 1.0),
                "free_share": (len(best.free) / n_free) if n_free else 1.0,
                "free_words": float(sum(len(_words(str(best.arguments[k])))
                                        for k in best.free)),
                "free_pieces": float(best.pieces if n_free else 0),
                "leftover_share": len(_words(best.leftover)) / n_words,
                "question": float(question), "acts_on_existing": float(acts_on is not None),
                "zh": float(zh), "words": float(n_words),
                "contact_known": float(any(best.arguments.get(s.name) in self.contacts
                                           for s in best.plan.slots if s.kind == "contact")
                                       or not any(s.kind == "contact" for s in best.plan.slots)),
            }
        reading.ms = (time.perf_counter() - t0) * 1000
        return reading

    # ------------------------------------------------------------------ choosing

    def _cue(self, plan: _Plan, command: str) -> _Candidate | None:
        intent = plan.intent
        if intent is not None:
            asks = [m for p in intent.asks if (m := p.search(command))]
            strong = [m for p in intent.strong if (m := p.search(command))]
            if asks or strong:
                return _Candidate(plan=plan, cue=1.0, strong=bool(strong), asks=bool(asks))
            if any(p.search(command) for p in intent.weak):
                return _Candidate(plan=plan, cue=0.5, strong=False, asks=False)
        overlap = _overlap(plan, command) if intent is None else 0.0
        if overlap >= 0.5:
            return _Candidate(plan=plan, cue=overlap, strong=False, asks=False)
        return None

    # ------------------------------------------------------------------ filling

    def _fill(self, cand: _Candidate, command: str, body_start: int, now: datetime) -> None:
        spans: list[tuple[int, int]] = [(0, body_start)] if body_start else []
        args: dict[str, Any] = {}
        missing: list[str] = []
        free_slots = []
        for slot in cand.plan.slots:
            if slot.kind == "text":
                free_slots.append(slot)
                continue
            found = self._typed(slot, command, now)
            if found is None:
                if slot.required:
                    missing.append(slot.name)
                continue
            args[slot.name] = found.value
            spans.append((found.start, found.end))
        intent = cand.plan.intent
        if intent is not None and intent.cut is not None:
            spans += [(m.start(), m.end()) for m in intent.cut.finditer(command)]
        pieces = sorted((c for c in (_clean(p, intent) for p in _leftover_pieces(command, spans))
                         if c), key=lambda p: len(_words(p)), reverse=True)
        cand.pieces = len(pieces)
        quoted = _QUOTED.search(command) if intent is not None and intent.verbatim else None
        if quoted is not None and free_slots:  # 'the check, please' is the phrase, whole
            pieces.insert(0, quoted.group(1).strip())
        free: list[str] = []
        for slot in free_slots:  # each free-text argument takes the longest piece left
            text = pieces.pop(0) if pieces else ""
            if text:
                args[slot.name] = text
                free.append(slot.name)
            elif slot.required:
                missing.append(slot.name)
        cand.arguments = args
        cand.free = tuple(free)
        cand.missing = tuple(missing)
        cand.leftover = " ".join(pieces)

    def _fill_by_model(self, cand: _Candidate, command: str, *, question: bool) -> None:
        free = [s for s in cand.plan.slots if s.kind == "text"]
        if self.fill_mode == "always":
            wanted = [s.name for s in free]
        else:
            wanted = [s.name for s in free if s.name in cand.missing]
        others_missing = [m for m in cand.missing if m not in wanted]
        if not wanted or others_missing or cand.cue < 1.0 or self.fill is None:
            return  # only a command that is a call but for its free text is worth a decode
        values = self.fill(command, cand.plan.tool, wanted) or {}
        for name in wanted:
            if values.get(name):
                cand.arguments[name] = values[name]
            elif self.fill_mode == "always":
                cand.arguments.pop(name, None)
        cand.free = tuple(n for n in (s.name for s in free) if n in cand.arguments)
        cand.missing = tuple(m for m in cand.missing if m not in cand.arguments)
        if not cand.missing and not question:
            cand.score = max(cand.score, 2.0 * cand.cue + 1.0)

    def _typed(self, slot: Slot, command: str, now: datetime) -> Found[Any] | None:
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
            return match_contact(command, self.contacts) or find_capitalised_name(command)
        if kind == "enum":
            return _enum(slot, command)
        return None


def _enum(slot: Slot, command: str) -> Found[Any] | None:
    lowered = command.lower()
    for value in slot.schema.get("enum") or ():
        for word in (str(value), *_ENUM_SYNONYMS.get(str(value), ())):
            stem = word.lower()[:-3] if word.lower().endswith("ing") and len(word) > 5 else \
                word.lower()
            m = re.search(rf"(?<![a-z]){re.escape(stem)}\w*" if stem.isascii() else
                          re.escape(stem), lowered)
            if m:
                return Found(value, m.start(), m.end())
    return None


def _inside(cand: _Candidate, core: str, span: tuple[int, int]) -> bool:
    for key in cand.free:
        at = core.find(str(cand.arguments[key]))
        if at >= 0 and at <= span[0] and span[1] <= at + len(str(cand.arguments[key])):
            return True
    return False


def _polite_end(command: str) -> int:
    m = POLITE.match(command)
    end = m.end() if m else 0
    z = POLITE_ZH.match(command, end)
    return z.end() if z else end


def _question_at(core: str, *, zh: bool) -> tuple[int, int] | None:
    """Where the command reads as a question (its question word), or None."""
    m = QUESTION_START.match(core)
    if m and (not NEGATED_START.match(core) or core.rstrip().endswith("?")):
        return m.span(1)
    if zh:
        z = QUESTION_ZH.search(core)
        return z.span() if z else None
    if core.rstrip().endswith("?") and not re.match(r"^\W*(can|could|would|will)\b", core):
        return len(core.rstrip()) - 1, len(core.rstrip())
    return None


def _leftover_pieces(command: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    """What is not covered by ``spans``, split at them and at sentence marks, longest first."""
    covered = [False] * len(command)
    for a, b in spans:
        for i in range(max(0, a), min(len(command), b)):
            covered[i] = True
    pieces: list[str] = []
    cur: list[str] = []
    for ch, cov in zip(command, covered, strict=True):
        if cov or ch in "，。！？；,!?;":
            if cur:
                pieces.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        pieces.append("".join(cur))
    cleaned = [p for p in (p.strip() for p in pieces) if _words(p)]
    return sorted(cleaned, key=lambda p: len(_words(p)), reverse=True)


def _clean(text: str, intent: Intent | None) -> str:
    previous = None
    while previous != text:
        previous = text
        if intent is None or not intent.verbatim:
            text = FILLERS.sub("", text).strip()
            text = FILLERS_ZH.sub("", text).strip()
        if intent is not None and intent.lead is not None:
            text = intent.lead.sub("", text).strip()
        if intent is not None and intent.trail is not None:
            text = intent.trail.sub("", text).strip()
    return text.strip(" \"'“”‘’:：,，.。!！?？")


def _overlap(plan: _Plan, command: str) -> float:
    """Share of the command's content words that the tool's own words (name, description,
    examples) contain; how an app's tool with no built-in intent is recognised."""
    words = set(_words(command)) - _GENERIC
    if not words or not plan.words:
        return 0.0
    hits = len(words & plan.words)
    return min(1.0, hits / max(1.0, min(len(words), 3.0)))


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]
