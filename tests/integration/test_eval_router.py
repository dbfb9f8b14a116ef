"""A small real evaluation: skills + SmolLM2 + the shipped router over our own questions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edgesdk.cli import main

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _small_dataset(path: Path) -> None:
    rows = []
    for name, take in (("zh.jsonl", 6), ("synthetic.jsonl", 6)):
        lines = (REPO / "datasets" / name).read_text(encoding="utf-8").splitlines()
        rows += lines[:take]
    rows.append(json.dumps({"id": "own-1", "question": "What is the capital of France?",
                            "answers": ["Paris"], "category": "fact"}))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_eval_writes_a_complete_report(real_catalog: object, tmp_path: Path) -> None:
    dataset = tmp_path / "small.jsonl"
    _small_dataset(dataset)
    cloud = tmp_path / "cloud.jsonl"
    cloud.write_text(json.dumps({"id": "own-1", "answer": "Paris"}) + "\n")
    out = tmp_path / "report"
    code = main(["eval", "--dataset", str(dataset), "--out", str(out), "--model",
                 "smollm2-135m-instruct", "--limit", "13"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    for key in ("n", "local_accuracy", "accuracy_by_category", "auroc", "auroc_by_category",
                "ece", "brier", "cloud_share_at_95", "oracle_cloud_share_at_95",
                "random_cloud_share_at_95", "curve", "cost_usd", "baselines",
                "router_latency_ms_p50"):
        assert key in report
    assert report["n"] == 13
    assert report["skill_answered"] >= 3  # the synthetic arithmetic is parsed by skills
    assert report["oracle_cloud_share_at_95"] <= report["cloud_share_at_95"] + 1e-9
    floors = report["cloud_share_ratio_floor_at_chance"]
    assert set(floors) >= set(report["accuracy_by_category"])
    assert all(v >= 1.0 - 1e-9 for v in floors.values() if v == v)  # never below the oracle
    assert 0.0 <= report["ece"] <= 1.0
    lo, hi = report["ci95"]["auroc"]
    assert math.isnan(report["auroc"]) or lo <= report["auroc"] <= hi
    assert set(report["ci95"]["auroc_by_category"]) == set(report["accuracy_by_category"])
    assert len(report["curve"]["cloud_share"]) == len(report["curve"]["accuracy"])
    assert report["cost_usd"]["cloud_only"] >= report["cost_usd"]["policy"]
    prior = report["prior"]  # the pre-generation prior, on the questions the skills declined
    # kinds the router was not fitted on (e.g. arithmetic the skills could not parse) have
    # no prior: they are never skipped
    assert 1 <= prior["n"] <= 13 - report["skill_answered"]
    refusal = report["refusal"]  # offline: what declining below each floor withholds
    assert refusal["profile_floor"] == 0.05
    assert [r["floor"] for r in refusal["floors"]] == [0.02, 0.05, 0.1, 0.2]
    for row in refusal["floors"]:
        assert row["declined"] == row["declined_right"] + row["declined_wrong"]
        assert row["declined"] <= 13 - report["skill_answered"]
    assert "Declining when nothing can go up" in (out / "report.md").read_text()
    assert "kind_fact" in prior["question_features"]  # the question's surface, nothing else
    assert 0 <= prior["skipped_right"] <= prior["skipped"] <= prior["n"]
    off = prior["offline"]  # declined without generating when nothing can go up
    assert off["floor"] == 0.05 and off["below"] == min(prior["skip_below"], 0.05)
    assert 0 <= off["would_have_been_shown_right"] <= off["would_have_been_shown"]
    assert off["would_have_been_shown"] <= off["skipped"] <= prior["n"]
    assert 0.0 <= off["tokens_saved_share"] <= 1.0
    for name in ("report.md", "curve.png", "reliability.png"):
        assert (out / name).stat().st_size > 0
    code = main(["eval", "--dataset", str(dataset), "--out", str(out), "--model",
                 "smollm2-135m-instruct", "--limit", "13", "--cloud-answers", str(cloud)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["cloud_accuracy"] < 1.0  # only one cloud answer was given


def test_eval_measures_the_device_path_users_run(real_catalog: object, tmp_path: Path) -> None:
    """``edgesdk eval`` records what ``Assistant``'s device path produces: the same prompt,
    the same skills, the same generation (greedy, so the cached one is the Assistant's)."""
    from edgesdk.assistant import Assistant
    from edgesdk.config import Settings
    from edgesdk.evalrun import EVAL_NOW, default_cache, load_dataset, run_items

    dataset = tmp_path / "small.jsonl"
    _small_dataset(dataset)
    items = load_dataset(dataset)
    records = run_items(items, model_id="smollm2-135m-instruct", llm_factory=None,
                        cache=default_cache("smollm2-135m-instruct"), cached_only=True)
    assert records  # the first test of this module filled the cache
    with Assistant(profile="glasses", settings=Settings(home=tmp_path / "home"),
                   catalog=real_catalog, tiers=[], mode="only-on-device",
                   now=lambda: EVAL_NOW) as a:
        a.device.max_tokens = 40  # the evaluation's token limit (docs/router.md)
        for record in records:
            attempt = a.device.run(record.item.question)
            assert (attempt.skill is None) == (record.skill is None)
            if record.skill is None:
                assert attempt.generation is not None and record.generation is not None
                assert attempt.generation.text == record.generation.text
