"""The on-device LLM runtime over llama-cpp-python, with per-token evidence for the router.

The router needs to know how sure the model was of every token it produced. llama-cpp-python
only exposes that through ``logits_all=True``, which keeps a full vocabulary row per prompt
token: on Gemma's 262k vocabulary that costs seconds per question. Instead this runtime drives
``Llama.generate`` token by token and, right after each token is sampled, reads the *current*
logits row straight from the llama.cpp context (zero-copy) and reduces it into three numbers:
the chosen token's log-prob, the entropy, and the top-1/top-2 margin (``evidence.py``: one fused
C pass, about 0.15 ms per token on Gemma's 262k vocabulary, under 1 % of the decode step).

The prompt prefix is left byte-identical across requests (see ``prompts.py``) so llama.cpp's
prefix cache skips re-evaluating the few-shot block; ``Generation.cached_prompt_tokens`` says how
many prompt tokens were reused.

Context overflow has one behaviour: a prompt that leaves no room for at least one generated
token raises ``ContextOverflow`` before any compute; otherwise ``max_tokens`` is clipped to the
room left and a generation that hits it finishes with ``finish_reason="length"``.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from edgesdk.catalog import Catalog
from edgesdk.config import load_settings
from edgesdk.errors import ContextOverflow, MissingExtra, ModelLoadError
from edgesdk.local.constrained import GrammarDecoder
from edgesdk.local.evidence import EvidenceMeter
from edgesdk.local.smoke import ensure_llama_works
from edgesdk.streams import FinalStream
from edgesdk.types import FinishReason, Generation, GenerationEvidence, Timings

Prompt = str | Sequence[Mapping[str, str]]
PromptStyle = Literal["chat", "completion"]


@runtime_checkable
class LocalLLM(Protocol):
    """What the assistant and the router need from an on-device language model."""

    model_id: str
    prompt_style: PromptStyle
    n_ctx: int

    def generate(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        deadline: float | None = None,
        evidence: bool = True,
        seed: int | None = None,
        grammar: str | None = None,
    ) -> Generation: ...

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        deadline: float | None = None,
        evidence: bool = True,
        seed: int | None = None,
        grammar: str | None = None,
    ) -> GenerationStream: ...

    def count_tokens(self, text: str) -> int: ...


class GenerationStream(FinalStream[Generation]):
    """Iterate text deltas as they are decoded; ``generation`` is set once the stream ends.

    Leaving the loop early (``break`` or ``close()``) stops decoding at once.
    """

    final_type = Generation

    @property
    def generation(self) -> Generation | None:
        return self.final

    @generation.setter
    def generation(self, value: Generation | None) -> None:
        self.final = value

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class LlamaCppLLM:
    """A GGUF model loaded with llama-cpp-python; one generation at a time (internally locked)."""

    def __init__(
        self,
        *,
        model_path: Path,
        model_id: str,
        prompt_style: PromptStyle,
        n_ctx: int = 1024,
        threads: int = 2,
        seed: int = 0,
    ) -> None:
        settings = load_settings()
        if settings.native_check:
            ensure_llama_works(model_path, home=settings.home)
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingExtra(
                module="llama_cpp", extra="llm", purpose="running a local GGUF model"
            ) from exc
        self._llama_cpp = llama_cpp
        _route_llama_logs(llama_cpp)
        self.model_id = model_id
        self.prompt_style: PromptStyle = prompt_style
        self.n_ctx = n_ctx
        self.path = model_path
        started = time.perf_counter()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=min(512, n_ctx),
                seed=seed,
                logits_all=False,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(
                f"llama.cpp could not load model '{model_id}' from {model_path}: {exc}. "
                f"Check it with: edgesdk models verify {model_id}"
            ) from exc
        self.load_ms = (time.perf_counter() - started) * 1000
        self._n_vocab = self._llm.n_vocab()
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self._meter = EvidenceMeter(self._n_vocab)
        self._lock = threading.Lock()
        self._chat_formatter: Any = None

    @classmethod
    def load(
        cls,
        model_id: str,
        *,
        catalog: Catalog | None = None,
        n_ctx: int = 1024,
        threads: int = 2,
        seed: int = 0,
    ) -> LlamaCppLLM:
        catalog = catalog or Catalog()
        manifest = catalog.manifest(model_id)
        if manifest.task != "llm":
            raise ModelLoadError(f"model '{model_id}' is a {manifest.task} model, not an LLM")
        path = catalog.locate(model_id)
        return cls(
            model_path=path,
            model_id=model_id,
            prompt_style=manifest.prompt_style or "completion",
            n_ctx=min(n_ctx, manifest.context_length or n_ctx),
            threads=threads,
            seed=seed,
        )

    @property
    def evidence_kernel(self) -> str:
        """Which evidence backend runs per token (``c-avx512`` … ``numpy``; see evidence.py)."""
        return self._meter.kernel

    @property
    def raw(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (for benchmarks that compare against it)."""
        return self._llm

    # ------------------------------------------------------------------ prompts

    def render(self, prompt: Prompt) -> str:
        """Messages → the model's own chat template (from the GGUF metadata); str passes through."""
        if isinstance(prompt, str):
            return prompt
        if self._chat_formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self._llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise ModelLoadError(
                    f"model '{self.model_id}' has no chat template; pass a completion prompt"
                )
            eos = self._llm._model.token_get_text(self._llm.token_eos())
            bos = self._llm._model.token_get_text(self._llm.token_bos())
            self._chat_formatter = Jinja2ChatFormatter(template=template, eos_token=eos,
                                                       bos_token=bos)
        rendered: str = self._chat_formatter(messages=list(prompt)).prompt
        return rendered

    def tokenize(self, text: str) -> list[int]:
        tokens: list[int] = self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        deadline: float | None = None,
        evidence: bool = True,
        seed: int | None = None,
        grammar: str | None = None,
    ) -> Generation:
        return self.stream(
            prompt, max_tokens=max_tokens, stop=stop, temperature=temperature,
            deadline=deadline, evidence=evidence, seed=seed, grammar=grammar,
        ).result()

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        deadline: float | None = None,
        evidence: bool = True,
        seed: int | None = None,
        grammar: str | None = None,
    ) -> GenerationStream:
        """``grammar``: GBNF text (``local/grammar.py``) the output must follow, decoded greedily
        (``local/constrained.py``). The evidence is still read from the raw logits, so a token
        the grammar forced against the model's wish shows as a low log-prob."""
        tokens = self.tokenize(self.render(prompt))
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise ContextOverflow(
                f"the prompt is {len(tokens)} tokens but model '{self.model_id}' has a "
                f"{self.n_ctx}-token context. Shorten the question or its context, or use a "
                "mode that may escalate (prefer-on-device / prefer-cloud)"
            )
        return GenerationStream(self._run(
            tokens, max_new=min(max_tokens, room), stop=tuple(s for s in stop if s),
            temperature=temperature, deadline=deadline, evidence=evidence, seed=seed,
            grammar=grammar or None,
        ))

    def _run(
        self,
        tokens: list[int],
        *,
        max_new: int,
        stop: tuple[str, ...],
        temperature: float,
        deadline: float | None,
        evidence: bool,
        seed: int | None,
        grammar: str | None = None,
    ) -> Iterator[str | Generation]:
        lib = self._llama_cpp
        with self._lock:
            llm = self._llm
            if seed is not None:
                llm.set_seed(seed)
            cached = _common_prefix(llm.input_ids[: llm.n_tokens], tokens)
            logprobs: list[float] = []
            entropies: list[float] = []
            margins: list[float] = []
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            text = ""
            emitted = 0
            finish: FinishReason = "length"
            n_out = 0
            hold = max((len(s) for s in stop), default=1) - 1
            started = time.perf_counter()
            first_token_at = 0.0
            generator = (GrammarDecoder(lib, llm, self._vocab, self._n_vocab, grammar)
                         .tokens(tokens) if grammar else llm.generate(
                tokens, temp=max(temperature, 0.0), top_k=40, top_p=0.95, min_p=0.05,
                repeat_penalty=1.0, reset=True))
            try:
                for token in generator:
                    if n_out == 0:
                        first_token_at = time.perf_counter()
                    if lib.llama_vocab_is_eog(self._vocab, token):
                        finish = "stop"
                        break
                    n_out += 1
                    if evidence:
                        lp, ent, mg = self._meter.measure_pointer(
                            lib.llama_get_logits_ith(llm.ctx, -1), token,
                            top=token if temperature <= 0 else None)
                        logprobs.append(lp)
                        entropies.append(ent)
                        margins.append(mg)
                    text += decoder.decode(llm.detokenize([token]))
                    cut = _find_stop(text, stop, emitted)
                    if cut is not None:
                        text = text[:cut]
                        finish = "stop"
                        break
                    safe = len(text) - hold if stop else len(text)
                    if safe > emitted:
                        yield text[emitted:safe]
                        emitted = safe
                    if n_out >= max_new:
                        finish = "length"
                        break
                    if deadline is not None and time.monotonic() >= deadline:
                        finish = "deadline"
                        break
            finally:
                generator.close()
            text += decoder.decode(b"", final=True) if finish != "stop" else ""
            if len(text) > emitted:
                yield text[emitted:]
            ended = time.perf_counter()
            first = first_token_at or ended
            yield Generation(
                text=text,
                model_id=self.model_id,
                prompt_tokens=len(tokens),
                completion_tokens=n_out,
                cached_prompt_tokens=cached,
                finish_reason=finish,
                evidence=GenerationEvidence(
                    logprobs=tuple(logprobs), entropies=tuple(entropies), margins=tuple(margins)
                ),
                timings=Timings(
                    load_ms=self.load_ms,
                    prompt_ms=(first - started) * 1000,
                    first_token_ms=(first - started) * 1000,
                    decode_ms=(ended - first) * 1000,
                    total_ms=(ended - started) * 1000,
                ),
            )

    def close(self) -> None:
        with self._lock:
            close = getattr(self._llm, "close", None)
            if close is not None:
                close()


