"""Is this sentence plausible? What the labelled sentences the router was fitted with say.

Why: yes/no questions sit at chance for both local models (SmolLM2 answers "No" to nearly
every one, Gemma "Yes"), and no signal in their tokens tells a right yes from a wrong one. For
one kind — *Is the following sentence plausible? "<Name> <did something> [in the <event>]."*
(BIG-bench's sports_understanding, a tenth of the mix) — the labelled data answers many without
any model. A sentence labelled plausible puts its name, its action and its event in one world;
joining them (union-find) over the ~800 labelled plausible sentences gives five large groups,
which turn out to be the five sports. A new sentence is then plausible when its name and
action fall in one group (and its event, if seen, too), and implausible when they fall in two
different large groups, or when a sentence labelled implausible put that (otherwise unseen)
name with an action of this action's group. An unseen name or action gives no verdict.

The router reads ``plaus_agree``: +1 when the device's yes/no answer agrees with the verdict,
−1 when it contradicts it, 0 without a verdict or without a yes/no answer. Fitting computes each
training question's value from a graph that leaves out its fold of the training questions (the
bank pool repeats train and dev questions, so leaving out only the row itself would leak its
label). Measured against the signals before it (``docs/router.md``): held-out pool half (bank
and graph without it) AUROC Gemma 0.877 → 0.885, cloud-share ratio 1.393 → 1.371, SmolLM2
0.903 → 0.914, 1.158 → 1.129; test split Gemma 0.912 → 0.921, 1.29 → 1.265, SmolLM2 0.931 →
0.940, 1.215 → 1.206 (with the Gemma peer 1.19 → 1.16).

What ships: 64-bit hashes of the normalised names, actions and events with their group number,
never the names or sentences (8 KB of the calibration JSON; 21 µs per plausibility question,
0.2 µs for any other).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from edgesdk.routing.neighbours import _b64, _unb64
from edgesdk.textnorm import normalise, polarity

PLAUSIBILITY_FEATURE = "plaus_agree"
LARGE_GROUP = 20
"""Members a group needs before two different groups count as two different worlds (the five
sports have 60-75 each; the next largest, fragments of a few rare names, have 5 or fewer)."""
_QUOTED = re.compile(r"[\"“](.+?)[\"”]")
_THAT = re.compile(r"\bplausible\s+that\s+(.+)$", re.IGNORECASE)
_EVENT = re.compile(r"\s+(?:in|during|at) the\s+(.+)$")
_NAME_PARTICLES = frozenset({"de", "da", "di", "do", "dos", "del", "della", "van", "von", "der",
                             "den", "le", "la", "jr.", "jr", "sr.", "sr", "ii", "iii", "iv"})


@dataclass(frozen=True)
class Statement:
    """A sentence's name, action and (optional) event, each normalised."""

    name: str
    action: str
    event: str | None


def statement(question: str) -> Statement | None:
    """The statement a plausibility question asks about (the quoted sentence, or what follows
    "plausible that"), split into name (its leading capitalised words), action and event (a
    closing "in/during/at the …"); ``None`` for any other question."""
    if "plausib" not in question.lower():
        return None
    quoted = _QUOTED.search(question)
    that = None if quoted else _THAT.search(question)
    found = quoted or that
    if found is None:
        return None
    words = found.group(1).strip().rstrip(".?!").split()
    n = 0
    while n < len(words) and (words[n][:1].isupper()
                              or (n > 0 and words[n].lower() in _NAME_PARTICLES)):
        n += 1
    if n == 0 or n == len(words):
        return None
    rest = " ".join(words[n:])
    event = _EVENT.search(rest)
    action = rest[:event.start()] if event else rest
    name, action_key = normalise(" ".join(words[:n])), normalise(action)
    if not name or not action_key:
        return None
    return Statement(name=name, action=action_key,
                     event=normalise(event.group(1)) if event else None)


