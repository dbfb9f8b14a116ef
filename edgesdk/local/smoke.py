"""One small real inference per native runtime, run in a child process so a crash is a result.

A runtime built for instructions this machine does not allow (AMX refused by the kernel, AVX-512
under an emulator) does not raise: it kills the process with SIGSEGV or SIGILL. The only safe way
to ask "does llama.cpp / onnxruntime / LiteRT work here?" is to let a child process try: load a
small model from the store, run it once, print one JSON line. The parent reads the line, or the
signal that killed the child, and never crashes itself. ``scripts/setup.sh`` (before it says
"ready"), ``edgesdk doctor`` and :func:`ensure_llama_works` (before the Assistant loads a GGUF in
its own process) all go through :func:`run_smoke`.

:func:`ensure_llama_works` remembers a passing check in ``$EDGESDK_HOME/native/`` keyed by the
installed llama.cpp library files and the model file, so the child runs once per build and model,
not once per Assistant (about a second with SmolLM2).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgesdk.errors import NativeRuntimeCrashed
from edgesdk.native import cpu_features, describe_exit, machine, signal_name, simd_features

Runtime = Literal["llama.cpp", "onnxruntime", "litert", "ctranslate2"]
RUNTIMES: tuple[Runtime, ...] = ("llama.cpp", "onnxruntime", "litert", "ctranslate2")
SMOKE_MODELS: dict[Runtime, str] = {
    "llama.cpp": "smollm2-135m-instruct",
    "onnxruntime": "minilm-l6-int8",
    "litert": "face-blazeface-short",
    "ctranslate2": "asr-whisper-tiny-en",
}
"""The smallest default model of each runtime, the one a smoke test loads."""
SMOKE_PROMPT = "The capital of France is"
SMOKE_TOKENS = 4
DEFAULT_TIMEOUT_S = 180.0


class SmokeResult(BaseModel):
    """What one child process did with one runtime and one model."""

    model_config = ConfigDict(frozen=True)

    runtime: str
    model_path: str
    ok: bool
    seconds: float
    """Wall time of the child, from start to exit (import, load and inference)."""
    returncode: int | None = None
    signal: str | None = None
    """``SIGSEGV``, ``SIGILL``… when the child was killed by a signal."""
    detail: str = ""
    output: dict[str, Any] = {}
    """The child's own report: decoded text, llama.cpp's system info, output shapes."""


def run_smoke(runtime: Runtime, model_path: Path, *,
              timeout_s: float = DEFAULT_TIMEOUT_S, python: str | None = None) -> SmokeResult:
    """Load ``model_path`` on ``runtime`` in a child process and run one small inference."""
    cmd = [python or sys.executable, "-m", "edgesdk.local.smoke", runtime, str(model_path)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return SmokeResult(runtime=runtime, model_path=str(model_path), ok=False,
                           seconds=time.perf_counter() - started,
                           detail=f"no answer within {timeout_s:.0f} s")
    seconds = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    output: dict[str, Any] = {}
    if lines:
        try:
            output = json.loads(lines[-1])
        except ValueError:
            output = {}
    ok = proc.returncode == 0 and bool(output.get("ok"))
    detail = ""
    if proc.returncode < 0:
        detail = describe_exit(proc.returncode)
    elif not ok:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        detail = str(output.get("error") or tail)
    return SmokeResult(runtime=runtime, model_path=str(model_path), ok=ok, seconds=seconds,
                       returncode=proc.returncode, signal=signal_name(proc.returncode),
                       detail=detail, output=output)


# ------------------------------------------------------------------ the guard before loading


def llama_library_files() -> list[Path]:
    """The installed llama-cpp-python's native libraries, found without importing it (importing
    already loads the library, and a build for illegal instructions can die right there)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return []
    lib = Path(spec.origin).parent / "lib"
    return sorted(p for p in lib.glob("*") if p.suffix in {".so", ".dylib", ".dll"})


def _proof_key(model_path: Path, python: str) -> str:
    parts = [machine(), python, str(model_path)]
    for path in [*llama_library_files(), model_path]:
        st = path.stat()
        parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


_PROVEN: dict[str, str] = {}
"""Proof key → the passing child's report, for this process (homes may differ per call)."""


