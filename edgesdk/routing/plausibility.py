"""Is this sentence plausible? What the labelled sentences the router was fitted with say.

Since 2026-12-06 no shipped calibration carries a graph: the labelled sports sentences came
from BIG-bench, which no registry serves any more, so a fit finds too few and fits none. The
module stays for calibrations fitted on an app's own sentences of this shape.

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

Where the graph gives no verdict (an unseen name or action: 39 of the 60 test sentences, 70 %
on a held-out half of the pool), the sentence model the answer bank already loads places the
unseen parts: each large group keeps the mean embedding of its names, of its actions and of
its events (``GroupCentroids``); an unseen part's group is a softmax over its similarity to
them (minus any group a sentence labelled implausible ruled out for that name), a seen part
counts as certain, and P(plausible) is the chance that name, action (and event) land in one
group. Players' names carry their sport (MiniLM-L6 places a held-out name in its sport 52 % of
the time, of five); alone, the soft verdict ranks the held-out halves' sentences without a
hard verdict at AUROC 0.77-0.79 (L6) / 0.71-0.73 (L3). The router reads ``plaus_soft`` =
(2P − 1), signed by the answer's yes or no; 0 with a hard verdict, without a yes/no answer,
for any other question, or when the bank reads hashed words (no centroids are fitted).

What ships: 64-bit hashes of the normalised names, actions and events with their group number,
never the names or sentences (8 KB of the calibration JSON; 21 µs per plausibility question,
0.2 µs for any other), and the centroids (3 × 5 × 384 float16, ~15 KB; the unseen parts are
embedded once per question, 3.6 ms with L3 / 5.9 ms with L6).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgesdk.routing.neighbours import _b64, _unb64
from edgesdk.textnorm import normalise, polarity

PLAUSIBILITY_FEATURE = "plaus_agree"
SOFT_FEATURE = "plaus_soft"
SOFT_TEMPERATURE = 0.05
"""Softmax temperature over cosine similarities to the group centroids (0.02-0.1 measured
within ±0.015 AUROC on the held-out pool halves)."""
ROLES = ("name", "action", "event")
Embed = Callable[[Sequence[str]], Any]
"""Texts → one embedding row per text (``Embedder.embed``)."""
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


def _roles(s: Statement) -> list[tuple[str, str]]:
    return [(role, text) for role, text in zip(ROLES, (s.name, s.action, s.event), strict=True)
            if text is not None]


def _large_groups(groups: Iterable[int]) -> frozenset[int]:
    """The group numbers with at least ``LARGE_GROUP`` members (``groups``: one per member)."""
    return frozenset(g for g, n in Counter(groups).items() if n >= LARGE_GROUP)


def _unit(rows: Any) -> NDArray[np.float32]:
    x = np.asarray(rows, dtype=np.float32)
    norm = np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)
    return np.asarray(x / norm, dtype=np.float32)


@dataclass(frozen=True, kw_only=True, eq=False)
class GroupCentroids:
    """Per role, the unit mean embedding of the large groups' labelled members (row i belongs
    to ``groups[i]``; a zero row when no member of that role was seen in the group)."""

    embedder_id: str
    groups: tuple[int, ...]
    vectors: Mapping[str, NDArray[np.float32]]

    def __post_init__(self) -> None:
        if set(self.vectors) != set(ROLES):
            raise ValueError(f"plausibility centroids: roles {sorted(self.vectors)}, "
                             f"expected {list(ROLES)}")
        shapes = {v.shape for v in self.vectors.values()}
        if len(shapes) != 1 or next(iter(shapes))[0] != len(self.groups):
            raise ValueError(f"plausibility centroids: shapes {sorted(shapes)} for "
                             f"{len(self.groups)} groups")

    @classmethod
    def fit(cls, members: Mapping[str, Mapping[str, int]], groups: Sequence[int], *,
            embed: Embed, embedder_id: str) -> GroupCentroids:
        """``members``: per role, text → its large group (one of ``groups``)."""
        order = {g: i for i, g in enumerate(groups)}
        labelled = [(role, text, order[g]) for role in ROLES
                    for text, g in sorted(members.get(role, {}).items())]
        if not labelled:
            raise ValueError("plausibility centroids: no member of any large group")
        rows = _unit(embed([text for _, text, _ in labelled]))
        sums = {role: np.zeros((len(groups), rows.shape[1]), np.float32) for role in ROLES}
        for (role, _, i), row in zip(labelled, rows, strict=True):
            sums[role][i] += row
        return cls(embedder_id=embedder_id, groups=tuple(groups),
                   vectors={role: _unit(v) for role, v in sums.items()})

    @cached_property
    def column(self) -> dict[int, int]:
        """Group → its row in ``vectors`` (built once: ``soft_verdict`` reads it per question)."""
        return {g: i for i, g in enumerate(self.groups)}

    def distribution(self, role: str, vector: Any) -> NDArray[np.float64]:
        """P(the text embedded as ``vector`` belongs to each group): softmax of its cosine
        similarity to the groups' centroids of that role."""
        sims = self.vectors[role].astype(np.float64) @ _unit(vector).astype(np.float64)
        z = np.exp((sims - sims.max()) / SOFT_TEMPERATURE)
        return np.asarray(z / z.sum(), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        dim = self.vectors[ROLES[0]].shape[1]
        return {"embedder_id": self.embedder_id, "dim": int(dim),
                "groups": [int(g) for g in self.groups],
                **{role: _b64(self.vectors[role].astype(np.float16)) for role in ROLES}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupCentroids:
        groups = tuple(int(g) for g in d["groups"])
        shape = (len(groups), int(d["dim"]))
        return cls(embedder_id=str(d["embedder_id"]), groups=groups,
                   vectors={role: _unb64(str(d[role]), np.float16, shape).astype(np.float32)
                            for role in ROLES})


@dataclass(frozen=True, kw_only=True)
class PlausibilityGraph:
    """Hashed names, actions and events, each with its group; (name, group) pairs from
    sentences labelled implausible whose name no plausible sentence names; and, when fitted
    with an embedder, the large groups' centroids for the soft verdict."""

    keys: tuple[int, ...]
    groups: tuple[int, ...]
    excluded: tuple[tuple[int, int], ...] = ()
    centroids: GroupCentroids | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.groups):
            raise ValueError(f"plausibility graph: {len(self.keys)} keys but "
                             f"{len(self.groups)} groups")
        if any(g < 0 for g in self.groups) or any(g < 0 for _, g in self.excluded):
            raise ValueError("plausibility graph: a negative group number")
        if self.centroids is not None and not set(self.centroids.groups) <= set(self.groups):
            raise ValueError("plausibility graph: centroids of groups it does not have")

    @classmethod
    def fit(cls, labelled: Iterable[tuple[str, Sequence[str]]], *, embed: Embed | None = None,
            embedder_id: str | None = None) -> PlausibilityGraph:
        """From (question, gold answers) pairs; only plausibility questions with a yes/no gold
        count (the first gold's polarity is the label). With ``embed`` (and its
        ``embedder_id``) it also keeps the large groups' centroids for the soft verdict."""
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        implausible: list[tuple[int, int]] = []
        texts: dict[int, tuple[str, str]] = {}
        for question, answers in labelled:
            s = statement(question)
            label = polarity(answers[0]) if answers else None
            if s is None or label is None:
                continue
            name, action, event = _nodes(s)
            if not label:
                implausible.append((name, action))
                continue
            for role, text in _roles(s):
                texts[_key(role, text)] = (role, text)
            for other in (action, event):
                if other is not None:
                    parent[find(other)] = find(name)
        roots = {x: find(x) for x in parent}
        number = {r: i for i, r in enumerate(sorted(set(roots.values())))}
        groups = {x: number[r] for x, r in roots.items()}
        large = _large_groups(groups.values())
        excluded = {(name, groups[action]) for name, action in implausible
                    if name not in groups and groups.get(action) in large}
        centroids = None
        if embed is not None and large:
            if not embedder_id:
                raise ValueError("PlausibilityGraph.fit(embed=...) needs embedder_id")
            members: dict[str, dict[str, int]] = {role: {} for role in ROLES}
            for key, (role, text) in texts.items():
                if groups[key] in large:
                    members[role][text] = groups[key]
            centroids = GroupCentroids.fit(members, sorted(large), embed=embed,
                                           embedder_id=embedder_id)
        keys = sorted(groups)
        return cls(keys=tuple(keys), groups=tuple(groups[k] for k in keys),
                   excluded=tuple(sorted(excluded)), centroids=centroids)

    @cached_property
    def _group(self) -> dict[int, int]:
        return dict(zip(self.keys, self.groups, strict=True))

    @cached_property
    def _large(self) -> frozenset[int]:
        return _large_groups(self.groups)

    @cached_property
    def _excluded(self) -> frozenset[tuple[int, int]]:
        return frozenset(self.excluded)

    @property
    def large_groups(self) -> int:
        return len(self._large)

    def verdict(self, question: str) -> bool | None:
        """True (plausible), False (implausible) or ``None`` (no verdict: see the module)."""
        s = statement(question)
        return None if s is None else self._verdict(s)

    def _verdict(self, s: Statement) -> bool | None:
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

    def soft_verdict(self, question: str, embed: Embed) -> float | None:
        """P(plausible) from the group centroids (see the module) for a plausibility sentence
        without a hard verdict; ``None`` for any other question, with a hard verdict, or
        without centroids. Embeds the sentence's parts outside the large groups (one call)."""
        centroids = self.centroids
        if centroids is None:
            return None
        s = statement(question)
        if s is None or self._verdict(s) is not None:
            return None
        column = centroids.column
        known: dict[str, NDArray[np.float64]] = {}
        unknown: list[tuple[str, str]] = []
        for role, text in _roles(s):
            g = self._group.get(_key(role, text))
            if g in column:
                known[role] = np.eye(len(column))[column[g]]
            else:
                unknown.append((role, text))
        if unknown:
            rows = np.asarray(embed([text for _, text in unknown]))
            for (role, _), row in zip(unknown, rows, strict=True):
                known[role] = centroids.distribution(role, row)
            if unknown[0][0] == "name":  # roles keep ROLES' order: the name comes first
                known["name"] = self._ruling_out(_key("name", s.name), known["name"], column)
        same = known["name"] * known["action"]
        if "event" not in known:
            return float(same.sum())
        # the name's group given that action and event agree (they usually do: the sources
        # make implausible sentences by swapping the name)
        both = float((known["action"] * known["event"]).sum())
        return float((same * known["event"]).sum() / both) if both > 1e-12 else float(same.sum())

    def _ruling_out(self, name: int, p_name: NDArray[np.float64], column: Mapping[int, int]
                    ) -> NDArray[np.float64]:
        """``p_name`` without the groups a sentence labelled implausible ruled out for this
        (otherwise unseen) name, renormalised; unchanged if that would leave nothing."""
        ruled_out = [i for g, i in column.items() if (name, g) in self._excluded]
        if not ruled_out:
            return p_name
        kept = p_name.copy()
        kept[ruled_out] = 0.0
        return kept / kept.sum() if kept.sum() > 0.0 else p_name

    def to_dict(self) -> dict[str, Any]:
        names, groups = zip(*self.excluded, strict=True) if self.excluded else ((), ())
        out: dict[str, Any] = {"keys": _b64(np.asarray(self.keys, dtype=np.int64)),
                               "groups": _b64(np.asarray(self.groups, dtype=np.int32)),
                               "excluded_names": _b64(np.asarray(names, dtype=np.int64)),
                               "excluded_groups": _b64(np.asarray(groups, dtype=np.int32))}
        if self.centroids is not None:
            out["centroids"] = self.centroids.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlausibilityGraph:
        def ints(field: str, dtype: type) -> tuple[int, ...]:
            return tuple(int(x) for x in _unb64(str(d[field]), dtype, (-1,)))

        names, groups = ints("excluded_names", np.int64), ints("excluded_groups", np.int32)
        if len(names) != len(groups):
            raise ValueError("plausibility graph: excluded names and groups differ in length")
        centroids = GroupCentroids.from_dict(d["centroids"]) if d.get("centroids") else None
        return cls(keys=ints("keys", np.int64), groups=ints("groups", np.int32),
                   excluded=tuple(zip(names, groups, strict=True)), centroids=centroids)


def soft_agreement(probability: float | None, answer: str) -> float:
    """``plaus_soft``: (2P − 1) when ``answer`` says yes, (1 − 2P) when it says no; 0 without
    a soft verdict or without a yes/no answer."""
    if probability is None or not math.isfinite(probability):
        return 0.0
    said = polarity(answer)
    if said is None:
        return 0.0
    return (2.0 * probability - 1.0) * (1.0 if said else -1.0)


def describe(value: float) -> str | None:
    """The reason a decision carries for ``plaus_agree``, or ``None`` when it is 0."""
    if not math.isfinite(value) or value == 0.0:
        return None
    side = "agrees" if value > 0 else "disagrees"
    return f"the answer {side} with the labelled sentences' verdict on this one's plausibility"


def describe_soft(value: float) -> str | None:
    """The reason a decision carries for ``plaus_soft``, or ``None`` when it is 0."""
    if not math.isfinite(value) or value == 0.0:
        return None
    return (f"the labelled sports sentences put this one's unseen parts in groups that make "
            f"the answer {(1.0 + value) / 2.0:.0%} likely")
