"""`edgesdk bench` produces every file and figure the report promises (shape, not speed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edgesdk.bench_report import TARGETS, run_bench

pytestmark = pytest.mark.integration
HEADLINE = ("decode_ratio_vs_raw", "confidence_overhead", "bandwidth_efficiency", "router_p50_ms",
            "watch_peak_rss_mb", "cost_ratio_vs_cloud", "quality_ratio_vs_cloud")


def test_smoke_bench_writes_json_markdown_and_plots(tmp_path: Path, real_catalog) -> None:
    report = run_bench(profile="watch", quick=True, smoke=True, out=tmp_path,
                       progress=lambda msg: None)
    saved = json.loads((tmp_path / "bench.json").read_text())
    for key in HEADLINE:
        assert key in saved, key
        assert isinstance(saved[key], (int, float)) and math.isfinite(saved[key]), key
    assert saved["decode_ratio_vs_raw"] > 0 and saved["bandwidth_efficiency"] > 0
    assert 0 <= saved["cost_ratio_vs_cloud"] <= 1.0 + 1e-9
    assert set(saved["targets"]) == set(TARGETS)
    assert {"llm", "rss", "end_to_end", "cost", "router", "memory_bandwidth_gb_s"} <= set(saved)
    row = saved["llm"][0]
    assert {"load_s", "ttft_ms", "prompt_tokens_per_s", "decode_tokens_per_s",
            "decode_tokens_per_s_plain", "limit_tokens_per_s"} <= set(row)
    assert saved["rss"][0]["profile"] == "watch" and saved["rss"][0]["peak_rss_mb"] > 50
    md = (tmp_path / "bench.md").read_text()
    assert "decode_ratio_vs_raw" in md and "## Cost" in md
    # the cost figure is measured on the committed request mix, named next to the number
    assert saved["cost"]["mix"].startswith("everyday mix (datasets/mix_everyday.jsonl")
    cost_row = next(line for line in md.splitlines() if line.startswith("| `cost_ratio"))
    assert "everyday mix" in cost_row
    # the realistic mix: questions and commands (the watch has no camera: no percept questions)
    mix = saved["realistic_mix"]
    assert set(mix["parts"]) == {"questions", "commands"}
    assert mix["mix"] == {"questions": 0.625, "commands": 0.375}
    assert mix["parts"]["commands"]["local_accuracy"] == 0.0  # no text answer acts
    assert 0 <= mix["cost_ratio_at_95"] <= 1.0 + 1e-9
    assert "Realistic mix" in md and "| commands |" in md
    for png in ("tokens_per_s.png", "latency.png", "cost_quality.png"):
        assert (tmp_path / png).stat().st_size > 1000, png
    assert report["profile"] == "watch"
    # the watch has no recogniser, and the report says why
    assert saved["speech"]["model"] is None and "memory budget" in saved["speech"]["why"]
    assert "## Speech recognition" in md


def test_the_speech_section_times_the_recogniser_and_shows_the_real_speech_table(
        tmp_path: Path, real_catalog) -> None:
    from edgesdk.bench_speech import bench_speech, speech_lines

    report = tmp_path / "speech.json"
    report.write_text(json.dumps({
        "date": "2026-12-06", "corpus": {"summary": "en: 213 utterances, 11.1 min"},
        "table": [{"recogniser": r, "lang": "en", "condition": "clean", "front_end": "none",
                   "metric": "WER", "rate": w, "rtf": 0.1}
                  for r, w in (("asr-whisper-tiny-en", 0.06), ("asr-whisper-base", 0.09),
                               ("pocketsphinx", 0.4))],
        "calibration": {"asr-whisper-tiny-en": {"auroc_held_out": 0.9,
                                                "auroc_avg_logprob_alone": 0.8}}}))
    speech = bench_speech("glasses", catalog=real_catalog, progress=lambda m: None,
                          repeats=1, report=report)
    assert speech["model"] == "asr-whisper-tiny-en" and speech["live"]["rtf"] > 0
    assert speech["live"]["heard"].startswith("Ever tried.")
    rows = speech["measured"]["rows"]
    assert [r["recogniser"] for r in rows] == ["asr-whisper-tiny-en", "pocketsphinx"]
    md = "\n".join(speech_lines(speech))
    assert "| asr-whisper-tiny-en | en | clean | none | WER | 0.060 |" in md
    assert "AUROC 0.900" in md
