"""Sentence embeddings on the device: all-MiniLM-L6-v2, int8 ONNX, via onnxruntime + tokenizers.

Several capabilities need to know whether two texts mean the same thing: curation (novelty and
near-duplicates), the router (the question vectors of its answer bank), device/cloud
disagreement. Two models: all-MiniLM-L6-v2 int8 (a 23 MB file, but ~160 MB resident once
onnxruntime has folded its weights to float32; ~6 ms a sentence on one core) and the smaller
paraphrase-MiniLM-L3-v2 (3 layers, ~100 MB resident, 2-4 ms), which is what fits beside
SmolLM2 on the watch. The recipe is the sentence-transformers one for both: WordPiece tokens
(truncated to 256), the per-token output mean-pooled over the attention mask, L2-normalised, so
a dot product is the cosine similarity.

The models and their shared tokenizer come from registry packages through the catalog
(``minilm-l6-int8``, ``minilm-l3-paraphrase``, ``minilm-l6-tokenizer``); ``onnxruntime`` and
``tokenizers`` are the ``embed`` extra, imported only when an embedder is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgesdk.catalog import Catalog
from edgesdk.errors import InputError, MissingExtra, ModelLoadError

MODEL_ID = "minilm-l6-int8"
L3_MODEL_ID = "minilm-l3-paraphrase"
"""paraphrase-MiniLM-L3-v2 (3 layers, float32): the watch's and glasses' router question
vectors, where MiniLM-L6's memory does not fit; same tokenizer, same pooling."""
TOKENIZER_ID = "minilm-l6-tokenizer"
DIM = 384
HIDDEN_OUTPUT = {MODEL_ID: "last_hidden_state", L3_MODEL_ID: "onnx::Shape_422"}
"""Each model's per-token output (mean-pooled here)."""
RESIDENT_MB = {MODEL_ID: 160, L3_MODEL_ID: 100}
"""Measured: resident memory after loading the embedder and embedding one question. MiniLM-L6
int8: VmRSS +159 MB on onnxruntime x86-64 (graph optimisation folds the int8 weights back to
float32 at load; with it off they stay int8, +64 MB, but a question takes 62 ms instead of ~6
and the first runs peak at +153 MB), 0.25 s to load. L3: +97 MB (+120 at peak), ~2 ms a
question."""


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(module=module, extra="embed", purpose="sentence embeddings") from exc


def load_text_model(model: Path, tokenizer: Path, *, threads: int, what: str,
                    ids: tuple[str, str], spin: bool = True) -> tuple[Any, Any]:
    """An onnxruntime session on ``threads`` cores and its HF tokenizer (the embedders' and
    the document reader's), or a ``ModelLoadError`` that says how to re-fetch ``ids``.
    ``spin=False``: the session's threads sleep between runs instead of spinning."""
    ort = _import("onnxruntime")
    tokenizers = _import("tokenizers")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(model), sess_options=options,
                                       providers=["CPUExecutionProvider"])
        tok = tokenizers.Tokenizer.from_file(str(tokenizer))
    except Exception as exc:  # engine errors are not ours to leak
        raise ModelLoadError(
            f"could not load {what} {model} / {tokenizer}: {exc}. "
            f"Re-fetch with: edgesdk models fetch {' '.join(ids)} --force") from exc
    return session, tok


class MiniLMEmbedder:
    """``embed(texts) -> float32[n, 384]``, rows L2-normalised."""

    model_id = MODEL_ID
    dim = DIM

    def __init__(self, *, session: Any, tokenizer: Any, max_length: int = 256,
                 batch_size: int = 32, model_id: str = MODEL_ID) -> None:
        if model_id not in HIDDEN_OUTPUT:
            raise InputError(f"unknown embedding model '{model_id}' (known: "
                             f"{', '.join(HIDDEN_OUTPUT)})")
        self.model_id = model_id
        self._output = HIDDEN_OUTPUT[model_id]
        self._session = session
        self._tokenizer = tokenizer
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._inputs = {i.name for i in session.get_inputs()}
        self.batch_size = batch_size

    @classmethod
    def load(cls, *, catalog: Catalog | None = None, threads: int = 1,
             max_length: int = 256, model_id: str = MODEL_ID) -> MiniLMEmbedder:
        catalog = catalog or Catalog()
        return cls.from_files(model=catalog.locate(model_id),
                              tokenizer=catalog.locate(TOKENIZER_ID), threads=threads,
                              max_length=max_length, model_id=model_id)

    @classmethod
    def from_files(cls, *, model: Path, tokenizer: Path, threads: int = 1,
                   max_length: int = 256, model_id: str = MODEL_ID) -> MiniLMEmbedder:
        session, tok = load_text_model(model, tokenizer, threads=threads,
                                       what="the embedding model",
                                       ids=(model_id, TOKENIZER_ID))
        return cls(session=session, tokenizer=tok, max_length=max_length, model_id=model_id)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if isinstance(texts, str):
            raise InputError("embed() takes a list of texts, not one string: embed([text])")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._embed_batch(list(texts[i:i + self.batch_size]))
               for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(out, axis=0)

    def _embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask,
                 "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run([self._output],
                                   {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result

    def similarity(self, a: str, b: str) -> float:
        vectors = self.embed([a, b])
        return float(vectors[0] @ vectors[1])