def _key(role: str, text: str) -> int:
    digest = hashlib.blake2b(f"{role}:{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _nodes(s: Statement) -> tuple[int, int, int | None]:
    return (_key("name", s.name), _key("action", s.action),
            None if s.event is None else _key("event", s.event))


@dataclass(frozen=True, kw_only=True)
class PlausibilityGraph:
    """Hashed names, actions and events, each with its group; and (name, group) pairs from
    sentences labelled implausible whose name no plausible sentence names."""

    keys: tuple[int, ...]
    groups: tuple[int, ...]
    excluded: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.groups):
            raise ValueError(f"plausibility graph: {len(self.keys)} keys but "
                             f"{len(self.groups)} groups")
        if any(g < 0 for g in self.groups) or any(g < 0 for _, g in self.excluded):
            raise ValueError("plausibility graph: a negative group number")

    @classmethod
    def fit(cls, labelled: Iterable[tuple[str, Sequence[str]]]) -> PlausibilityGraph:
        """From (question, gold answers) pairs; only plausibility questions with a yes/no gold
        count (the first gold's polarity is the label)."""
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        implausible: list[tuple[int, int]] = []
        for question, answers in labelled:
            s = statement(question)
            label = polarity(answers[0]) if answers else None
            if s is None or label is None:
                continue
            name, action, event = _nodes(s)
            if not label:
                implausible.append((name, action))
                continue
            for other in (action, event):
                if other is not None:
                    parent[find(other)] = find(name)
        roots = {x: find(x) for x in parent}
        number = {r: i for i, r in enumerate(sorted(set(roots.values())))}
        groups = {x: number[r] for x, r in roots.items()}
        size = Counter(groups.values())
        excluded = {(name, groups[action]) for name, action in implausible
                    if name not in groups and action in groups
                    and size[groups[action]] >= LARGE_GROUP}
        keys = sorted(groups)
        return cls(keys=tuple(keys), groups=tuple(groups[k] for k in keys),
                   excluded=tuple(sorted(excluded)))

    @cached_property
    def _group(self) -> dict[int, int]:
        return dict(zip(self.keys, self.groups, strict=True))

    @cached_property
    def _large(self) -> frozenset[int]:
        return frozenset(g for g, n in Counter(self.groups).items() if n >= LARGE_GROUP)

    @cached_property
    def _excluded(self) -> frozenset[tuple[int, int]]:
        return frozenset(self.excluded)

    @property
    def large_groups(self) -> int:
        return len(self._large)

    def verdict(self, question: str) -> bool | None:
        """True (plausible), False (implausible) or ``None`` (no verdict: see the module)."""
        s = statement(question)
        if s is None:
            return None
        name, action, event = _nodes(s)
        group = self._group
        g_name, g_action = group.get(name), group.get(action)
        if g_action is None:
            return None
        if g_name is None:
            return False if (name, g_action) in self._excluded else None
        if g_name == g_action:
            g_event = None if event is None else group.get(event)
            return g_event is None or g_event == g_name
        if g_name in self._large and g_action in self._large:
            return False
        return None

    def agreement(self, question: str, answer: str) -> float:
        """``plaus_agree``: +1 / −1 when ``answer`` says yes or no and agrees / disagrees with
        the verdict on ``question``; 0 otherwise."""
        verdict = self.verdict(question)
        said = polarity(answer) if verdict is not None else None
        if verdict is None or said is None:
            return 0.0
        return 1.0 if said == verdict else -1.0

    def to_dict(self) -> dict[str, Any]:
        names, groups = zip(*self.excluded, strict=True) if self.excluded else ((), ())
        return {"keys": _b64(np.asarray(self.keys, dtype=np.int64)),
                "groups": _b64(np.asarray(self.groups, dtype=np.int32)),
                "excluded_names": _b64(np.asarray(names, dtype=np.int64)),
                "excluded_groups": _b64(np.asarray(groups, dtype=np.int32))}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlausibilityGraph:
        def ints(field: str, dtype: type) -> tuple[int, ...]:
            return tuple(int(x) for x in _unb64(str(d[field]), dtype, (-1,)))

        names, groups = ints("excluded_names", np.int64), ints("excluded_groups", np.int32)
        if len(names) != len(groups):
            raise ValueError("plausibility graph: excluded names and groups differ in length")
        return cls(keys=ints("keys", np.int64), groups=ints("groups", np.int32),
                   excluded=tuple(zip(names, groups, strict=True)))


def describe(value: float) -> str | None:
    """The reason a decision carries for ``plaus_agree``, or ``None`` when it is 0."""
    if not math.isfinite(value) or value == 0.0:
        return None
    side = "agrees" if value > 0 else "disagrees"
    return f"the answer {side} with the labelled sentences' verdict on this one's plausibility"
