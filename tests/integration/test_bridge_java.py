"""The Java client's own tests (android_bridge/run_tests.sh) against a live serve-bridge.

Run with the stand-in backend (seconds, no models) and with the real Assistant on the watch
profile (SmolLM2-135M). Skipped when no JDK is installed: CI installs one from Debian
(``apt-get install openjdk-17-jdk-headless``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "android_bridge" / "run_tests.sh"
needs_jdk = pytest.mark.skipif(
    shutil.which("javac") is None or shutil.which("java") is None,
    reason="no JDK: apt-get install openjdk-17-jdk-headless",
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGESDK_PYTHON": sys.executable}
    proc = subprocess.run([str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=480)
    print(proc.stdout[-5000:], proc.stderr[-5000:])
    return proc


@needs_jdk
def test_java_client_against_the_stand_in_backend() -> None:
    proc = _run("--fake")
    assert proc.returncode == 0
    assert "0 failed" in proc.stdout


@needs_jdk
def test_java_client_against_the_real_assistant(real_catalog: object) -> None:
    proc = _run()
    assert proc.returncode == 0
    for name in ("answer (local LLM)", "streaming", "auth rejection without token", "wrong token",
                 "oversized body is 413", "malformed JSON is 400", "20 concurrent clients",
                 "server restart"):
        assert f"PASS {name}" in proc.stdout, name
