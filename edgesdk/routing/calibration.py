"""The calibration file: each signal's state under its name, the scorers that read them, and
where a device finds the file. Run time only (``routing/fitting/`` writes these).

A calibration belongs to one model file: it records the model id and the GGUF's sha256, and
loading checks both (``CalibrationError`` otherwise). It holds:

- ``signals``: name → state, for every signal its scorers read (``signal.py``); loading
  rebuilds each through the registry and refuses a name this edgesdk does not know;
- ``scorer``: the base scorer over the generic and lookup signals, with ``quantiles`` of its
  out-of-fold confidences (a target cloud share becomes a threshold through them);
- ``optional``: per optional signal (a peer's answer, a hidden-state probe), a scorer that
  also reads it, with its own quantiles, stored beside the base one and never instead of it;
- ``prior``: P(right) from the question alone, and ``skip_below``, the prior below which the
  device does not generate at all;
- ``kinds`` the scorers were fitted on, and the skills' measured accuracy.

Format 3 (signals by name) replaced format 2 (a fixed list of signal fields) on 2026-12-06;
an older file must be refit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.errors import CalibrationError
from edgesdk.routing.scorer import LinearScorer, scorer_from_dict
from edgesdk.routing.signal import RunTime, Signal, signal_type

FORMAT_VERSION = 3
CALIBRATION_DIR = Path(__file__).resolve().parent / "calibrations"


@dataclass(frozen=True, kw_only=True)
class ScorerEntry:
    """A scorer and the 101 quantiles of its out-of-fold confidences."""

    scorer: LinearScorer
    quantiles: tuple[float, ...]

    def threshold_for_share(self, share: float) -> float:
        """The confidence below which ``share`` of LLM-answered requests fall."""
        share = min(max(share, 0.0), 1.0)
        return float(np.interp(share * 100, np.arange(len(self.quantiles)), self.quantiles))


@dataclass(frozen=True, kw_only=True)
class Calibration:
    model_id: str
    model_sha256: str
    signals: Mapping[str, Signal]
    """Every signal any scorer reads, by name (base ones first, then optional ones)."""
    base: ScorerEntry
    optional: Mapping[str, ScorerEntry] = field(default_factory=dict)
    """Optional signal name → the scorer that reads the base signals and it."""
    prior: LinearScorer | None = None
    skill_accuracy: float = 0.95
    kinds: tuple[str, ...] = ()
    """The question kinds the scorers were fitted on (enough LLM-answered examples); the
    router gives no confidence (fails safe) on any other kind."""
    skip_below: float | None = None
    fit_info: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        base = {f for s in self.signals.values() if s.role != "optional" for f in s.features}
        for name, entry in (("base", self.base), *self.optional.items()):
            produced = base | (set(self.signals[name].features) if name in self.signals
                               and name != "base" else set())
            needed = set(entry.scorer.features) | {f for pair in entry.scorer.interactions
                                                   for f in pair}
            if needed - produced:
                raise ValueError(f"its {name} scorer reads {sorted(needed - produced)[:4]}, "
                                 "which none of its signals produces")
        for name in self.optional:
            if name not in self.signals or self.signals[name].role != "optional":
                raise ValueError(f"it has a scorer for '{name}', which is not one of its "
                                 "optional signals")

    @property
    def scorer(self) -> LinearScorer:
        return self.base.scorer

    @property
    def quantiles(self) -> tuple[float, ...]:
        return self.base.quantiles

    def base_signals(self) -> list[Signal]:
        return [s for s in self.signals.values() if s.role != "optional"]

    def fitted_on(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def threshold_for_share(self, share: float) -> float:
        return self.base.threshold_for_share(share)

    def signal(self, name: str) -> Signal | None:
        return self.signals.get(name)

    def to_json(self) -> str:
        data = {
            "format": self.format, "model_id": self.model_id, "model_sha256": self.model_sha256,
            "signals": {name: s.state() for name, s in self.signals.items()},
            "base": asdict(self.base),
            "optional": {name: asdict(e) for name, e in self.optional.items()},
            "prior": None if self.prior is None else asdict(self.prior),
            "skill_accuracy": self.skill_accuracy, "kinds": list(self.kinds),
            "skip_below": self.skip_below, "fit_info": self.fit_info,
        }
        # not sorted: the signals' order is the fitted one (base first, then optional; the
        # router tries optional scorers in it, and the online store's key hashes it)
        return json.dumps(data, indent=1, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], runtime: RunTime) -> Calibration:
        signals: dict[str, Signal] = {}
        for name, state in dict(data["signals"]).items():
            try:
                kind = signal_type(name)
            except KeyError as exc:
                raise ValueError(f"it reads the signal '{name}', which this edgesdk does not "
                                 "know (register it before loading)") from exc
            signals[name] = kind.from_state(state, runtime)
        return cls(
            model_id=str(data["model_id"]), model_sha256=str(data["model_sha256"]),
            signals=signals, base=_entry(data["base"]),
            optional={str(k): _entry(v) for k, v in dict(data.get("optional") or {}).items()},
            prior=scorer_from_dict(data["prior"]) if data.get("prior") else None,
            skill_accuracy=float(data["skill_accuracy"]),
            kinds=tuple(str(k) for k in data.get("kinds", ())),
            skip_below=(float(data["skip_below"]) if data.get("skip_below") is not None
                        else None),
            fit_info=dict(data.get("fit_info", {})), format=int(data["format"]))


def _entry(d: Mapping[str, Any]) -> ScorerEntry:
    quantiles = tuple(float(q) for q in d["quantiles"])
    if len(quantiles) != 101:
        raise ValueError(f"a scorer has {len(quantiles)} quantiles, not 101")
    return ScorerEntry(scorer=scorer_from_dict(d["scorer"]), quantiles=quantiles)


def save(calibration: Calibration, path: Path | None = None) -> Path:
    """Write the calibration JSON, and any signal's files beside it (a large answer bank)."""
    path = path or CALIBRATION_DIR / f"{calibration.model_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    for signal in calibration.signals.values():
        signal.save_files(path.parent)
    path.write_text(calibration.to_json() + "\n", encoding="utf-8")
    return path


