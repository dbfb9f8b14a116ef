"""How an Assistant's default parts are built from a profile and settings, plus the small
objects the request path hands back (``AnswerStream``, ``AssistantStats``).

Kept apart from ``assistant.py`` so that file reads as the request path and nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from edgesdk.catalog import Catalog
from edgesdk.config import Settings
from edgesdk.devices import DeviceProfile, asr_model_for
from edgesdk.errors import (
    CloudError,
    ConfigError,
    EmptyQuestion,
    InputTooLong,
    MemoryBudgetExceeded,
)
from edgesdk.local.embed import RESIDENT_MB as EMBEDDER_RESIDENT_MB
from edgesdk.local.llm import LocalLLM
from edgesdk.local.rerank import RESIDENT_MB as READER_RESIDENT_MB
from edgesdk.local.whisper import RESIDENT_MB as ASR_RESIDENT_MB
from edgesdk.protocols import ChatResultLike, RouterLike, TextRedactor, TierClient
from edgesdk.streams import FinalStream
from edgesdk.types import (
    Answer,
    DetectedObject,
    Face,
    Percept,
    TextLine,
    ToolCall,
)

KV_MB_PER_CTX_TOKEN = 0.08
"""Measured: KV cache + compute buffers of SmolLM2/Gemma-270M grow ~0.08 MB per context token."""
PROBE_MB_PER_MODEL_MB = 0.15
"""Measured: the hidden-state probe's embedding context over the generating model's weights adds
~0.13x the GGUF's size in resident memory (SmolLM2 +13 MB, Gemma 3 270M +33 MB; loading the
GGUF a second time, as it used to, cost +166 / +404 MB)."""
PROBE_N_CTX = 256


def estimate_memory_mb(profile: DeviceProfile, catalog: Catalog,
                       model_ids: str | Sequence[str], *, probe_for: str | None = None,
                       question_embedder: str | None = None,
                       knowledge_embedder: str | None = None,
                       knowledge_reader: str | None = None) -> int:
    """Peak resident memory a profile needs for its LLM(s), its perceivers, with ``probe_for``
    the hidden-state probe over that model, the router's ``question_embedder`` (the id its
    lookup signal was fitted with: ``calibration.question_embedder``; hashed words cost
    nothing), and the knowledge's embedder and document reader (MB)."""
    ids = [model_ids] if isinstance(model_ids, str) else list(model_ids)
    total = float(profile.runtime_overhead_mb) + embedder_mb(question_embedder)
    if knowledge_embedder != question_embedder:  # the same MiniLM is loaded once, shared
        total += embedder_mb(knowledge_embedder)
    total += READER_RESIDENT_MB.get(knowledge_reader or "", 0)
    for model_id in ids:
        total += catalog.manifest(model_id).size / 1e6 + profile.n_ctx * KV_MB_PER_CTX_TOKEN
    if probe_for is not None:
        total += PROBE_MB_PER_MODEL_MB * catalog.manifest(probe_for).size / 1e6
    for perceiver_model in perceiver_models(profile, catalog):
        total += ASR_RESIDENT_MB.get(perceiver_model,
                                     2 * catalog.manifest(perceiver_model).size / 1e6)
    return math.ceil(total)


def embedder_mb(embedder_id: str | None) -> int:
    """Resident memory of the router's question embedder: a MiniLM's measured footprint, 0 for
    hashed words (no model) or no lookup signal."""
    return EMBEDDER_RESIDENT_MB.get(embedder_id or "", 0)


def perceiver_models(profile: DeviceProfile, catalog: Catalog,
                     language: str | None = None) -> list[str]:
    """Catalog ids of the perception models a profile's perceivers load (the recogniser for
    ``language``, default the profile's)."""
    tasks = {
        "faces": ("face",), "objects": ("object",), "ocr": ("ocr-det", "ocr-rec", "ocr-cls"),
        "vad": ("vad",), "wakeword": ("wakeword",), "denoise": ("denoise",), "asr": ("asr",),
    }
    wanted = {task for name in profile.perceivers for task in tasks.get(name, ())} - {"asr"}
    models = [m.id for m in catalog.manifests.values()
              if m.task in wanted and (not m.profiles or profile.name in m.profiles)]
    asr = asr_model_for(profile, language)
    return sorted([*models, *([asr] if asr else [])])


def build_default_tiers(settings: Settings) -> list[TierClient]:
    """One cloud tier when a DeepSeek key or a non-default base URL is configured, else none."""
    custom_url = settings.cloud_base_url != Settings.model_fields["cloud_base_url"].default
    if settings.deepseek_api_key is None and not custom_url:
        return []
    from edgesdk.cloud.tier import build_tier

    return [build_tier(name="cloud", tier="cloud", base_url=settings.cloud_base_url,
                       model=settings.cloud_model, api_key=settings.deepseek_api_key)]


