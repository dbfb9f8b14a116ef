"""Build plans, the wheel-cache key, llama.cpp's system-info string, and how a child process's
death is described: the pure parts of the native-build checks (edgesdk/native.py)."""

from __future__ import annotations

import signal

import pytest

from edgesdk import native

XEON_AMX = frozenset(["sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512_vnni",
                      "amx_tile", "amx_int8"])
OLD_ATOM = frozenset(["sse2", "ssse3", "sse4_1", "sse4_2"])


def test_portable_x86_plan_names_every_flag_and_never_native_avx512_or_amx() -> None:
    plan = native.plan("portable", arch="x86_64", features=XEON_AMX)
    assert plan.tier == "portable"
    assert "-DGGML_NATIVE=OFF" in plan.cmake_args
    for name in ("AVX2", "FMA", "F16C", "BMI2"):
        assert f"-DGGML_{name}=ON" in plan.cmake_args
    for name in ("AVX512", "AVX512_VNNI", "AMX_TILE", "AMX_INT8", "AMX_BF16", "AVX_VNNI"):
        assert f"-DGGML_{name}=OFF" in plan.cmake_args
    assert not any("march=native" in arg for arg in plan.cmake_args)
    assert plan.allowed == {"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2"}


def test_a_cpu_without_avx2_gets_the_conservative_plan_and_is_told_why() -> None:
    plan = native.plan("portable", arch="x86_64", features=OLD_ATOM)
    assert plan.tier == "conservative"
    assert plan.allowed == frozenset()
    assert "avx2" in plan.why and "-DGGML_AVX=OFF" in plan.cmake_args


def test_arm_plans_use_dotprod_only_where_the_cpu_has_it() -> None:
    with_dp = native.plan("portable", arch="aarch64", features=frozenset({"asimd", "asimddp"}))
    assert "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod" in with_dp.cmake_args
    assert with_dp.allowed == {"NEON", "ARM_FMA", "DOTPROD"}
    without = native.plan("portable", arch="aarch64", features=frozenset({"asimd"}))
    assert "-DGGML_CPU_ARM_ARCH=armv8-a" in without.cmake_args
    assert native.plan("conservative", arch="aarch64", features=frozenset(
        {"asimd", "asimddp"})).allowed == {"NEON", "ARM_FMA"}


def test_the_wheel_cache_key_changes_with_version_arch_and_flags() -> None:
    portable = native.plan("portable", arch="x86_64", features=XEON_AMX)
    conservative = native.plan("conservative", arch="x86_64", features=XEON_AMX)
    arm = native.plan("portable", arch="aarch64", features=frozenset({"asimddp"}))
    keys = {portable.cache_key("0.3.36"), portable.cache_key("0.3.37"),
            conservative.cache_key("0.3.36"), arm.cache_key("0.3.36")}
    assert len(keys) == 4
    assert portable.cache_key("0.3.36").startswith("llama-cpp-python-0.3.36-x86_64-portable-")
    assert portable.cache_key("0.3.36") == native.plan(
        "portable", arch="x86_64", features=XEON_AMX | {"avx512bw"}).cache_key("0.3.36")


SYSINFO_NATIVE = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | "
                  "FMA = 1 | BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | "
                  "AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")


def test_system_info_parsing_keeps_instruction_sets_and_drops_library_features() -> None:
    used = native.system_info_features(SYSINFO_NATIVE)
    assert {"AVX512", "AMX_INT8", "AVX2"} <= used
    assert not used & {"LLAMAFILE", "OPENMP", "REPACK"}
    assert native.system_info_features("CPU : NEON = 1 | ARM_FMA = 1 | SVE_CNT = 0 | ") == {
        "NEON", "ARM_FMA"}


def test_a_native_build_is_outside_the_portable_list() -> None:
    plan = native.plan("portable", arch="x86_64", features=XEON_AMX)
    result = native.check(SYSINFO_NATIVE, plan)
    assert not result.ok
    assert {"AMX_INT8", "AVX512", "AVX512_VNNI", "AVX_VNNI"} <= result.outside
    portable_info = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
                     "BMI2 = 1 |")
    assert native.check(portable_info, plan).ok


def test_amx_that_the_kernel_refuses_is_not_runnable_although_the_cpu_advertises_it() -> None:
    used = native.system_info_features(SYSINFO_NATIVE)
    assert "AMX_INT8" in native.not_runnable(used, XEON_AMX, amx=False)
    assert "AMX_INT8" not in native.not_runnable(used, XEON_AMX, amx=True)
    assert "AVX512_BF16" in native.not_runnable(used, XEON_AMX, amx=True)  # not advertised
    assert native.not_runnable(used, frozenset(), amx=None) == frozenset()  # nothing known


def test_cpu_features_read_x86_flags_and_arm_features() -> None:
    assert native.cpu_features("processor: 0\nflags\t\t: fpu avx2 fma\n") == {"fpu", "avx2", "fma"}
    assert native.cpu_features("Features\t: fp asimd asimddp\n") == {"fp", "asimd", "asimddp"}
    assert native.cpu_features("nothing here\n") == frozenset()


def test_amx_permission_is_a_yes_no_answer_on_x86_linux_and_none_elsewhere() -> None:
    answer = native.kernel_offers_amx()
    if native.machine() == "x86_64":
        assert answer in (True, False)
    else:
        assert answer is None


@pytest.mark.parametrize(("code", "expected"), [
    (-signal.SIGSEGV, "killed by SIGSEGV"), (-signal.SIGILL, "killed by SIGILL"),
    (1, "exited with status 1"), (0, "exited with status 0"), (None, "still running"),
])
def test_describe_exit_names_the_signal(code: int | None, expected: str) -> None:
    assert native.describe_exit(code).startswith(expected)
    assert native.signal_name(code) == (expected.split()[-1] if "killed" in expected else None)
