"""Which instruction sets the llama.cpp build may use, chosen on purpose and checked afterwards.

A CPU can *advertise* an instruction set that the OS, a hypervisor or an emulator does not let a
process use: a Xeon in a VM lists ``amx_tile`` in ``/proc/cpuinfo`` while the kernel refuses the
AMX tile state, and a ``-march=native`` build of llama.cpp then dies with a general protection
fault on its first matrix multiply. Phones, watches and glasses differ the same way. So the SDK
never builds with ``-march=native`` (llama.cpp's default ``GGML_NATIVE=ON``) and never uses
llama.cpp's runtime dispatch (``GGML_CPU_ALL_VARIANTS``): that dispatch scores variants by CPUID
alone, so on such a VM it would pick the AMX variant and crash the same way. Instead a build
*plan* lists the features explicitly:

* ``portable`` — x86-64: SSE4.2, AVX, AVX2, FMA, F16C, BMI2 (Haswell, 2013, and every x86 phone,
  laptop or cloud VM since); aarch64: ``armv8.2-a+dotprod`` where the CPU has dotprod, else
  ``armv8-a`` (NEON). Never AVX-512 or AMX.
* ``conservative`` — what setup falls back to when the portable build crashes: the architecture's
  baseline (x86-64: SSE2 only; aarch64: ``armv8-a``).

The plan's :attr:`BuildPlan.allowed` is the set of feature names the built library may report in
llama.cpp's own system-info string (``llama_print_system_info``), so a test and ``edgesdk
doctor`` can check the installed build against it. The wheel cache is keyed by the version, the
architecture, the tier and a digest of the exact CMake flags (:meth:`BuildPlan.cache_key`), so a
wheel built for one CPU class is never reused for another.

This module imports nothing but the standard library: ``scripts/setup.sh`` runs it as a script
(``python3 edgesdk/native.py plan``) before the virtual environment or the package exists.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import platform
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

Tier = Literal["portable", "conservative"]
TIERS: tuple[Tier, ...] = ("portable", "conservative")

NON_ISA_FEATURES = frozenset({"LLAMAFILE", "OPENMP", "REPACK", "ACCELERATE", "KLEIDIAI"})
"""Entries of llama.cpp's CPU feature list that are libraries or code paths, not instructions."""

_X86_ALL_OFF = (
    "GGML_SSE42", "GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2", "GGML_AVX_VNNI",
    "GGML_AVX512", "GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16", "GGML_AMX_TILE",
    "GGML_AMX_INT8", "GGML_AMX_BF16",
)
_X86_PORTABLE_ON = ("GGML_SSE42", "GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2")
_X86_PORTABLE_NEEDS = ("sse4_2", "avx", "avx2", "fma", "f16c", "bmi2")
"""``/proc/cpuinfo`` flags the portable x86 tier needs; a CPU without one gets conservative."""


@dataclass(frozen=True)
class BuildPlan:
    """One deliberate llama.cpp build: its CMake flags and the features it may report."""

    arch: str
    tier: Tier
    cmake_args: tuple[str, ...]
    allowed: frozenset[str]
    """Instruction-set names (as llama.cpp's system info spells them) the build may use."""
    why: str

    def cache_key(self, version: str) -> str:
        """Directory name in the wheel cache: version, architecture, tier, flags digest."""
        digest = hashlib.sha256(" ".join(self.cmake_args).encode()).hexdigest()[:10]
        return f"llama-cpp-python-{version}-{self.arch}-{self.tier}-{digest}"

    def cmake_env(self) -> str:
        """The ``CMAKE_ARGS`` value for ``pip wheel llama-cpp-python``."""
        return " ".join(self.cmake_args)


def machine() -> str:
    """``x86_64`` / ``aarch64`` (``arm64`` and ``AMD64`` normalised)."""
    name = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name)


