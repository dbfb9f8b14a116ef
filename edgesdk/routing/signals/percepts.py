"""Generic signal ``percepts``: how sure the perceivers were of what the answer may rest on.

How many percepts the request had and their weakest and mean scores (1.0 without any). The
labelled data has no images, so the scorer learns little from these; the router also caps the
confidence by a weak percept (``router.PERCEPT_FLOOR``) rather than pretend to be calibrated.
"""

from __future__ import annotations

import math
from typing import ClassVar

from edgesdk.routing.signal import BaseSignal, Request, register

FEATURES = ("n_percepts", "percept_min", "percept_mean")


@register
class PerceptSignal(BaseSignal):
    name: ClassVar[str] = "percepts"
    names: ClassVar[tuple[str, ...]] = FEATURES

    def compute(self, request: Request, why: list[str]) -> dict[str, float]:
        scores = [float(p.score) for p in request.percepts]
        return {"n_percepts": math.log1p(len(scores)),
                "percept_min": min(scores) if scores else 1.0,
                "percept_mean": sum(scores) / len(scores) if scores else 1.0}
