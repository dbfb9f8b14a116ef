"""``edgesdk doctor``: what this machine is, what the native runtimes were built for, and whether
each of them actually runs here.

A user whose assistant segfaults needs one command that says why: the CPU's features next to the
instruction sets the installed llama.cpp build uses (from the library's own system-info string),
whether the kernel grants AMX, one real inference per runtime in a child process (so a crash is
a finding, not the end of the report), every model's sha256, and the ``EDGESDK_*`` settings in
force. The report is a pydantic model, printed as text or ``--json``; :attr:`DoctorReport.ok` is
False (and the command exits non-zero) when something would crash or is missing.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from edgesdk.catalog import Catalog
from edgesdk.config import Settings, load_settings
from edgesdk.errors import ModelError
from edgesdk.local.smoke import RUNTIMES, SMOKE_MODELS, SmokeResult, run_smoke
from edgesdk.native import (
    cpu_features,
    kernel_offers_amx,
    machine,
    not_runnable,
    plan,
    simd_features,
    system_info_features,
)

BUILD_RECORD = "native/llama-build.json"
"""Where ``scripts/setup.sh`` records the plan it built and proved llama.cpp with (under home)."""


class CPUReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    arch: str
    simd: list[str]
    """The CPU's advertised vector and matrix extensions (the part of ``/proc/cpuinfo`` that
    decides what a build may use)."""
    kernel_offers_amx: bool | None


class LlamaBuildReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str | None
    recorded_plan: dict[str, Any] | None
    """What setup built and proved (tier, CMake flags), if setup built this install."""
    system_info: str | None
    uses: list[str]
    portable_list: list[str]
    outside_portable: list[str]
    """Used, but not on the portable list: fine here if the CPU has them, not portable."""
    not_runnable: list[str]
    """Used, but this machine does not offer them: the build will crash here."""


class ModelReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    runtime: str
    ok: bool
    detail: str


class DoctorReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    problems: list[str]
    python: str
    os: str
    cpu: CPUReport
    llama_build: LlamaBuildReport
    runtimes: list[SmokeResult]
    models: list[ModelReport]
    settings: dict[str, str]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _settings_in_force(settings: Settings) -> dict[str, str]:
    shown = {f"EDGESDK_{name.upper()}": str(value)
             for name, value in settings.model_dump(exclude={"deepseek_api_key"}).items()}
    shown["DEEPSEEK_API_KEY"] = "set" if settings.deepseek_api_key else "not set"
    for name, value in os.environ.items():
        if name.startswith("EDGESDK_") and name not in shown:
            shown[name] = "set (not a setting)" if "TOKEN" in name or "KEY" in name else value
    return dict(sorted(shown.items()))


def _models(catalog: Catalog) -> list[ModelReport]:
    rows = []
    for model_id, manifest in sorted(catalog.manifests.items()):
        try:
            catalog.verify(model_id)
            rows.append(ModelReport(id=model_id, runtime=manifest.runtime, ok=True,
                                    detail="sha256 verified"))
        except ModelError as exc:
            rows.append(ModelReport(id=model_id, runtime=manifest.runtime, ok=False,
                                    detail=str(exc)))
    return rows


def _smoke(catalog: Catalog, *, timeout_s: float) -> list[SmokeResult]:
    results = []
    for runtime in RUNTIMES:
        model_id = SMOKE_MODELS[runtime]
        path = catalog.path_of(model_id)
        if not path.exists():
            results.append(SmokeResult(runtime=runtime, model_path=str(path), ok=False,
                                       seconds=0.0, detail=f"model '{model_id}' not fetched; "
                                       f"run: edgesdk models fetch {model_id}"))
            continue
        results.append(run_smoke(runtime, path, timeout_s=timeout_s))
    return results


def _llama_build(home: Path, llama: SmokeResult, features: frozenset[str],
                 amx: bool | None) -> LlamaBuildReport:
    record_path = home / BUILD_RECORD
    try:
        recorded: dict[str, Any] | None = json.loads(record_path.read_text())
    except (OSError, ValueError):
        recorded = None
    info = llama.output.get("system_info")
    used = system_info_features(info) if isinstance(info, str) else frozenset()
    portable = plan("portable", features=features).allowed
    return LlamaBuildReport(
        version=_version("llama_cpp_python"), recorded_plan=recorded,
        system_info=info.strip() if isinstance(info, str) else None, uses=sorted(used),
        portable_list=sorted(portable), outside_portable=sorted(used - portable),
        not_runnable=sorted(not_runnable(used, features, amx)))


def diagnose(*, settings: Settings | None = None, catalog: Catalog | None = None,
             timeout_s: float = 180.0) -> DoctorReport:
    """Run every check (a child process per runtime, every model's sha256); a few seconds."""
    settings = settings or load_settings()
    catalog = catalog or Catalog(settings=settings)
    features = cpu_features()
    amx = kernel_offers_amx()
    runtimes = _smoke(catalog, timeout_s=timeout_s)
    llama = next(r for r in runtimes if r.runtime == "llama.cpp")
    build = _llama_build(settings.home, llama, features, amx)
    models = _models(catalog)
    problems = [f"{r.runtime}: {r.detail or 'failed'}" for r in runtimes if not r.ok]
    if build.not_runnable:
        problems.append("llama.cpp is built with instructions this machine does not offer: "
                        f"{', '.join(build.not_runnable)}; rebuild it with scripts/setup.sh")
    problems += [f"model {m.id}: {m.detail}" for m in models if not m.ok]
    return DoctorReport(
        ok=not problems, problems=problems,
        python=f"{platform.python_implementation()} {platform.python_version()} "
               f"({sys.executable})",
        os=platform.platform(),
        cpu=CPUReport(arch=machine(), kernel_offers_amx=amx,
                      simd=simd_features(features)),
        llama_build=build, runtimes=runtimes, models=models,
        settings=_settings_in_force(settings))


def render(report: DoctorReport) -> str:
    """The report as the lines a person reads in a terminal."""
    b = report.llama_build
    lines = [f"python    {report.python}", f"os        {report.os}",
             f"cpu       {report.cpu.arch}: {' '.join(report.cpu.simd) or '(features unknown)'}",
             "amx       " + ("the kernel offers it" if report.cpu.kernel_offers_amx
                                else "not offered")
             + " (a promise, not a proof: the smoke tests below are)"
             if report.cpu.arch == "x86_64" else "",
             f"llama.cpp {b.version or 'not installed'}; build uses: "
             f"{' '.join(b.uses) or '(unknown: the smoke test did not report)'}"]
    if b.recorded_plan:
        lines.append(f"          built by setup: tier {b.recorded_plan.get('tier')}, "
                     f"{b.recorded_plan.get('why')}")
    if b.outside_portable:
        lines.append(f"          outside the portable list: {' '.join(b.outside_portable)} "
                     "(works only on CPUs that have them)")
    lines.append("runtimes")
    for r in report.runtimes:
        status = "ok  " if r.ok else "FAIL"
        lines.append(f"  {status} {r.runtime:<12} {r.seconds * 1000:7.0f} ms  "
                     f"{Path(r.model_path).name}{'  ' + r.detail if r.detail else ''}")
    bad = [m for m in report.models if not m.ok]
    lines.append(f"models    {len(report.models) - len(bad)}/{len(report.models)} verified "
                 "(sha256)")
    lines += [f"  FAIL {m.id}: {m.detail}" for m in bad]
    lines.append("settings")
    lines += [f"  {k}={v}" for k, v in report.settings.items()]
    lines.append("ok: everything runs here" if report.ok else
                 "problems:\n" + "\n".join(f"  - {p}" for p in report.problems))
    return "\n".join(line for line in lines if line)


# ---------------------------------------------------------------------- setup's proof

EXIT_CRASHED = 3
"""``python -m edgesdk.doctor prove`` exit status when the child died by a signal (setup then
rebuilds with the conservative flags)."""


def prove(plan_file: Path, *, settings: Settings | None = None) -> int:
    """Decode a few tokens of the smallest default LLM in a child process with the build that
    ``plan_file`` (setup's ``build.json``) describes; on success record it under home."""
    settings = settings or load_settings()
    build_plan = json.loads(plan_file.read_text())
    record_path = settings.home / BUILD_RECORD
    record_path.unlink(missing_ok=True)  # only a build that passes below is on record
    catalog = Catalog(settings=settings)
    result = run_smoke("llama.cpp", catalog.locate(SMOKE_MODELS["llama.cpp"]))
    features = cpu_features()
    if result.signal is not None:
        simd = " ".join(simd_features(features))
        print(f"[setup] llama.cpp ({build_plan['tier']} flags) was {result.detail} while "
              f"decoding a test prompt. CPU ({machine()}): {simd or 'features unknown'}; "
              f"AMX offered by the kernel: {kernel_offers_amx()}", flush=True)
        return EXIT_CRASHED
    if not result.ok:
        print(f"[setup] llama.cpp could not decode a test prompt: {result.detail}", flush=True)
        return 1
    info = str(result.output.get("system_info", ""))
    used = system_info_features(info)
    outside = used - frozenset(build_plan["allowed"])
    if outside:
        print(f"[setup] the llama.cpp build uses {', '.join(sorted(outside))}, which its plan "
              f"({build_plan['tier']}) does not allow: the build flags were not applied",
              flush=True)
        return 1
    record = {**build_plan, "proof": {"seconds": round(result.seconds, 3),
                                      "decode_s": result.output.get("decode_s"),
                                      "text": result.output.get("text"),
                                      "system_info": info.strip()}}
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"[setup] llama.cpp proven on this CPU ({build_plan['tier']}: "
          f"{' '.join(sorted(used)) or 'no SIMD extensions'}): decoded "
          f"{result.output.get('tokens')} tokens in a child process, {result.seconds:.1f} s",
          flush=True)
    return 0


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m edgesdk.doctor")
    sub = parser.add_subparsers(dest="command", required=True)
    p_prove = sub.add_parser("prove", help="setup's check of a freshly installed llama.cpp")
    p_prove.add_argument("--plan", type=Path, required=True, help="the build's build.json")
    args = parser.parse_args(argv)
    return prove(args.plan)


if __name__ == "__main__":
    sys.exit(_main())
