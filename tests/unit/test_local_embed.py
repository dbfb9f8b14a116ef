"""Sentence embeddings on the device (``local/embed.py``): both MiniLMs the routers read, from
the verified model store."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.errors import InputError
from edgesdk.local.embed import DIM, HIDDEN_OUTPUT, L3_MODEL_ID, MODEL_ID, MiniLMEmbedder


@pytest.mark.parametrize("model_id", [MODEL_ID, L3_MODEL_ID])
def test_paraphrases_are_closer_than_other_questions(model_id: str) -> None:
    embedder = MiniLMEmbedder.load(model_id=model_id)
    assert embedder.model_id == model_id
    v = embedder.embed(["The capital of France is", "France's capital city is",
                        "The eye colour of Bob Dylan is"])
    assert v.shape == (3, DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 2] + 0.2
    # batching does not change a vector
    assert np.allclose(embedder.embed(["France's capital city is"])[0], v[1], atol=1e-5)


def test_bad_input_is_refused_with_what_to_do() -> None:
    with pytest.raises(InputError, match="embed\\(\\[text\\]\\)"):
        MiniLMEmbedder.load().embed("one string")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="known: " + ", ".join(HIDDEN_OUTPUT)):
        MiniLMEmbedder(session=None, tokenizer=None, model_id="no-such-model")
    assert MiniLMEmbedder.load().embed([]).shape == (0, DIM)
