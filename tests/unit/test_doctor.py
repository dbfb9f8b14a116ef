"""`edgesdk doctor` on a machine with nothing fetched: it reports what is missing, says what to
run, and exits non-zero (the real-runtime checks are in tests/integration/test_native_runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesdk.cli import main
from edgesdk.doctor import diagnose, render


def test_missing_models_make_the_report_fail_and_say_what_to_run(edgesdk_home: Path) -> None:
    report = diagnose()
    assert not report.ok
    assert {r.runtime for r in report.runtimes} == {"llama.cpp", "onnxruntime", "litert",
                                                   "ctranslate2"}
    llama = next(r for r in report.runtimes if r.runtime == "llama.cpp")
    assert not llama.ok and "edgesdk models fetch smollm2-135m-instruct" in llama.detail
    assert report.models and not any(m.ok for m in report.models)
    assert any("not in the model store" in p for p in report.problems)
    assert report.settings["EDGESDK_HOME"] == str(edgesdk_home)
    assert report.settings["DEEPSEEK_API_KEY"] == "not set"
    text = render(report)
    assert "problems:" in text and "FAIL llama.cpp" in text


def test_the_key_is_never_printed(edgesdk_home: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-secret-0001")
    monkeypatch.setenv("EDGESDK_EDGE_TOKEN", "tok-secret-0002")
    assert main(["doctor", "--json"]) == 1
    out = capsys.readouterr().out
    assert "sk-secret-0001" not in out and "tok-secret-0002" not in out
    report = json.loads(out)
    assert report["settings"]["DEEPSEEK_API_KEY"] == "set"
    assert report["settings"]["EDGESDK_EDGE_TOKEN"] == "set (not a setting)"
    assert report["cpu"]["arch"] and isinstance(report["cpu"]["simd"], list)
