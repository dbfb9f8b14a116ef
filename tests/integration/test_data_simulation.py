"""The smart-glasses simulation runs end to end and reports sane, machine-independent ratios."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "simulate_glasses_hour.py"


def test_simulation_writes_json_and_markdown(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    spec = importlib.util.spec_from_file_location("simulate_glasses_hour", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    assert module.main(["--minutes", "8", "--seed", "3", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "glasses_hour.json").read_text())
    assert (tmp_path / "glasses_hour.md").read_text().startswith("# Simulated 8 min")
    observed = result["observed_bytes"]
    assert observed["audio"] == 16_000 * 2 * 8 * 60
    assert 20_000 * 480 < observed["frames"] < 120_000 * 480  # real 640x480 JPEGs at 1 fps
    assert result["uploaded"]["records"] >= 1
    assert result["ratio_observed_to_uploaded"] > 500  # the filter filters
    assert 0.0 <= result["high_value"]["share_kept"] <= 1.0
    assert result["high_value"]["kept"] <= result["high_value"]["events"]
