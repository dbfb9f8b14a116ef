"""Offline speech-to-text with CMU PocketSphinx, for questions spoken to the glasses.

A spoken question has to become text before the device can answer it or escalate it, and on a
device without a network that has to happen locally. PocketSphinx is old and only fair on
real speech, but it is small, runs at ~0.25x real time on one core and installs from PyPI with
its US-English model; the model directory itself comes through the catalog so it is verified
like every other model. Confidence is the mean posterior probability of the recognised words
(fillers and silences excluded), which the router can treat like any other percept score.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from edgesdk.catalog import Catalog
from edgesdk.errors import InvalidAudio, MissingExtra, ModelLoadError
from edgesdk.local.audio import Samples
from edgesdk.types import Transcript

ASR_MODEL = "asr-pocketsphinx-en-us"


def _decoder_class() -> Any:
    try:
        return importlib.import_module("pocketsphinx").Decoder
    except ImportError as exc:
        raise MissingExtra(module="pocketsphinx", extra="audio",
                           purpose="offline speech recognition") from exc


class PocketSphinxASR:
    """Streaming recogniser: ``start`` / ``feed`` (16 kHz samples) / ``finish`` -> Transcript."""

    name: ClassVar[str] = "asr"
    modality: ClassVar[Literal["audio"]] = "audio"

    def __init__(self, *, decoder: Any) -> None:
        self._decoder = decoder
        self._active = False

    @classmethod
    def load(cls, *, catalog: Catalog) -> PocketSphinxASR:
        return cls.from_dir(catalog.locate(ASR_MODEL))

    @classmethod
    def from_dir(cls, model_dir: Path) -> PocketSphinxASR:
        decoder_cls = _decoder_class()
        try:
            decoder = decoder_cls(
                hmm=str(model_dir / "en-us"),
                lm=str(model_dir / "en-us.lm.bin"),
                dict=str(model_dir / "cmudict-en-us.dict"),
                loglevel="FATAL",
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(
                f"PocketSphinx could not load {model_dir} ({exc}); re-fetch it with "
                f"'edgesdk models fetch {ASR_MODEL} --force'"
            ) from exc
        return cls(decoder=decoder)

    def start(self) -> None:
        if self._active:
            self._decoder.end_utt()
        self._decoder.start_utt()
        self._active = True

    def feed(self, samples: Samples) -> None:
        if samples.ndim != 1:
            raise InvalidAudio("speech recognition needs 1-D mono samples at 16 kHz")
        if not self._active:
            self.start()
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self._decoder.process_raw(pcm, False, False)

    def partial(self) -> str:
        hyp = self._decoder.hyp() if self._active else None
        return str(hyp.hypstr) if hyp is not None else ""

    def finish(self) -> Transcript:
        if not self._active:
            return Transcript(text="", confidence=0.0)
        self._decoder.end_utt()
        self._active = False
        hyp = self._decoder.hyp()
        if hyp is None or not hyp.hypstr.strip():
            return Transcript(text="", confidence=0.0)
        probs = [
            float(seg.prob) for seg in self._decoder.seg()
            if not (seg.word.startswith("<") or seg.word.startswith("[")
                    or seg.word.startswith("+"))
        ]
        confidence = float(np.mean(probs)) if probs else 0.0
        return Transcript(text=str(hyp.hypstr).strip(),
                          confidence=min(max(confidence, 0.0), 1.0))

    def transcribe(self, samples: Samples) -> Transcript:
        """Recognise a whole clip (normalising features over the whole utterance)."""
        if samples.ndim != 1:
            raise InvalidAudio("speech recognition needs 1-D mono samples at 16 kHz")
        self.start()
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self._decoder.process_raw(pcm, False, True)
        return self.finish()

    def perceive(self, samples: Samples) -> list[Transcript]:
        transcript = self.transcribe(samples)
        return [transcript] if transcript.text else []
