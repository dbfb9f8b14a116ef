"""Optional signal ``peer``: does a second local model give the same answer?

Two tiny models trained on different data are wrong in different ways and right in the same
way, so their agreement (``routing/peer.py``: the evaluation's matching rules, words copied
from the question removed) and the peer's own evidence say what neither model's token
probabilities can. It costs a second model's generation, so it is optional: the calibration
keeps a scorer with it and the base one without, and a device that cannot hold the second
model loses accuracy, not calibration. Its state is the peer model's id (its answers only mean
something from the model it was fitted with).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from edgesdk.routing.peer import PEER_FEATURES, peer_features
from edgesdk.routing.signal import BaseSignal, FitData, Request, Role, RunTime, register

INTERACT_WITH = ("peer_agree", "peer_contain", "peer_jaccard", "peer_lp_mean", "peer_lp_min")
CROSS = (("peer_agree", "peer_lp_mean"), ("peer_agree", "lp_mean"), ("peer_agree", "lp_min"))


@register
class PeerSignal(BaseSignal):
    name: ClassVar[str] = "peer"
    role: ClassVar[Role] = "optional"
    names: ClassVar[tuple[str, ...]] = PEER_FEATURES

    def __init__(self, *, model_id: str) -> None:
        self.model_id = model_id

    def compute(self, request: Request, why: list[str]) -> dict[str, float]:
        if request.peer is None:
            why.append(f"no answer from peer {self.model_id}; signals only")
            return dict.fromkeys(PEER_FEATURES, math.nan)
        feats = peer_features(request.question, request.generation, request.peer)
        if all(math.isfinite(v) for v in feats.values()):
            why.append(f"peer {self.model_id} agreement {feats['peer_agree']:.2f}")
        return feats

    def interactions(self, kinds: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """Agreement × kind (agreeing on a yes/no is a coin flip, on a fact strong evidence)
        and agreement × both models' sureness."""
        return (*((k, f) for k in kinds for f in INTERACT_WITH), *CROSS)

    def state(self) -> dict[str, Any]:
        return {"model_id": self.model_id}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], runtime: RunTime) -> PeerSignal:
        return cls(model_id=str(state["model_id"]))

    @classmethod
    def fit(cls, data: FitData) -> tuple[PeerSignal, list[dict[str, float]]]:
        if not data.peer_model_id:
            raise ValueError("the peer signal needs the peer model's id (--peer)")
        missing = sum(r.peer is None for r in data.llm_rows)
        if missing > len(data.llm_rows) // 10:
            from edgesdk.errors import CalibrationError

            raise CalibrationError(f"{missing} of {len(data.llm_rows)} LLM-answered examples "
                                   f"have no answer from the peer '{data.peer_model_id}'; run it "
                                   "over the dataset first")
        signal = cls(model_id=data.peer_model_id)
        return signal, [peer_features(r.question, r.generation, r.peer) for r in data.llm_rows]
