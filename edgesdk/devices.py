"""Device profiles: what a watch, glasses, a phone or an edge box may load and how it behaves.

A profile is data, not code: a memory budget, a thread count, the models and perceivers it may
load, and its default routing policy. Budgets are enforced when an Assistant is built
(``MemoryBudgetExceeded``), never discovered mid-request by the OS killing the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgesdk.errors import UnknownProfile

Network = Literal["none", "metered", "unmetered"]
POWER_SUPPLY = Path("/sys/class/power_supply")


class DeviceState(BaseModel):
    """What the device is like right now; the policy and the uploader respect it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    battery: float = Field(default=1.0, ge=0.0, le=1.0)
    charging: bool = False
    network: Network = "unmetered"

    @classmethod
    def from_system(cls, *, network: Network = "unmetered",
                    power_supply: Path = POWER_SUPPLY) -> DeviceState:
        """The battery as the OS reports it (Linux and Android: ``/sys/class/power_supply``):
        the first battery's capacity, and charging when its status is Charging or Full or a
        mains/USB supply is online. No battery (a desktop, a gateway): full and on mains. An app
        on a platform without sysfs passes its own ``DeviceState``."""
        batteries, mains = [], False
        for supply in sorted(power_supply.glob("*")) if power_supply.is_dir() else []:
            kind = _read(supply / "type")
            if kind == "Battery" and _read(supply / "capacity").isdigit():
                batteries.append((int(_read(supply / "capacity")), _read(supply / "status")))
            elif kind in ("Mains", "USB", "USB_C", "Wireless") and _read(supply / "online") == "1":
                mains = True
        if not batteries:
            return cls(battery=1.0, charging=True, network=network)
        capacity, status = batteries[0]
        return cls(battery=min(max(capacity / 100, 0.0), 1.0),
                   charging=mains or status in ("Charging", "Full"), network=network)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""


class DeviceProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    memory_budget_mb: int = Field(gt=0)
    threads: int = Field(ge=1)
    llm: str
    """Default local LLM (a catalog id)."""
    allowed_llms: tuple[str, ...]
    perceivers: tuple[str, ...] = ()
    n_ctx: int = 1024
    max_tokens: int = 48
    target_device_accuracy: float = Field(default=0.7, gt=0.0, le=1.0)
    """Default policy: keep an LLM answer on the device only where, on held-out data, the
    answers kept are right at least this often (the router's calibration turns it into a
    confidence threshold); the rest escalate when a tier is reachable. Watch and glasses use
    0.6: SmolLM2 is right about a third of the time, and at 0.7 it would keep almost nothing."""
    target_cloud_share: float | None = Field(default=None, ge=0.0, le=1.0)
    """Alternative policy: escalate about this share of LLM-answered requests instead."""
    runtime_overhead_mb: int = 90
    """Interpreter, numpy, llama.cpp and onnxruntime code and buffers, measured on x86-64."""
    peer_llm: str | None = None
    """Costlier router signal: a second local model answers every LLM-answered question too,
    and the router weighs whether the two agree (``routing/peer.py``). Needs a calibration of
    ``llm`` fitted with that peer (shipped: SmolLM2 with Gemma). Off in every built-in profile:
    it costs one more generation per question and the memory of a second model."""
    refuse_below: float | None = Field(default=None, ge=0.0, le=1.0)
    """Decline instead of showing a device answer whose calibrated confidence is below this,
    when no upper tier answered instead (offline, not allowed up, or the tier failed): the
    Answer then says it is not sure (``Answer.declined``; the withheld text stays in
    ``device_text``). ``None``: always show the device's answer. Built-in profiles: 0.05 —
    offline on the test split that withholds 35 % (SmolLM2) / 20 % (Gemma) of the answers, of
    which 2 % were right, and lifts the accuracy of what is shown from 0.36 to 0.55 (SmolLM2) /
    0.49 to 0.61 (Gemma) (``refusal`` in ``edgesdk eval``'s report)."""
    upload_min_battery: float = Field(default=0.2, ge=0.0, le=1.0)
    """Below this battery level, unless charging, the uploader waits (``UploadPolicy.
    for_profile``): an upload is never worth the last of a small battery. Watch and glasses
    0.3 (a day's charge is small and the radio is costly), phone 0.2, edge 0 (on mains)."""
    transcript_floor: float | None = Field(default=0.5, ge=0.0, le=1.0)
    """A spoken question whose transcript confidence (calibrated P(WER ≤ 0.2)) is below this
    is not answered: the assistant says what it heard and asks the user to say it again, rather
    than answer a question nobody asked. ``None``: answer whatever was heard."""
    asr_model: str | None = None
    """The speech recogniser for English (a catalog id); Chinese or ``auto`` takes the
    multilingual ``asr-whisper-base`` (:func:`asr_model_for`)."""
    speech_language: Literal["en", "zh", "auto"] = "en"
    """What the recogniser expects unless the app or ``EDGESDK_SPEECH_LANGUAGE`` says
    otherwise: ``auto`` chooses between English and Chinese per utterance."""
    router_probe: bool = False
    """Costlier router signal: the hidden-state probe (``routing/hidden.py``), one extra prompt
    pass of the local model per LLM answer (~50-80 ms here) in an embedding context over the
    model's loaded weights (+13 MB beside SmolLM2, +33 MB beside Gemma, measured). Off in every
    built-in profile: on the phone it lifted Gemma's cross-validated AUROC 0.881 → 0.887 but
    moved neither the cloud share nor the kept answers' accuracy measurably, while the bench's
    on-device answers went from 134 to 201 ms p50 (``docs/router.md``)."""
    knowledge_embedder: str = "minilm-l6-int8"
    """The sentence vectors of ``Assistant(knowledge=...)`` (documents and learned answers):
    MiniLM-L6 (~160 MB), MiniLM-L3 (~100 MB) or ``hashed-words-v1`` (no model: words only,
    for a budget that holds no MiniLM)."""
    knowledge_reader: str | None = "reader-msmarco-l12-int8"
    """The document reader that chooses the sentence read back (a cross-encoder, ~85 MB,
    ~40 ms a question; English): ``None`` chooses by words and vectors alone."""
    knowledge_chunks: int = Field(default=20_000, ge=0)
    """The cap on indexed document chunks (~1.5 KB of vectors each; 0: documents off)."""
    learned_answers: int = Field(default=5_000, ge=0)
    """The cap on kept cloud answers (least recently used go first)."""

    @model_validator(mode="after")
    def _peer_is_allowed(self) -> DeviceProfile:
        if self.peer_llm is not None and (self.peer_llm == self.llm
                                          or self.peer_llm not in self.allowed_llms):
            raise ValueError(f"profile '{self.name}': peer_llm '{self.peer_llm}' must be another "
                             f"of its allowed_llms ({', '.join(self.allowed_llms)}) than llm")
        if self.peer_llm is not None and self.router_probe:
            raise ValueError(f"profile '{self.name}': enable peer_llm or router_probe, not both "
                             "(the router adds one of them to its signals, never both)")
        return self


