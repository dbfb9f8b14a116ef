"""Build llama.cpp's CPU backend from the pinned source with each tier's flags (the ones setup
uses, ``edgesdk/native.py``) and read, from the built library's own feature list (what
``llama_print_system_info`` prints), that it uses no instruction set outside the tier's list.

Only the ``ggml-cpu`` target is built (about 25 s on 2 cores; the whole wheel takes 3.5 min), and
nothing is run but the feature query, so the test passes on any x86-64 or aarch64 machine,
with or without AMX or AVX-512."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from edgesdk import native
from tests.conftest import REAL_HOME

pytestmark = pytest.mark.integration
LLAMA_VERSION = "0.3.36"
SDIST = REAL_HOME / "wheels" / "sdist" / f"llama_cpp_python-{LLAMA_VERSION}.tar.gz"


class _Feature(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_char_p)]


def _system_info(bin_dir: Path) -> str:
    """``CPU : AVX = 1 | …``, from ``ggml_backend_get_features`` of the built CPU backend."""
    base = ctypes.CDLL(str(bin_dir / "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
    cpu = ctypes.CDLL(str(bin_dir / "libggml-cpu.so"))
    cpu.ggml_backend_cpu_reg.restype = ctypes.c_void_p
    base.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p
    base.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    reg = cpu.ggml_backend_cpu_reg()
    address = base.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_get_features")
    assert address, "the CPU backend does not export its feature list"
    get_features = ctypes.CFUNCTYPE(ctypes.POINTER(_Feature), ctypes.c_void_p)(address)
    features = get_features(reg)
    parts = []
    i = 0
    while features[i].name:
        parts.append(f"{features[i].name.decode()} = {features[i].value.decode()}")
        i += 1
    return "CPU : " + " | ".join(parts) + " |"


@pytest.fixture(scope="module")
def llama_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SDIST.exists():
        pytest.skip(f"no llama-cpp-python source at {SDIST}; run scripts/setup.sh")
    for tool in ("cmake", "cc", "c++"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found")
    out = tmp_path_factory.mktemp("llama-src")
    prefix = f"llama_cpp_python-{LLAMA_VERSION}/vendor/llama.cpp/"
    with tarfile.open(SDIST) as tf:
        members = [m for m in tf.getmembers() if m.name.startswith(prefix)]
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(out, members=members, **safe)  # type: ignore[arg-type]
    return out / prefix


@pytest.mark.parametrize("tier", native.TIERS)
def test_the_tier_flags_build_a_library_that_uses_only_the_listed_instructions(
        tier: native.Tier, llama_source: Path, tmp_path: Path) -> None:
    plan = native.plan(tier)
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(llama_source), "-B", str(build), *plan.cmake_args,
                    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=ON",
                    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
                    "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_CURL=OFF"],
                   check=True, capture_output=True, timeout=300)
    subprocess.run(["cmake", "--build", str(build), "--target", "ggml-cpu", "-j2"],
                   check=True, capture_output=True, timeout=900)
    info = _system_info(build / "bin")
    result = native.check(info, plan)
    assert result.ok, f"{info} uses {sorted(result.outside)}, not in {sorted(plan.allowed)}"
    assert "AMX_INT8" not in result.used and "AVX512" not in result.used
    if plan.tier == "portable" and plan.arch == "x86_64":
        assert {"AVX2", "FMA", "F16C"} <= result.used  # the portable speed is really there
    if plan.tier == "conservative" and plan.arch == "x86_64":
        assert result.used == frozenset(), info
