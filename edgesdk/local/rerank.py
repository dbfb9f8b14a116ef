"""The document reader on the device: a cross-encoder that reads the question and one sentence
together and scores how well the sentence answers it (cross-encoder/ms-marco-MiniLM-L-12-v2,
int8 ONNX, via onnxruntime + tokenizers).

Why a cross-encoder: choosing the sentence that answers a question by comparing two separate
sentence vectors (MiniLM) and shared words fails when the question is asked in other words
than the document's ("can I pause my membership" / "You can freeze your membership for up to
2 months"): 0.30 of such questions were read right that way. A model that attends across the
question and the sentence at once was trained for exactly this on MS MARCO's real search
questions; on the same questions it reads 0.80 right (docs/knowledge.md). Its score also says
when no sentence answers at all, which is what the router needs. No extractive (span) QA model
and no multilingual cross-encoder is served by the registries this project may use, so it
reads English only; Chinese questions keep the vector-and-words reader.

The model and its tokenizer come from a registry package through the catalog
(``reader-msmarco-l12-int8``, ``reader-msmarco-l12-tokenizer``); ``onnxruntime`` and
``tokenizers`` are the ``embed`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgesdk.catalog import Catalog
from edgesdk.errors import InputError
from edgesdk.local.embed import load_text_model

READER_ID = "reader-msmarco-l12-int8"
TOKENIZER_ID = "reader-msmarco-l12-tokenizer"
READERS = frozenset({READER_ID})
RESIDENT_MB = {READER_ID: 85}
"""Measured: +81 MB resident after loading the reader and scoring 16 sentences (onnxruntime
folds the int8 weights to float32 at load, as with MiniLM); 0.15 s to load."""


class CrossEncoderReader:
    """``score(question, passages) -> float32[n]``: a logit per passage, higher is a better
    answer (above ~3 the passage usually answers; below 0 it does not)."""

    languages = frozenset({"en"})

    def __init__(self, *, session: Any, tokenizer: Any, model_id: str = READER_ID,
                 max_length: int = 256, batch_size: int = 16) -> None:
        self.model_id = model_id
        self._session = session
        self._tokenizer = tokenizer
        self._tokenizer.no_padding()  # the shipped tokenizer pads every pair to 512 tokens
        self._tokenizer.enable_truncation(max_length=max_length, strategy="only_second")
        self._inputs = {i.name for i in session.get_inputs()}
        self.batch_size = batch_size

    @classmethod
    def load(cls, *, catalog: Catalog | None = None, threads: int = 2,
             model_id: str = READER_ID) -> CrossEncoderReader:
        if model_id not in READERS:
            raise InputError(f"unknown document reader '{model_id}' (known: "
                             f"{', '.join(sorted(READERS))})")
        catalog = catalog or Catalog()
        return cls.from_files(model=catalog.locate(model_id),
                              tokenizer=catalog.locate(TOKENIZER_ID), threads=threads,
                              model_id=model_id)

    @classmethod
    def from_files(cls, *, model: Path, tokenizer: Path, threads: int = 2,
                   model_id: str = READER_ID) -> CrossEncoderReader:
        # a reader runs once a question: its threads must not spin between questions (and
        # burn a phone's battery and the next model's cores); ~10 % slower, measured
        session, tok = load_text_model(model, tokenizer, threads=threads,
                                       what="the document reader",
                                       ids=(model_id, TOKENIZER_ID), spin=False)
        return cls(session=session, tokenizer=tok, model_id=model_id)

    def score(self, question: str, passages: Sequence[str]) -> NDArray[np.float32]:
        if isinstance(passages, str):
            raise InputError("score() takes a list of passages, not one string: "
                             "score(question, [passage])")
        out = [self._score_batch(question, list(passages[i:i + self.batch_size]))
               for i in range(0, len(passages), self.batch_size)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def _score_batch(self, question: str, passages: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch([(question, p) for p in passages])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, 1, e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        logits = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
        result: NDArray[np.float32] = np.asarray(logits[0], dtype=np.float32).reshape(-1)
        return result


@cache
def shared_reader(model_id: str) -> CrossEncoderReader:
    """One reader per process (its session is thread-safe)."""
    return CrossEncoderReader.load(model_id=model_id)
