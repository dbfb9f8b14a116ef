"""The benchmark's speech section: the profile's recogniser, timed in this run, and the
real-speech measurement it is judged by.

Word error rates need a corpus with transcripts and take minutes per model, so they come from
``scripts/measure_speech.py`` (``docs/reports/speech/speech.json``, dated); this run re-times
the profile's recogniser on a real 10 s recording (load time, real-time factor, confidence) so
the figure is from this machine and this build, and says when the profile has no recogniser.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgesdk.catalog import Catalog
from edgesdk.config import load_settings
from edgesdk.devices import asr_model_for, get_profile

SPEECH_REPORT = Path(__file__).resolve().parent.parent / "docs" / "reports" / "speech" / \
    "speech.json"


def bench_speech(profile_name: str, *, catalog: Catalog, progress: Callable[[str], None],
                 repeats: int = 3, report: Path = SPEECH_REPORT) -> dict[str, Any]:
    profile = get_profile(profile_name)
    model_id = asr_model_for(profile)
    if model_id is None:
        return {"model": None, "why": f"the {profile_name} profile has no recogniser: Whisper "
                "tiny.en beside its LLM does not fit its memory budget (docs/perception.md)"}
    from edgesdk.local.audio import SileroVAD, to_mono16k
    from edgesdk.local.whisper import WhisperASR
    from edgesdk.testing.media import BECKETT_TEXT, MediaUnavailable, recorded_speech

    progress(f"speech: {model_id}")
    started = time.perf_counter()
    asr = WhisperASR.load(catalog=catalog, model_id=model_id, threads=profile.threads,
                          language=profile.speech_language,
                          vad=SileroVAD.load(catalog=catalog))
    load_s = time.perf_counter() - started
    live: dict[str, Any] = {}
    try:
        samples = to_mono16k(recorded_speech(load_settings().home / "testdata"))
    except MediaUnavailable as exc:
        live = {"skipped": str(exc)}
    else:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            transcript = asr.transcribe(samples)
            times.append(time.perf_counter() - t)
        live = {"clip": "beckett.wav (real, 10 s)", "said": BECKETT_TEXT,
                "heard": transcript.text, "confidence": transcript.confidence,
                "rtf": min(times) / (samples.size / 16000)}
    return {"model": model_id, "load_s": load_s, "live": live,
            "measured": measured_rows(model_id, report)}


def measured_rows(model_id: str, report: Path = SPEECH_REPORT) -> dict[str, Any]:
    """The real-speech table's rows for ``model_id`` (and PocketSphinx, the baseline)."""
    if not report.is_file():
        return {"missing": f"{report} (run scripts/measure_speech.py)"}
    data = json.loads(report.read_text())
    rows = [r for r in data["table"] if r["recogniser"] in (model_id, "pocketsphinx")]
    return {"date": data["date"], "corpus": data["corpus"]["summary"], "rows": rows,
            "calibration": data["calibration"].get(model_id)}


def speech_lines(speech: dict[str, Any]) -> list[str]:
    """The report's Markdown section."""
    lines = ["", "## Speech recognition", ""]
    if speech.get("model") is None:
        return [*lines, str(speech.get("why", "no recogniser"))]
    live = speech["live"]
    if "rtf" in live:
        lines.append(f"`{speech['model']}` in this run: loaded in {speech['load_s']:.2f} s; on "
                     f"{live['clip']} RTF {live['rtf']:.3f}, heard \u201c{live['heard']}\u201d "
                     f"(said \u201c{live['said']}\u201d), confidence {live['confidence']:.2f}.")
    else:
        lines.append(f"`{speech['model']}` loaded in {speech['load_s']:.2f} s; live clip "
                     f"skipped: {live.get('skipped')}")
    measured = speech["measured"]
    if "rows" not in measured:
        return [*lines, "", f"No real-speech measurement: {measured['missing']}."]
    lines += ["", f"Real speech ({measured['date']}, `scripts/measure_speech.py`; "
              f"{measured['corpus']}):", "",
              "| recogniser | lang | condition | front end | metric | rate | RTF |",
              "|---|---|---|---|---|---:|---:|"]
    for r in measured["rows"]:
        lines.append(f"| {r['recogniser']} | {r['lang']} | {r['condition']} | "
                     f"{r['front_end']} | {r['metric']} | {r['rate']:.3f} | {r['rtf']:.3f} |")
    cal = measured.get("calibration")
    if cal:
        lines += ["", f"Transcript confidence: AUROC {cal['auroc_held_out']:.3f} on held-out "
                  f"utterances for WER ≤ 0.2 (average log-prob alone "
                  f"{cal['auroc_avg_logprob_alone']:.3f})."]
    return lines