def image_bytes(image: object) -> bytes | None:
    """Encoded bytes of an image input (path, bytes, numpy RGB array or PIL image) for curation;
    ``None`` when it cannot be had cheaply."""
    from pathlib import Path

    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if isinstance(image, (str, Path)):
        try:
            return Path(image).read_bytes()
        except OSError:
            return None
    try:
        import io

        from PIL import Image
    except ImportError:
        return None
    pil = image if isinstance(image, Image.Image) else None
    if pil is None:
        import numpy as np

        if isinstance(image, np.ndarray) and image.ndim == 3:
            pil = Image.fromarray(image.astype(np.uint8))
    if pil is None:
        return None
    buf = io.BytesIO()
    pil.convert("RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def percept_context(percepts: Sequence[Percept], *, saw_image: bool = False) -> list[str]:
    """Percepts as short text lines for the prompt (and for upper tiers: text, never pixels)."""
    lines: list[str] = []
    texts = [p.text for p in percepts if isinstance(p, TextLine) and p.text.strip()]
    if texts:
        lines.append("Text in view: " + " | ".join(f'"{t}"' for t in texts))
    faces = [p for p in percepts if isinstance(p, Face)]
    if faces:
        lines.append(f"People in view: {len(faces)} face{'s' if len(faces) > 1 else ''} detected")
    objects = sorted({p.label for p in percepts if isinstance(p, DetectedObject)})
    if objects:
        lines.append("Objects in view: " + ", ".join(objects))
    if not faces and saw_image:
        lines.append("People in view: none detected")
    return lines


@dataclass
class TierOutcome:
    answer: ChatResultLike | None
    error: CloudError | None
    tier: TierClient | None
    declined: ChatResultLike | None = None
    """No tier answered, and this one said it is not sure instead (``tier_declined``) before
    showing anything; ``declined_tier`` is the tier that did."""
    declined_tier: TierClient | None = None
    calls: tuple[ToolCall, ...] = ()
    """The tools the tier called, validated against the ones offered (placeholders filled
    back in from the device's own record of what was redacted)."""


class AnswerStream(FinalStream[Answer]):
    """Iterate the answer's text deltas; ``answer`` holds the final ``Answer`` afterwards."""

    final_type = Answer
    skip_empty = True

    @property
    def answer(self) -> Answer | None:
        return self.final

    @answer.setter
    def answer(self, value: Answer | None) -> None:
        self.final = value


class AssistantStats(BaseModel):
    requests: int = 0
    by_tier: dict[str, int] = Field(default_factory=dict)
    by_source: dict[str, int] = Field(default_factory=dict)
    escalated: int = 0
    fallbacks: int = 0
    declined: int = 0
    """Answers that said "not sure" instead (``Answer.declined``)."""
    cost: dict[str, float] = Field(default_factory=dict)
    prompt_cache_hit_tokens: int = 0
    prompt_cache_miss_tokens: int = 0
    feedback: int = 0
    negative_feedback: int = 0

    def add(self, answer: Answer, *, fell_back: bool = False) -> None:
        """Count one answer; ``fell_back``: an upper tier was tried and the device answered."""
        self.requests += 1
        self.by_tier[answer.tier] = self.by_tier.get(answer.tier, 0) + 1
        self.by_source[answer.source] = self.by_source.get(answer.source, 0) + 1
        if answer.escalated:
            self.escalated += 1
            self.prompt_cache_hit_tokens += answer.usage.prompt_cache_hit_tokens
            self.prompt_cache_miss_tokens += answer.usage.prompt_cache_miss_tokens
        if fell_back:
            self.fallbacks += 1
        if answer.declined:
            self.declined += 1
        if answer.cost.amount:
            currency = answer.cost.currency
            self.cost[currency] = self.cost.get(currency, 0.0) + answer.cost.amount

    @property
    def cloud_cache_hit_share(self) -> float:
        total = self.prompt_cache_hit_tokens + self.prompt_cache_miss_tokens
        return self.prompt_cache_hit_tokens / total if total else 0.0


def check_budget(profile: DeviceProfile, catalog: Catalog, model_ids: Sequence[str], *,
                 also: Sequence[str] = (), probe_for: str | None = None,
                 question_embedder: str | None = None,
                 knowledge_embedder: str | None = None,
                 knowledge_reader: str | None = None) -> None:
    """Refuse, before loading anything, models the profile may not or cannot hold (with
    the default router's question embedder, when its lookup signal needs a model)."""
    for model_id in model_ids:
        if model_id not in profile.allowed_llms:
            catalog.manifest(model_id)  # unknown id -> UnknownModel first
            raise MemoryBudgetExceeded(
                f"profile '{profile.name}' may not load model '{model_id}' "
                f"(allowed: {', '.join(profile.allowed_llms)}). Pick an allowed model "
                "or a bigger profile (phone, edge)")
    if not model_ids and probe_for is None and not embedder_mb(question_embedder) and \
            not embedder_mb(knowledge_embedder) and knowledge_reader is None:
        return
    also = [m for m in also if m in catalog.manifests]  # an app's own backend: size unknown
    needed = estimate_memory_mb(profile, catalog, [*model_ids, *also],
                                probe_for=probe_for, question_embedder=question_embedder,
                                knowledge_embedder=knowledge_embedder,
                                knowledge_reader=knowledge_reader)
    if needed > profile.memory_budget_mb:
        extras = (" and the hidden-state probe" if probe_for is not None else "") + (
            f" and the router's question embedder ({question_embedder})"
            if embedder_mb(question_embedder) else "") + (
            f" and the knowledge embedder ({knowledge_embedder})"
            if embedder_mb(knowledge_embedder) else "") + (
            f" and the document reader ({knowledge_reader})" if knowledge_reader else "")
        raise MemoryBudgetExceeded(
            f"profile '{profile.name}' has a {profile.memory_budget_mb} MB budget "
            f"but {' + '.join(dict.fromkeys([*model_ids, *also]))}{extras} with its "
            f"perceivers needs about {needed} MB. Use a smaller model, no peer, no probe "
            "or fewer perceivers, or a bigger profile"
        )


def router_options(profile: DeviceProfile, model_id: str, *, llm: LocalLLM | None,
                   router: RouterLike | None, peer: str | LocalLLM | None, probe: bool | None,
                   online: bool) -> tuple[str | LocalLLM | None, bool]:
    """The Assistant's (peer, probe) after the profile's defaults, or ``ConfigError`` for a
    combination that cannot work. A profile's peer and probe apply to its own model run by
    llama.cpp and the default router; an explicit peer, router or other LLM backend turns the
    profile's probe off."""
    if peer is None and model_id == profile.llm:
        peer = profile.peer_llm
    profile_probe = (profile.router_probe and model_id == profile.llm and router is None
                     and peer is None and (llm is None or getattr(llm, "raw", None) is not None))
    use_probe = profile_probe if probe is None else probe
    if use_probe and router is not None:
        raise ConfigError("probe=True builds the default router with the hidden-state "
                          "probe; with your own router, pass hidden= to Router.for_model")
    if online and router is not None:
        raise ConfigError("online=True builds the default router with online "
                          "recalibration; with your own router, pass online=True to "
                          "Router.for_model")
    if use_probe and peer is not None:
        raise ConfigError("the router adds the peer's agreement or the hidden-state probe "
                          "to its signals, not both: pass peer= or probe=True")
    return peer, bool(use_probe)


def default_redactor() -> TextRedactor:
    """The data area's PII redactor (regex + checksums, pure Python, microseconds per line)."""
    from edgesdk.data.redact import Redactor

    return Redactor()


def default_router(model_id: str, profile: DeviceProfile, *, catalog: Catalog | None = None,
                   probe: bool = False, online: bool = False, home: Path | None = None,
                   llm: LocalLLM | None = None) -> RouterLike:
    """The calibrated router for ``model_id`` (``$EDGESDK_HOME``'s fitted one, else the shipped
    one), with ``profile``'s policy; with ``probe``, also the hidden-state probe
    (``local/probe.py``) over ``llm``'s loaded weights when it is a llama.cpp model, else over
    the model's file; with ``online``, on-device recalibration from the cloud's answers
    (``routing/online.py``)."""
    from edgesdk.routing.router import Router

    hidden = None
    if probe:
        from edgesdk.local.probe import LlamaHiddenStates

        raw = getattr(llm, "raw", None) if llm is not None and llm.model_id == model_id else None
        hidden = (LlamaHiddenStates(llama=raw, threads=profile.threads, n_ctx=PROBE_N_CTX)
                  if raw is not None else
                  LlamaHiddenStates(model_path=(catalog or Catalog()).locate(model_id),
                                    threads=profile.threads, n_ctx=PROBE_N_CTX))
    return Router.for_model(model_id, profile=profile, online=online, home=home, hidden=hidden)


def check_question(question: str | None, *, has_audio: bool, max_chars: int) -> None:
    """A request's question before anything runs: ``InputTooLong`` or ``EmptyQuestion``."""
    if question is not None and len(question) > max_chars:
        raise InputTooLong(f"the question is {len(question)} characters; the limit is "
                           f"{max_chars}. Shorten it (or raise EDGESDK_MAX_QUESTION_CHARS)")
    if (question is None or not question.strip()) and not has_audio:
        raise EmptyQuestion("the question is empty. Pass a question, or audio that asks one")
