"""Hand-made generations and a tiny calibration for the routing tests (no models)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from edgesdk.errors import CalibrationError
from edgesdk.routing import calibration as calibrate
from edgesdk.routing.fitting.fit import fit_calibration
from edgesdk.routing.signal import LabelledRow as Outcome
from edgesdk.routing.signals.evidence import generation_features
from edgesdk.routing.signals.surface import question_features
from edgesdk.types import Generation, GenerationEvidence


def features(question: str, generation: Generation | None) -> dict[str, float]:
    """The generic signals of one request (what the fake calibrations' scorers read)."""
    return {**question_features(question), **generation_features(question, generation),
            "n_percepts": 0.0, "percept_min": 1.0, "percept_mean": 1.0}


def gen(text: str, logprobs: tuple[float, ...], *, finish: str = "stop") -> Generation:
    n = len(logprobs)
    return Generation(
        text=text, model_id="fake-llm", prompt_tokens=10, completion_tokens=n,
        finish_reason=finish,  # type: ignore[arg-type]
        evidence=GenerationEvidence(logprobs=logprobs,
                                    entropies=tuple(-lp * 1.5 for lp in logprobs),
                                    margins=tuple(max(0.0, 3 + lp) for lp in logprobs)),
    )


def synthetic_outcomes(n: int = 400, seed: int = 0) -> list[Outcome]:
    """Facts are right when the model is sure; word problems are never right."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 4 == 3:
            q = (f"Tom has {rng.randint(2, 50)} apples and buys {rng.randint(2, 9)} bags with "
                 f"{rng.randint(2, 9)} apples in each bag. How many apples does he have now?")
            lp = tuple(rng.uniform(-2.0, -0.05) for _ in range(12))
            out.append(Outcome(question=q, generation=gen("He has 12 apples", lp), skill=None,
                               correct=False))
        else:
            sure = rng.random()
            q = f"The capital of country number {i} is"
            lp = tuple(-rng.uniform(0.0, 3.0) * (1 - sure) for _ in range(3))
            right = rng.random() < 0.1 + 0.8 * sure
            out.append(Outcome(question=q, generation=gen(" Lima", lp), skill=None,
                               correct=right))
    return out


def fake_calibration(model_id: str = "fake-llm"):  # type: ignore[no-untyped-def]
    return fit_calibration(synthetic_outcomes(), model_id=model_id, model_sha256="a" * 64)


def assert_refused(path: Path, data: dict[str, Any], match: str) -> None:
    """Write ``data`` as the calibration file at ``path``: loading it must raise
    ``CalibrationError`` matching ``match``."""
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match=match):
        calibrate.load(str(data["model_id"]), path=path)
