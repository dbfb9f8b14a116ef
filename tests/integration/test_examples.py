"""Smoke tests: each example runs offline on the real default models and exits 0.

They run as users run them (``python examples/<name>.py`` in a fresh process, no API key), and
check a line of output that shows the example did its job, not exact answers (a 135M model's
wording is not a contract). The time limit is generous because CI machines are shared; each
example takes seconds on an idle two-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REAL_HOME

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "quickstart.py": ["17 × 23 = 391", "tier=device", "4 requests"],
    "async_streaming.py": ["first text after", "concurrent:", "the event loop ticked"],
    "conversation.py": ["12 × 12 = 144", "330 m tall.  [cloud]", "1889.  [cloud]",
                        "restored 2 earlier turns"],
    "knowledge.py": ["cites document: ironworks-gym.md",
                     "cites learned: What is the capital of Australia?",
                     "cites pack: Who wrote Pride and Prejudice?"],
    "custom_signal.py": ["needs fresh data", "tier=cloud", "the default router alone would"],
    "tools.py": ["call: set_timer({'duration_seconds': 600})", "text': 'take my pills'",
                 "17 × 23 = 391", "all on the watch, offline"],
    "watch_offline.py": ["offline: no network", "blocked (no network)", "back on Wi-Fi: sent"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_offline(name: str, real_catalog: object) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DEEPSEEK_API_KEY", "EDGESDK_CLOUD_BASE_URL")}
    env["EDGESDK_HOME"] = str(REAL_HOME)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for text in EXPECTED[name]:
        assert text in proc.stdout, f"{text!r} not in the output of {name}:\n{proc.stdout}"