def cpu_features(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's advertised feature flags, lower case (``flags`` on x86, ``Features`` on Arm).

    Advertised is not usable: see :func:`kernel_offers_amx` for the one that bites in practice."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in {"flags", "features"}:
            return frozenset(value.split())
    return frozenset()


_ARCH_GET_XCOMP_SUPP = 0x1021
_XFEATURE_XTILEDATA = 18
_SYS_ARCH_PRCTL = 158  # x86-64 Linux syscall number


SIMD_PREFIXES = ("sse", "ssse", "pni", "avx", "amx", "fma", "f16c", "bmi", "asimd", "sve", "sme",
                 "i8mm", "neon")


def simd_features(features: frozenset[str]) -> list[str]:
    """The vector and matrix extensions among a CPU's flags, sorted: the part of
    ``/proc/cpuinfo`` that decides what a build may use (what doctor, setup and errors show)."""
    return sorted(f for f in features if f.startswith(SIMD_PREFIXES))


def kernel_offers_amx() -> bool | None:
    """Whether the Linux kernel lists AMX tile data among the state it supports for processes
    (``arch_prctl(ARCH_GET_XCOMP_SUPP)``, read without changing anything); ``None`` where the
    question does not apply or cannot be asked.

    A promise, not a proof: on the Firecracker VM this project's CI runs on, CPUID advertises
    AMX, XCR0 enables it, the kernel supports it and grants the permission, and ``ldtilecfg``
    in llama.cpp's AMX kernel still dies with a general protection fault. Only running the code
    tells (``edgesdk.local.smoke``); a ``False`` here is still a sure "no"."""
    if sys.platform != "linux" or machine() != "x86_64":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mask = ctypes.c_uint64(0)
        if libc.syscall(_SYS_ARCH_PRCTL, _ARCH_GET_XCOMP_SUPP, ctypes.byref(mask)) != 0:
            return False
    except (OSError, AttributeError):
        return None
    return bool(mask.value & (1 << _XFEATURE_XTILEDATA))


def plan(tier: Tier = "portable", *, arch: str | None = None,
         features: frozenset[str] | None = None) -> BuildPlan:
    """The build for ``arch`` (default: this machine) at ``tier``; ``features`` (default: this
    CPU's) only decides whether the portable tier is possible and whether Arm has dotprod."""
    arch = arch or machine()
    features = cpu_features() if features is None else features
    off = ("-DGGML_NATIVE=OFF",)
    if arch == "x86_64":
        missing = [flag for flag in _X86_PORTABLE_NEEDS if flag not in features]
        if tier == "portable" and not missing:
            on = set(_X86_PORTABLE_ON)
            args = off + tuple(f"-D{name}={'ON' if name in on else 'OFF'}" for name in _X86_ALL_OFF)
            return BuildPlan(arch, "portable", args, frozenset(
                {"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2"}),
                "x86-64 with AVX2/FMA/F16C/BMI2; no AVX-512, no AMX")
        args = off + tuple(f"-D{name}=OFF" for name in _X86_ALL_OFF)
        why = "x86-64 baseline (SSE2 only)" + (
            f": this CPU lacks {', '.join(missing)}" if tier == "portable" else "")
        return BuildPlan(arch, "conservative", args, frozenset(), why)
    if arch == "aarch64":
        if tier == "portable" and "asimddp" in features:
            return BuildPlan(arch, "portable", (*off, "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod"),
                             frozenset({"NEON", "ARM_FMA", "DOTPROD"}), "armv8.2-a with dotprod")
        return BuildPlan(arch, tier, (*off, "-DGGML_CPU_ARM_ARCH=armv8-a"),
                         frozenset({"NEON", "ARM_FMA"}), "armv8-a (NEON)")
    return BuildPlan(arch, "conservative", off, frozenset(),
                     f"{arch}: the compiler's default target, no extensions")


def system_info_features(info: str) -> frozenset[str]:
    """Instruction sets a llama.cpp build reports as compiled in, from its system-info string
    (``"CPU : SSE3 = 1 | AVX = 1 | ... | OPENMP = 1 |"``); library features are left out."""
    used: set[str] = set()
    for part in info.replace("\n", "|").split("|"):
        name, sep, value = part.partition("=")
        name = name.split(":")[-1].strip()
        if sep and value.strip() not in {"", "0"} and name and name not in NON_ISA_FEATURES:
            used.add(name)
    return frozenset(used)


@dataclass(frozen=True)
class BuildCheck:
    """The installed build's instruction sets against a plan's list."""

    used: frozenset[str]
    allowed: frozenset[str]
    outside: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outside", self.used - self.allowed)

    @property
    def ok(self) -> bool:
        return not self.outside


def check(info: str, build: BuildPlan) -> BuildCheck:
    return BuildCheck(used=system_info_features(info), allowed=build.allowed)


CPUINFO_FLAG = {
    "SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX_VNNI": "avx_vnni", "AVX2": "avx2",
    "F16C": "f16c", "FMA": "fma", "BMI2": "bmi2", "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8", "NEON": "asimd", "ARM_FMA": "asimd", "FP16_VA": "asimdhp",
    "DOTPROD": "asimddp", "MATMUL_INT8": "i8mm", "SVE": "sve", "SME": "sme",
}
"""llama.cpp's name for an instruction set → the ``/proc/cpuinfo`` flag that advertises it."""


def not_runnable(used: frozenset[str], features: frozenset[str],
                 amx: bool | None) -> frozenset[str]:
    """The instruction sets a build uses that this machine does not offer: not advertised by
    the CPU, or AMX where the kernel does not offer it. Unknown names, and every name on a
    machine whose features could not be read, are not judged."""
    if not features:
        return frozenset()
    bad = {name for name in used if name in CPUINFO_FLAG and CPUINFO_FLAG[name] not in features}
    if "AMX_INT8" in used and amx is False:
        bad.add("AMX_INT8")
    return frozenset(bad)


def signal_name(returncode: int | None) -> str | None:
    """``SIGSEGV`` for a child whose return code is ``-11`` (how ``subprocess`` reports a
    death by signal); ``None`` for a normal exit."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def describe_exit(returncode: int | None) -> str:
    """One line for a child process's end: ``killed by SIGSEGV (Segmentation fault)`` or
    ``exited with status 1``; what the demo, ``serve-edge`` and the bridge print instead of an
    empty message."""
    name = signal_name(returncode)
    if name is None:
        return "still running" if returncode is None else f"exited with status {returncode}"
    try:
        what = signal.strsignal(-returncode if returncode is not None else 0)
    except ValueError:
        what = None
    return f"killed by {name}" + (f" ({what})" if what else "")


CRASH_HINT = ("a native runtime crashed; run 'edgesdk doctor' to see which and why, "
              "then rebuild it with scripts/setup.sh")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="native.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_plan = sub.add_parser("plan", help="print the build plan as JSON (cmake_env, cache_key)")
    p_plan.add_argument("--tier", choices=TIERS, default="portable")
    p_plan.add_argument("--version", required=True, help="llama-cpp-python version")
    sub.add_parser("cpu", help="print the CPU's features and whether AMX is permitted")
    args = parser.parse_args(argv)
    if args.command == "plan":
        build = plan(args.tier)
        out = {**asdict(build), "allowed": sorted(build.allowed), "cmake_env": build.cmake_env(),
               "cache_key": build.cache_key(args.version)}
    else:
        out = {"arch": machine(), "features": sorted(cpu_features()),
               "kernel_offers_amx": kernel_offers_amx()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
