"""``edgesdk serve-bridge`` and ``edgesdk bridge-schema`` from the command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from edgesdk.cli import main

ROOT = Path(__file__).parents[2]


def test_serve_bridge_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EDGESDK_BRIDGE_TOKEN", raising=False)
    assert main(["serve-bridge", "--fake", "--port", "0"]) == 1
    assert "EDGESDK_BRIDGE_TOKEN" in capsys.readouterr().err


def test_serve_bridge_refuses_remote_hosts_without_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve-bridge", "--fake", "--port", "0", "--token", "t" * 20,
                 "--host", "0.0.0.0"]) == 1
    assert "--allow-remote" in capsys.readouterr().err


def test_bridge_schema_check_passes() -> None:
    assert main(["bridge-schema", "--check"]) == 0


def _get(url: str, token: str | None) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def test_serve_bridge_process_token_from_env_and_sigterm() -> None:
    token = "cli-test-token-0123456789"
    env = {**os.environ, "EDGESDK_BRIDGE_TOKEN": token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgesdk.cli", "serve-bridge", "--fake", "--port", "0"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        url = match.group(1)
        assert _get(f"{url}/v1/health", None)[0] == 401
        status, body = _get(f"{url}/v1/health", token)
        assert status == 200 and b'"ok"' in body
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert token not in line + err
