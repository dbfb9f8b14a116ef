"""The Signal seam: one module per thing the router may know about a request.

A router is a calibrated combination of signals. Each signal is one module that says what it
reads, what numbers it produces, how it is fitted, and what it keeps; the calibration stores
each signal's state under its name, the scorer reads the features by name, and nothing else
has to change when a signal is added or removed. Adding one: write a class satisfying
``Signal`` (usually by subclassing ``BaseSignal``), ``register`` it, and fit with its name
(``edgesdk router fit --signals evidence,surface,mine``). ``tests/unit/test_routing_signal.py``
does exactly that with a toy signal.

Three roles, because they fail differently on questions the router was never fitted on:

- ``generic``: exists for any question (the generation's per-token evidence, the question's
  surface and kind, the percepts). The base scorer is built from these.
- ``lookup``: read from labelled data (answer neighbours, the model's own record on similar
  questions). Excellent near that data, misleading far from it (a bank fitted on one quiz's
  templates says nothing about a user's question), so a lookup's features must be *gated*:
  multiplied by its closeness to the data, which it reports as a feature of its own. The
  scorer leaves gated columns uncentred, so far from the data they contribute exactly zero
  and the generic signals decide.
- ``optional``: needs an input the device may not afford (a second model's answer, a hidden
  state). The calibration keeps a scorer with and one without it, so a device that lacks the
  input loses accuracy, never calibration.

Run time only: this module and the signal modules never import ``routing.fitting``; a signal's
``fit`` may import it lazily (it runs only in ``edgesdk router fit``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from edgesdk.protocols import Embedder
from edgesdk.types import Generation, Percept, SkillResult

Role = Literal["generic", "lookup", "optional"]


@dataclass(kw_only=True)
class Request:
    """What the signals may read about one request. ``memo`` keeps per-request work (a
    question vector) so two signals, or ``prepare`` and ``compute``, do it once."""

    question: str
    generation: Generation | None = None
    skill: SkillResult | None = None
    percepts: Sequence[Percept] = ()
    peer: Generation | None = None
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        return self.generation.text if self.generation is not None else ""


@dataclass(frozen=True, kw_only=True)
class RunTime:
    """What signals may need at run time beyond their saved state: the question embedder a
    lookup was fitted with (loaded on first use when not given), the hidden-state source of the
    probe, and where large state files live."""

    embedder: Embedder | None = None
    hidden: Any = None
    """A ``routing.hidden.HiddenStates`` (the probe's input), or ``None``."""
    dirs: Sequence[Path] = ()


@dataclass(frozen=True, kw_only=True)
class LabelledRow:
    """One labelled request for fitting: what the device saw and produced, and whether it was
    right. ``answers``: the gold answers (lookups learn from them); ``same_as``: the labelled
    question this one rewords (a lookup must leave both out of each other's features);
    ``source``: where the item came from (leave-one-source-out evaluation)."""

    question: str
    generation: Generation | None
    skill: SkillResult | None
    correct: bool
    peer: Generation | None = None
    answers: tuple[str, ...] = ()
    same_as: str | None = None
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class FitData:
    """Everything a signal may fit on. ``rows``: every labelled request (skills included);
    ``llm_rows``: the ones the local model answered (the scorer is fitted on these, and
    ``fit`` returns one feature dict per such row, in order). The rest are options only some
    signals read."""

    rows: Sequence[LabelledRow]
    llm_rows: Sequence[LabelledRow]
    embed: Callable[[Sequence[str]], Any] | None = None
    embedder_id: str | None = None
    bank_pool: Sequence[tuple[str, Sequence[str]]] = ()
    """Extra labelled (question, gold answers) pairs, for lookups only (no generation)."""
    hidden: Callable[[str, str], Sequence[float]] | None = None
    peer_model_id: str | None = None
    seed: int = 0


S = TypeVar("S", bound="Signal")


@runtime_checkable
class Signal(Protocol):
    """One source of evidence about whether the device's answer is right."""

    name: ClassVar[str]
    role: ClassVar[Role]

    @property
    def features(self) -> tuple[str, ...]:
        """The feature names ``compute`` returns (all of them, ``nan`` where missing)."""
        ...

    def prepare(self, request: Request) -> None:
        """Work that needs the question only (an embedding): called before local generation,
        so ``compute`` stays cheap. May raise; ``compute`` then fails safe."""
        ...

    def compute(self, request: Request, why: list[str]) -> dict[str, float]:
        """The features for ``request`` (``nan`` = missing), appending short reasons."""
        ...

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state, read back by ``from_state``."""
        ...

    def save_files(self, directory: Path) -> None:
        """Write any state kept beside the calibration JSON (a large answer bank)."""
        ...

    def interactions(self, kinds: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """Feature pairs the scorer should also read (``kinds``: the ``kind_*`` indicators
        with enough examples); usually none."""
        ...

    def close(self) -> None:
        """Release what the signal holds at run time (a hidden-state context)."""
        ...


class BaseSignal:
    """Defaults for stateless signals: nothing to prepare, save or validate."""

    name: ClassVar[str] = ""
    role: ClassVar[Role] = "generic"
    names: ClassVar[tuple[str, ...]] = ()

    @property
    def features(self) -> tuple[str, ...]:
        return self.names

    def prepare(self, request: Request) -> None:
        return None

    def state(self) -> dict[str, Any]:
        return {}

    def save_files(self, directory: Path) -> None:
        return None

    def interactions(self, kinds: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        return ()

    def close(self) -> None:
        return None

    @classmethod
    def from_state(cls, state: Mapping[str, Any], runtime: RunTime) -> BaseSignal:
        return cls()

    @classmethod
    def fit(cls, data: FitData) -> tuple[BaseSignal, list[dict[str, float]]]:
        """A stateless signal's fit: itself, and its features on each LLM row."""
        signal = cls()
        rows = [signal.compute(Request(question=r.question, generation=r.generation,
                                       skill=r.skill, peer=r.peer), []) for r in data.llm_rows]
        return signal, rows

    def compute(self, request: Request, why: list[str]) -> dict[str, float]:
        raise NotImplementedError


class SignalType(Protocol):
    """A registered signal class: builds instances from saved state, or by fitting."""

    name: str
    role: Role

    def from_state(self, state: Mapping[str, Any], runtime: RunTime) -> Signal: ...

    def fit(self, data: FitData) -> tuple[Signal, list[dict[str, float]]]: ...


_REGISTRY: dict[str, Any] = {}


def register(cls: type[S]) -> type[S]:
    """Make a signal class known by its ``name`` (usable as a decorator)."""
    if not getattr(cls, "name", ""):
        raise ValueError(f"{cls.__name__} needs a class attribute 'name'")
    known = _REGISTRY.get(cls.name)
    if known is not None and known is not cls:
        raise ValueError(f"a signal named '{cls.name}' is already registered "
                         f"({known.__module__}.{known.__qualname__})")
    _REGISTRY[cls.name] = cls
    return cls


def signal_type(name: str) -> SignalType:
    """The registered class of ``name``; ``KeyError`` naming the known ones otherwise."""
    import edgesdk.routing.signals  # noqa: F401  (registers the built-in signals)

    try:
        found: SignalType = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no signal named '{name}' (known: {', '.join(sorted(_REGISTRY))}); "
                       "register it with edgesdk.routing.signal.register") from None
    return found


def registered() -> tuple[str, ...]:
    import edgesdk.routing.signals  # noqa: F401

    return tuple(sorted(_REGISTRY))