_LOG_CALLBACK: Any = None
_log = logging.getLogger("edgesdk.llama_cpp")


def _route_llama_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's C-level log lines to Python logging (DEBUG) instead of raw stderr."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return

    @llama_cpp.llama_log_callback  # type: ignore[misc,untyped-decorator]
    def _callback(level: int, text: bytes, user_data: Any) -> None:
        _log.debug("%s", text.decode("utf-8", errors="replace").rstrip())

    _LOG_CALLBACK = _callback
    llama_cpp.llama_log_set(_callback, None)


def _common_prefix(cached: Sequence[int] | np.ndarray[Any, Any], tokens: Sequence[int]) -> int:
    n = min(len(cached), len(tokens))
    if n == 0:
        return 0
    a = np.asarray(cached[:n])
    b = np.asarray(tokens[:n])
    diff = np.flatnonzero(a != b)
    return int(diff[0]) if diff.size else n


def _find_stop(text: str, stop: tuple[str, ...], emitted: int) -> int | None:
    """Index where the earliest stop string starts, searching only text not yet emitted."""
    start = max(0, emitted - max((len(s) for s in stop), default=0))
    best: int | None = None
    for s in stop:
        at = text.find(s, start)
        if at != -1 and (best is None or at < best):
            best = at
    return best
