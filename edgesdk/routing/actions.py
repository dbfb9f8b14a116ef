"""P(the device's tool call is right), and what the policy does with it.

The device reads a command into a call (``local/actions.py``) and describes what it saw as
numbers: how strong the cue was, whether it read as a question, what share of the arguments
parsers filled, how much of the command was left unexplained. A logistic scorer fitted on
labelled commands (``routing/fitting/actions.py``) turns them into a calibrated probability
that the whole call (tool and every argument) is right. The policy is the router's own with
the call's threshold: a sure call stays on the device, an unsure one goes up with the tools
attached, and where it cannot go up (offline, only-on-device, a private topic) an unsure call
is refused with a reason rather than executed wrongly.

The scorer is one file shipped with the package (``routing/call_calibration.json``): calls do not
depend on the local model, since parsers fill their typed arguments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgesdk.errors import CalibrationError
from edgesdk.routing.policy import Policy, PolicyState
from edgesdk.routing.scorer import LinearScorer, scorer_from_dict
from edgesdk.types import Mode, RouteDecision

CALL_CALIBRATION = Path(__file__).resolve().parent / "call_calibration.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class CallCalibration:
    scorer: LinearScorer
    threshold: float
    """Calls below this P(right) are not kept on the device (chosen on the fit data so the
    kept calls are at least ``target_accuracy`` right)."""
    target_accuracy: float = 0.95
    fit_info: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def probability(self, features: Mapping[str, float]) -> float:
        return self.scorer.prob(features)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"


def save_call_calibration(calibration: CallCalibration, path: Path = CALL_CALIBRATION) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibration.to_json(), encoding="utf-8")
    return path


@lru_cache(maxsize=4)
def load_call_calibration(path: Path = CALL_CALIBRATION) -> CallCalibration:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"the tool-call calibration {path} cannot be read ({exc}). "
                               "Reinstall edgesdk, or refit it: python scripts/"
                               "measure_actions.py --fit") from exc
    if data.get("format") != FORMAT_VERSION:
        raise CalibrationError(f"{path} has format {data.get('format')}; this edgesdk reads "
                               f"{FORMAT_VERSION}. Refit: python scripts/measure_actions.py --fit")
    return CallCalibration(scorer=scorer_from_dict(data["scorer"]),
                           threshold=float(data["threshold"]),
                           target_accuracy=float(data.get("target_accuracy", 0.95)),
                           fit_info=dict(data.get("fit_info") or {}))


def decide_call(policy: Policy, calibration: CallCalibration, *, tool: str,
                features: Mapping[str, float], mode: Mode, state: PolicyState,
                command: str, threshold: float | None = None) -> RouteDecision:
    """Stay (make the call on the device), escalate (with the tools), or refuse.
    ``threshold``: keep calls at or above this P(right) instead of the calibration's."""
    p = calibration.probability(features)
    keep = calibration.threshold if threshold is None else threshold
    call_policy = replace(policy, threshold=keep, metered_threshold=None, refuse_below=keep)
    decision = call_policy.decide(question=command, confidence=p, mode=mode, state=state,
                                  reasons=(f"tool call {tool}: P(right) {p:.2f}",))
    return decision
