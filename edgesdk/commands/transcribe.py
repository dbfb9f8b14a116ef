"""``edgesdk transcribe FILE [--language en|zh|auto] [--json] [--profile P]``: speech to text.

What the device hears, with the same recogniser, voice-activity gate and calibrated confidence
the assistant uses, so a developer can check a recording (or a microphone's quality) before
wiring speech into an app. ``--json`` prints ``text``, ``language``, ``confidence`` and
``segments`` (each with ``start_s``, ``end_s``, ``text`` and ``words``), plus the model and the
seconds it took.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("transcribe", help="speech to text on the device (Whisper)")
    parser.add_argument("path", metavar="FILE", help="audio: WAV, FLAC, MP3, OGG (≤ 10 min)")
    parser.add_argument("--language", choices=("en", "zh", "auto"), default=None,
                        help="what is spoken (default: EDGESDK_SPEECH_LANGUAGE, else the "
                             "profile's); zh or auto need the multilingual model")
    parser.add_argument("--profile", default=None,
                        help="device profile whose recogniser to use (default: EDGESDK_PROFILE, "
                             "else phone)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_transcribe)


def _transcribe(args: argparse.Namespace) -> int:
    from edgesdk.catalog import Catalog
    from edgesdk.config import load_settings
    from edgesdk.devices import asr_model_for, get_profile
    from edgesdk.errors import ConfigError
    from edgesdk.local.audio import SileroVAD, to_mono16k
    from edgesdk.local.whisper import WhisperASR

    settings = load_settings()
    samples = to_mono16k(Path(args.path))  # fail fast on bad audio, before loading a model
    profile = get_profile(args.profile or settings.profile)
    language = args.language or settings.speech_language or profile.speech_language
    model_id = asr_model_for(profile, language)
    if model_id is None:
        raise ConfigError(f"profile '{profile.name}' has no speech recogniser (it does not fit "
                          "its memory budget); use --profile glasses, phone or edge")
    catalog = Catalog(settings=settings)
    asr = WhisperASR.load(catalog=catalog, model_id=model_id, language=language,
                          threads=profile.threads, vad=SileroVAD.load(catalog=catalog))
    started = time.perf_counter()
    transcript = asr.transcribe(samples)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({
            "text": transcript.text, "language": transcript.language,
            "confidence": transcript.confidence,
            "segments": [s.model_dump() for s in transcript.segments],
            "model": model_id, "audio_s": round(samples.size / 16000, 3),
            "seconds": round(seconds, 3),
        }, ensure_ascii=False))
        return 0
    if not transcript.text:
        print("(no speech heard)")
        return 0
    print(transcript.text)
    print(f"language {transcript.language}  confidence {transcript.confidence:.2f}  "
          f"model {model_id}  {seconds:.2f} s for {samples.size / 16000:.1f} s of audio")
    for seg in transcript.segments:
        print(f"  [{seg.start_s:7.2f} - {seg.end_s:7.2f}] {seg.text}")
    return 0