DEFAULT_REFUSE_BELOW = 0.05
WHISPER_TINY_EN = "asr-whisper-tiny-en"
WHISPER_BASE = "asr-whisper-base"
ENGLISH_ONLY_ASR = frozenset({WHISPER_TINY_EN})


def asr_model_for(profile: DeviceProfile, language: str | None = None) -> str | None:
    """The recogniser a profile loads for ``language`` (default: the profile's): its own for
    English; the multilingual Whisper base when Chinese or ``auto`` is asked of an
    English-only model (glasses with Chinese on)."""
    if "asr" not in profile.perceivers or profile.asr_model is None:
        return None
    language = language or profile.speech_language
    if language != "en" and profile.asr_model in ENGLISH_ONLY_ASR:
        return WHISPER_BASE
    return profile.asr_model


PROFILES: dict[str, DeviceProfile] = {
    p.name: p
    for p in (
        DeviceProfile(
            name="watch",
            description="smart watch: SmolLM2-135M, no vision, voice activity only",
            memory_budget_mb=400,
            threads=2,
            llm="smollm2-135m-instruct",
            allowed_llms=("smollm2-135m-instruct",),
            perceivers=("vad",),
            n_ctx=768,
            max_tokens=32,
            target_device_accuracy=0.6,
            refuse_below=DEFAULT_REFUSE_BELOW,
            upload_min_battery=0.3,
            knowledge_embedder="hashed-words-v1",
            knowledge_reader=None,
            knowledge_chunks=2_000,
            learned_answers=1_000,
        ),
        DeviceProfile(
            name="glasses",
            description="smart glasses: SmolLM2-135M plus faces, objects, OCR, VAD and wake word",
            memory_budget_mb=700,
            threads=2,
            llm="smollm2-135m-instruct",
            allowed_llms=("smollm2-135m-instruct",),
            perceivers=("faces", "objects", "ocr", "vad", "wakeword", "denoise", "asr"),
            asr_model=WHISPER_TINY_EN,
            n_ctx=1024,
            max_tokens=40,
            target_device_accuracy=0.6,
            refuse_below=DEFAULT_REFUSE_BELOW,
            upload_min_battery=0.3,
            knowledge_embedder="minilm-l3-paraphrase",
            knowledge_reader=None,
            knowledge_chunks=5_000,
            learned_answers=2_000,
        ),
        DeviceProfile(
            name="phone",
            description="phone: Gemma 3 270M; can serve a watch or glasses as their edge tier",
            memory_budget_mb=1500,
            threads=2,
            llm="gemma3-270m",
            allowed_llms=("gemma3-270m", "smollm2-135m-instruct"),
            perceivers=("faces", "objects", "ocr", "vad", "asr"),
            asr_model=WHISPER_BASE,
            speech_language="auto",
            n_ctx=2048,
            max_tokens=64,
            refuse_below=DEFAULT_REFUSE_BELOW,
        ),
        DeviceProfile(
            name="edge",
            description="home gateway / edge box: every local model, largest context",
            memory_budget_mb=4000,
            threads=2,
            llm="gemma3-270m",
            allowed_llms=("gemma3-270m", "smollm2-135m-instruct"),
            perceivers=("faces", "objects", "ocr", "vad", "wakeword", "denoise", "asr"),
            asr_model=WHISPER_BASE,
            speech_language="auto",
            n_ctx=4096,
            max_tokens=96,
            refuse_below=DEFAULT_REFUSE_BELOW,
            upload_min_battery=0.0,
            knowledge_chunks=100_000,
            learned_answers=20_000,
        ),
    )
}


def get_profile(name: str) -> DeviceProfile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UnknownProfile(
            f"unknown device profile '{name}'. Choose one of: {known}"
        ) from None
