"""Opt-in on-device recalibration from free labels, guarded against drift.

Every escalation yields a label for nothing: did the cloud agree with the device's answer?
Over time a device's questions differ from the ones the shipped calibration was fitted on, so
its confidences drift out of calibration. This module keeps the last ``capacity`` (logit,
label) pairs in a ring buffer (bounded memory) and refits a two-parameter Platt layer *on top of*
the shipped calibration: ``p' = σ(a·logit(p) + b)``.

Guards, because the labels are biased (only escalated requests get one) and few:
- nothing changes until ``min_samples`` labels have arrived;
- the fit is MAP with a Gaussian prior centred on the identity (a=1, b=0), so few labels move
  it little;
- ``a`` and ``b`` are clamped to a box around the identity, and the adjusted confidence never
  moves more than ``max_shift`` from the shipped one.
Refits happen when labels arrive, never inside ``decide``, which stays a few multiplications.

With a ``store`` (``routing/online_store.py``; ``Router.for_model(online=True)`` opens one under
``$EDGESDK_HOME/online/``) every label is committed as it arrives and the next run starts from
the stored ones, so an app that is killed and restarted still reaches ``min_samples``.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgesdk.routing.online_store import OnlineLabelStore


@dataclass(frozen=True, kw_only=True)
class OnlineConfig:
    capacity: int = 512
    min_samples: int = 50
    refit_every: int = 10
    prior_strength: float = 20.0
    """Pseudo-observations worth of pull towards the shipped calibration."""
    max_slope_change: float = 0.5
    max_offset: float = 1.0
    max_shift: float = 0.15
    persist: bool = True
    """``Router.for_model`` keeps the labels in ``$EDGESDK_HOME/online/`` across runs."""


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class OnlineRecalibrator:
    """Bounded-memory Platt refit over the shipped calibration's confidences."""

    def __init__(self, *, config: OnlineConfig | None = None,
                 store: OnlineLabelStore | None = None) -> None:
        """``store``: where labels are kept across runs; the ones already there are loaded
        (and refitted on) now."""
        self.config = config or OnlineConfig()
        self.store = store
        self._lock = threading.Lock()
        self._buf: deque[tuple[float, float]] = deque(maxlen=self.config.capacity)
        self._since_fit = 0
        self.a = 1.0
        self.b = 0.0
        if store is not None:
            self._buf.extend(store.labels())
            if self.active:
                self.refit()

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def active(self) -> bool:
        return len(self._buf) >= self.config.min_samples

    def observe(self, shipped_confidence: float, agreed: bool) -> None:
        """Record one free label: the shipped confidence and whether the cloud agreed."""
        if not math.isfinite(shipped_confidence):
            return
        label = (_logit(shipped_confidence), 1.0 if agreed else 0.0)
        with self._lock:
            if self.store is not None:
                self.store.add(*label)
            self._buf.append(label)
            self._since_fit += 1
            if self.active and self._since_fit >= self.config.refit_every:
                self.refit()

    def refit(self) -> None:
        cfg = self.config
        lam = cfg.prior_strength / max(len(self._buf), 1)
        a, b = self.a, self.b
        n = len(self._buf)
        for _ in range(25):
            ga = gb = haa = hab = hbb = 0.0
            for z, y in self._buf:
                p = _sigmoid(a * z + b)
                r = p - y
                w = p * (1 - p)
                ga += r * z
                gb += r
                haa += w * z * z
                hab += w * z
                hbb += w
            ga = ga / n + lam * (a - 1.0)
            gb = gb / n + lam * b
            haa = haa / n + lam
            hab = hab / n
            hbb = hbb / n + lam
            det = haa * hbb - hab * hab
            if det <= 1e-12:
                break
            da = (hbb * ga - hab * gb) / det
            db = (haa * gb - hab * ga) / det
            a, b = a - da, b - db
            if abs(da) + abs(db) < 1e-7:
                break
        self.a = min(max(a, 1.0 - cfg.max_slope_change), 1.0 + cfg.max_slope_change)
        self.b = min(max(b, -cfg.max_offset), cfg.max_offset)
        self._since_fit = 0

    def adjust(self, confidence: float) -> float:
        """The recalibrated confidence, within ``max_shift`` of the shipped one."""
        if not self.active or not math.isfinite(confidence):
            return confidence
        p = _sigmoid(self.a * _logit(confidence) + self.b)
        shift = self.config.max_shift
        return min(max(p, confidence - shift), confidence + shift)

    def reset(self) -> None:
        """Forget everything learnt on the device (stored labels too); back to the shipped
        calibration."""
        with self._lock:
            if self.store is not None:
                self.store.clear()
            self._buf.clear()
            self.a, self.b = 1.0, 0.0
            self._since_fit = 0

    def status(self) -> dict[str, float | int | bool | str | None]:
        """What the layer has learnt, for ``edgesdk router online`` and apps' settings screens."""
        return {"labels": len(self._buf), "min_samples": self.config.min_samples,
                "active": self.active, "slope": self.a, "offset": self.b,
                "agreement_rate": (sum(y for _, y in self._buf) / len(self._buf)
                                   if self._buf else None),
                "store": str(self.store.path) if self.store is not None else None}

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