def ensure_llama_works(model_path: Path, *, home: Path, python: str | None = None) -> None:
    """Raise :class:`NativeRuntimeCrashed` instead of letting llama.cpp kill this process.

    Runs :func:`run_smoke` once per (library build, model file, interpreter) and remembers a
    pass in ``home/native/``; a failure is not remembered, so a rebuilt library is checked
    again. ``python`` is the interpreter the child runs (default: this one)."""
    if not llama_library_files():
        return  # not installed: LlamaCppLLM raises MissingExtra with the pip extra to install
    key = _proof_key(model_path, python or sys.executable)
    stamp = home / "native" / f"llama-proven-{key}.json"
    if stamp.exists():
        return
    if key not in _PROVEN:
        result = run_smoke("llama.cpp", model_path, python=python)
        if result.signal is not None:
            raise NativeRuntimeCrashed(runtime="llama.cpp", how=result.detail,
                                       simd=simd_features(cpu_features()), arch=machine())
        if not result.ok:
            return  # a corrupt file, a wrong format: the real load's ModelLoadError names it
        _PROVEN[key] = result.model_dump_json()
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(_PROVEN[key])
    except OSError:
        pass  # a read-only home only costs the check again in the next process


# ------------------------------------------------------------------ the child


def _smoke_llama(path: Path) -> dict[str, Any]:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, n_threads=2, n_batch=32,
                          verbose=False)
    started = time.perf_counter()
    out: Any = llm(SMOKE_PROMPT, max_tokens=SMOKE_TOKENS, temperature=0.0)
    decode_s = time.perf_counter() - started
    info = llama_cpp.llama_print_system_info()
    return {"text": out["choices"][0]["text"], "tokens": out["usage"]["completion_tokens"],
            "decode_s": round(decode_s, 4), "system_info": info.decode(errors="replace")
            if isinstance(info, bytes) else str(info)}


def _zeros_feeds(inputs: Any) -> dict[str, Any]:
    return {spec.name: np.zeros(tuple(d if d > 0 else 1 for d in spec.shape) or (1,),
                                dtype=spec.dtype) for spec in inputs}


def _smoke_tensor(path: Path, engine: Literal["litert", "onnxruntime"]) -> dict[str, Any]:
    from edgesdk.local.runtimes import load_tensor_model

    model = load_tensor_model(path, engine=engine, threads=1)
    started = time.perf_counter()
    outputs = model.run(_zeros_feeds(model.inputs))
    return {"run_s": round(time.perf_counter() - started, 4),
            "outputs": {name: list(np.shape(value)) for name, value in outputs.items()}}


def _smoke_ctranslate2(path: Path) -> dict[str, Any]:
    """Whisper on a second of a tone: CTranslate2's int8 kernels (MKL picks AVX-512 or AMX
    by itself and falls back when the OS refuses AMX) run the encoder and the decoder."""
    import ctranslate2

    from edgesdk.local.whisper import _import_faster_whisper

    model = _import_faster_whisper().WhisperModel(str(path), device="cpu", compute_type="int8",
                                                  cpu_threads=2, local_files_only=True)
    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    started = time.perf_counter()
    segments, _ = model.transcribe(tone, language="en", beam_size=1, temperature=0.0,
                                   max_new_tokens=8)
    text = " ".join(seg.text for seg in segments)
    return {"run_s": round(time.perf_counter() - started, 4), "text": text,
            "ctranslate2": ctranslate2.__version__,
            "compute_types": sorted(ctranslate2.get_supported_compute_types("cpu"))}


def _child(argv: list[str]) -> int:
    runtime, path = argv[0], Path(argv[1])
    try:
        if runtime == "llama.cpp":
            report = _smoke_llama(path)
        elif runtime in ("onnxruntime", "litert"):
            report = _smoke_tensor(path, "litert" if runtime == "litert" else "onnxruntime")
        elif runtime == "ctranslate2":
            report = _smoke_ctranslate2(path)
        else:
            raise ValueError(f"unknown runtime {runtime!r}; one of {', '.join(RUNTIMES)}")
    except Exception as exc:  # the parent reports whatever stopped the child
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps({"ok": True, **report}))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