def user_path(model_id: str, home: Path) -> Path:
    """Where ``edgesdk router fit`` writes a calibration fitted on the user's own data, and
    where ``load`` looks before the shipped one: ``$EDGESDK_HOME/calibrations/<model_id>.json``
    (never inside the installed package)."""
    return home / "calibrations" / f"{model_id}.json"


def resolve(model_id: str, *, home: Path | None = None) -> Path:
    """The file ``load`` reads without an explicit path: the user's fitted calibration under
    ``home`` (default ``$EDGESDK_HOME``) if it exists, else the shipped one."""
    from edgesdk.config import load_settings

    mine = user_path(model_id, home if home is not None else load_settings().home)
    return mine if mine.exists() else CALIBRATION_DIR / f"{model_id}.json"


def question_embedder(model_id: str, *, home: Path | None = None) -> str | None:
    """The question embedder the calibration ``load`` would pick reads (its lookup signal's),
    from the file's ``fit_info`` without loading it, so a profile can budget its memory
    before anything loads; ``None`` without a calibration or a lookup."""
    return _embedder_of(resolve(model_id, home=home))


def shipped_question_embedder(model_id: str) -> str | None:
    """Like ``question_embedder``, for the calibration shipped with the package."""
    return _embedder_of(CALIBRATION_DIR / f"{model_id}.json")


def _embedder_of(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["fit_info"].get("embedder_id")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return str(value) if value else None


def load(model_id: str, *, model_sha256: str | None = None, path: Path | None = None,
         home: Path | None = None, runtime: RunTime | None = None) -> Calibration:
    """The calibration of ``model_id``: ``path`` if given, else the one fitted on the user's
    own data under ``home`` (default ``$EDGESDK_HOME``) if there is one, else the shipped one.
    Checks model id, model file, format and every signal's state. ``runtime``: what the
    signals may need beyond their state (a question embedder, hidden states)."""
    path = path or resolve(model_id, home=home)
    fix = f"Fit one with: edgesdk router fit --dataset TRAIN.jsonl --model {model_id}"
    if not path.exists():
        raise CalibrationError(f"no router calibration for model '{model_id}' at {path}. {fix}")
    runtime = runtime or RunTime()
    dirs: Sequence[Path] = (path.parent, CALIBRATION_DIR, *runtime.dirs)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data.get("format") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:  # before parsing: older formats may not parse at all
            raise CalibrationError(f"router calibration {path} has format {version}, this "
                                   f"edgesdk reads format {FORMAT_VERSION}. {fix}")
        cal = Calibration.from_dict(data, RunTime(embedder=runtime.embedder,
                                                  hidden=runtime.hidden, dirs=dirs))
    except (ValueError, KeyError, TypeError) as exc:
        raise CalibrationError(f"router calibration {path} is unreadable ({exc}). {fix}") from exc
    if cal.model_id != model_id:
        raise CalibrationError(f"router calibration {path} was fitted for '{cal.model_id}', "
                               f"not '{model_id}'. {fix}")
    if model_sha256 is not None and cal.model_sha256 != model_sha256:
        raise CalibrationError(f"router calibration {path} was fitted on another file of "
                               f"'{model_id}' (sha256 {cal.model_sha256[:12]}…, the model store "
                               f"has {model_sha256[:12]}…). {fix}")
    return cal
