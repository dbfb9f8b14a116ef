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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from edgesdk.local.clock import Found
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
from edgesdk.local.slot_plan import Slot, plan_slots, read_typed
from edgesdk.local.utterance import CLAUSE_BREAK, apply_correction, clause_of, clauses
from edgesdk.textnorm import CJK
from edgesdk.tools import Tool, Toolbox

FreeTextFiller = Callable[[str, Tool, list[str]], "dict[str, str] | None"]
"""(command, tool, argument names) → the free-text values picked for them, or None."""
FEATURES = ("score", "cue", "cue_strong", "runner_up_gap", "missing_share", "typed_share",
            "free_share", "free_pieces", "free_clauses", "free_timeish", "leftover_share",
            "question", "acts_on_existing", "zh", "words", "contact_known")
"""The numbers the router's action scorer reads (``CallReading.features``)."""
CHOOSE_ABOVE = 1.5
"""A tool is chosen when its score (cue ×2 + share of required arguments filled − penalties)
clears this; below it the command is left to the usual path."""
_QUOTED = re.compile(r"(?:^|(?<=[\s:：,，]))[\"'“‘「『]([^\"“”‘’「」『』]{1,200}?)[\"'”’」』]"
                     r"(?=$|[\s,，.。!?！？:：])")
_TIMEISH = re.compile(
    r"(?<![a-z])(?:at|on|by|until|tomorrow|tonight|today|morning|evening|afternoon|noon|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|am|pm|o'?clock|minutes?|hours?|"
    r"next|every)(?![a-z])|\d|[点号周]|明天|今天|后天|晚上|早上|下午|上午|分钟|小时", re.IGNORECASE)
"""Time-like words left inside a free-text argument: a value the parsers may have missed."""
_WORD = re.compile(r"[a-z0-9']+|[\u3400-\u9fff]", re.IGNORECASE)
_GENERIC = frozenset({"set", "get", "create", "make", "start", "send", "do", "the", "a", "to",
                      "an", "of", "for", "and", "or", "with", "it", "user", "tool", "add"})


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
    at: int | None = None
    """Where the cue starts: the clause around it is where this command's values are."""


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
        corrected = apply_correction(command)
        reading = self._read(corrected.text if corrected else command, propose=propose)
        if corrected is not None:
            reading.command = command
            reading.reasons.append("action: the user corrected a value mid-command; the "
                                   "corrected value is the one read")
        reading.ms = (time.perf_counter() - t0) * 1000
        return reading

    def _read(self, command: str, *, propose: bool) -> CallReading:
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
            elif asked is not None and cand.strong and _apart(command, cand.at,
                                                               body_start + asked[0]):
                pass  # "remind me to take the umbrella, it's going to rain, right?"
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
                "free_pieces": float(best.pieces if n_free else 0),
                "free_clauses": float(sum(len(CLAUSE_BREAK.findall(str(best.arguments[k])))
                                          for k in best.free)),
                "free_timeish": float(sum(len(_TIMEISH.findall(str(best.arguments[k])))
                                          for k in best.free)),
                "leftover_share": len(_words(best.leftover)) / n_words,
                "question": float(question), "acts_on_existing": float(acts_on is not None),
                "zh": float(zh), "words": float(n_words),
                "contact_known": float(any(best.arguments.get(s.name) in self.contacts
                                           for s in best.plan.slots if s.kind == "contact")
                                       or not any(s.kind == "contact" for s in best.plan.slots)),
            }
        return reading

    # ------------------------------------------------------------------ choosing

    def _cue(self, plan: _Plan, command: str) -> _Candidate | None:
        intent = plan.intent
        if intent is not None:
            asks = [m for p in intent.asks if (m := p.search(command))]
            strong = [m for p in intent.strong if (m := p.search(command))]
            if asks or strong:
                return _Candidate(plan=plan, cue=1.0, strong=bool(strong), asks=bool(asks),
                                  at=min(m.start() for m in asks + strong))
            weak = [m for p in intent.weak if (m := p.search(command))]
            if weak:
                return _Candidate(plan=plan, cue=0.5, strong=False, asks=False,
                                  at=min(m.start() for m in weak))
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
        parts = clauses(command)
        home = clause_of(parts, cand.at) if cand.at is not None and len(parts) > 1 else None
        for slot in cand.plan.slots:
            if slot.kind == "text":
                free_slots.append(slot)
                continue
            found = read_typed(slot, command, now, self.contacts)
            if found is not None and home is not None and not home[0] <= found.start < home[1]:
                # another clause said a value first ("my flight is at 9, wake me at 5:45")
                local = read_typed(slot, command[home[0]:home[1]], now, self.contacts)
                if local is not None:
                    found = Found(local.value, local.start + home[0], local.end + home[0])
            if found is None:
                if slot.required:
                    missing.append(slot.name)
                continue
            args[slot.name] = found.value
            spans.append((found.start, found.end))
        intent = cand.plan.intent
        if intent is not None and intent.cut is not None:
            spans += [(m.start(), m.end()) for m in intent.cut.finditer(command)]
        verbatim = intent is not None and intent.verbatim
        raw = _leftover_pieces(command, spans, split_sentences=not verbatim)
        if verbatim and cand.at is not None and any(at >= cand.at for at, _ in raw):
            raw = [(at, p) for at, p in raw if at >= cand.at]  # the words after "tell mom"
        elif home is not None:  # the clause with the cue first, longest first within each
            raw.sort(key=lambda piece: not home[0] <= piece[0] < home[1])
        pieces = [c for c in (_clean(p, intent) for _, p in raw) if c]
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

def _inside(cand: _Candidate, core: str, span: tuple[int, int]) -> bool:
    for key in cand.free:
        at = core.find(str(cand.arguments[key]))
        if at >= 0 and at <= span[0] and span[1] <= at + len(str(cand.arguments[key])):
            return True
    return False


def _apart(command: str, cue_at: int | None, question_at: int) -> bool:
    """The question is in another clause than the command's cue."""
    parts = clauses(command)
    if cue_at is None or len(parts) < 2:
        return False
    return clause_of(parts, cue_at) != clause_of(parts, min(question_at, len(command) - 1))


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


def _leftover_pieces(command: str, spans: Sequence[tuple[int, int]], *,
                     split_sentences: bool = True) -> list[tuple[int, str]]:
    """What is not covered by ``spans`` as (start, text), split at them and (unless the text is
    the user's own words to pass on) at sentence marks, longest first."""
    covered = [False] * len(command)
    for a, b in spans:
        for i in range(max(0, a), min(len(command), b)):
            covered[i] = True
    pieces: list[tuple[int, str]] = []
    start = 0
    for i, (ch, cov) in enumerate(zip(command, covered, strict=True)):
        if cov or (split_sentences and ch in "，。！？；,!?;"):
            pieces.append((start, command[start:i]))
            start = i + 1
    pieces.append((start, command[start:]))
    cleaned = [(at + len(p) - len(p.lstrip()), p.strip()) for at, p in pieces if _words(p)]
    return sorted(cleaned, key=lambda p: len(_words(p[1])), reverse=True)


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
