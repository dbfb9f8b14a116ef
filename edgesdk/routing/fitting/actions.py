"""Fit P(the device's tool call is right) on labelled commands (never imported at run time).

Rows are the reader's *proposals*: the closest tool's call for every command, chosen or not
(``ActionReader.read(propose=True)``), so the scorer sees the near misses — questions with a
tool word in them, commands missing an argument — and not only the calls that were easy. The
keep threshold is then chosen on the calls the reader *would* make, from out-of-fold
probabilities: the lowest P at which the kept calls are at least ``target_accuracy`` right.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgesdk.local.actions import FEATURES, ActionReader, CallReading
from edgesdk.routing.actions import CallCalibration
from edgesdk.routing.fitting.logistic import choose_l2, fit_scorer
from edgesdk.routing.fitting.metrics import auroc
from edgesdk.testing.commands import Command, call_right


def proposals(reader: ActionReader, commands: Sequence[Command], *, free: set[str]
              ) -> tuple[list[CallReading], list[bool], list[bool]]:
    """Each command's proposal, whether it is right, and whether the reader chose it."""
    readings, labels, chosen = [], [], []
    for c in commands:
        proposal = reader.read(c.text, propose=True)
        if not proposal.features:
            continue  # no tool's cue at all: nothing to score
        made = reader.read(c.text).tool is not None
        readings.append(proposal)
        labels.append(call_right(c.expected, proposal.tool, proposal.arguments, free=free))
        chosen.append(made)
    return readings, labels, chosen


def keep_threshold(probs: np.ndarray, labels: Sequence[bool], *, target: float) -> float:
    """The lowest P whose kept calls (P ≥ it) are at least ``target`` right."""
    y = np.asarray(labels, dtype=bool)
    for t in sorted(set(np.round(probs, 4).tolist())):
        kept = probs >= t
        if kept.any() and y[kept].mean() >= target:
            return float(t)
    return 1.0


def fit_call_calibration(readings: Sequence[CallReading], labels: Sequence[bool],
                         chosen: Sequence[bool], *, target_accuracy: float = 0.95,
                         fitted_on: Sequence[str] = ()) -> CallCalibration:
    rows = [r.features for r in readings]
    l2 = choose_l2(rows, labels, features=FEATURES, interactions=())
    scorer, oof = fit_scorer(rows, labels, features=FEATURES, l2=l2)
    made = np.asarray(chosen, dtype=bool)
    threshold = keep_threshold(oof[made], [lab for lab, m in zip(labels, made, strict=True) if m],
                               target=target_accuracy)
    return CallCalibration(scorer=scorer, threshold=threshold, target_accuracy=target_accuracy,
                           fit_info={"rows": len(rows), "right": int(sum(labels)),
                                     "chosen": int(made.sum()), "l2": l2,
                                     "oof_auroc": round(auroc(oof, labels), 4),
                                     "sets": list(fitted_on)})
