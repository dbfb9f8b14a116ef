"""The installed llama.cpp build is the one setup planned, it reports only the instruction sets
that plan allows (from the library's own system-info string), every runtime passes its smoke
test in a child process, and a runtime that dies by a signal becomes a typed error."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edgesdk import native
from edgesdk.errors import NativeRuntimeCrashed
from edgesdk.local.smoke import SMOKE_MODELS, ensure_llama_works, run_smoke
from tests.conftest import REAL_HOME

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
LLAMA_VERSION = "0.3.36"


@pytest.fixture(scope="module")
def smollm2() -> Path:
    path = REAL_HOME / "models" / SMOKE_MODELS["llama.cpp"] / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        pytest.skip("SmolLM2 not fetched; run: edgesdk models fetch smollm2-135m-instruct")
    return path


def _installed_key() -> str:
    stamp = REPO / ".venv" / ".llama-build"
    if not stamp.exists():
        pytest.skip("llama-cpp-python was not installed by scripts/setup.sh")
    return stamp.read_text().strip()


def test_the_installed_build_is_setups_plan_and_uses_only_its_instruction_sets(
        smollm2: Path) -> None:
    key = _installed_key()
    tier = next(t for t in native.TIERS if f"-{t}-" in key)
    plan = native.plan(tier)
    assert key == plan.cache_key(LLAMA_VERSION), "the installed wheel was built with other flags"
    recorded = json.loads((REAL_HOME / "wheels" / key / "build.json").read_text())
    assert recorded["cmake_args"] == list(plan.cmake_args)
    result = run_smoke("llama.cpp", smollm2)
    assert result.ok, result.detail
    info = result.output["system_info"]
    check = native.check(info, plan)
    assert check.used, f"no instruction set parsed from {info!r}"
    assert check.ok, f"the build uses {sorted(check.outside)} outside {sorted(plan.allowed)}"
    assert not check.used & {"AMX_INT8", "AVX512", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI"}
    assert not native.not_runnable(check.used, native.cpu_features(), native.kernel_offers_amx())
    assert result.output["tokens"] >= 1


def test_doctor_json_reports_every_runtime_passing() -> None:
    env = {**os.environ, "EDGESDK_HOME": str(REAL_HOME)}
    proc = subprocess.run([sys.executable, "-m", "edgesdk.cli", "doctor", "--json"], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    report = json.loads(proc.stdout)
    runtimes = {r["runtime"]: r for r in report["runtimes"]}
    assert set(runtimes) == {"llama.cpp", "onnxruntime", "litert", "ctranslate2"}
    assert "int8" in runtimes["ctranslate2"]["output"]["compute_types"]
    for name, result in runtimes.items():
        assert result["ok"], f"{name}: {result['detail']}"
        assert result["seconds"] > 0
    assert report["llama_build"]["uses"] and not report["llama_build"]["not_runnable"]
    assert all(m["ok"] for m in report["models"]), report["problems"]
    assert report["cpu"]["arch"] == native.machine()
    assert "EDGESDK_HOME" in report["settings"]
    assert report["ok"] and proc.returncode == 0, report["problems"]


def _crashing_python(tmp_path: Path, sig: str) -> str:
    script = tmp_path / f"python-{sig}"
    script.write_text(f"#!/bin/sh\nkill -{sig} $$\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_child_killed_by_a_signal_is_reported_by_name(tmp_path: Path, smollm2: Path) -> None:
    result = run_smoke("llama.cpp", smollm2, python=_crashing_python(tmp_path, "SEGV"))
    assert not result.ok
    assert result.signal == "SIGSEGV"
    assert result.detail.startswith("killed by SIGSEGV")


def test_the_assistant_guard_raises_a_typed_error_instead_of_crashing(
        tmp_path: Path, smollm2: Path) -> None:
    with pytest.raises(NativeRuntimeCrashed) as info:
        ensure_llama_works(smollm2, home=tmp_path, python=_crashing_python(tmp_path, "ILL"))
    message = str(info.value)
    assert "SIGILL" in message and "edgesdk doctor" in message and "scripts/setup.sh" in message
    assert not list((tmp_path / "native").glob("*")), "a failure must not be remembered"
    ensure_llama_works(smollm2, home=tmp_path)  # the real build passes, and is remembered
    assert len(list((tmp_path / "native").glob("llama-proven-*.json"))) == 1
