#!/usr/bin/env bash
# Build the Java client and its tests with plain javac, then run them against a live
# `edgesdk serve-bridge` (started and restarted by the tests). Exits non-zero on any failure.
#
#   android_bridge/run_tests.sh            # real Assistant, profile "watch" (SmolLM2-135M)
#   android_bridge/run_tests.sh --fake     # model-free stand-in backend
#   EDGESDK_PYTHON=/path/python EDGESDK_BRIDGE_PROFILE=glasses android_bridge/run_tests.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PYTHON="${EDGESDK_PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
for tool in javac java; do
    command -v "$tool" >/dev/null || { echo "run_tests.sh: $tool not found; install a JDK 17 (apt-get install openjdk-17-jdk-headless)" >&2; exit 2; }
done
BUILD="$HERE/build"
rm -rf "$BUILD/main" "$BUILD/test"
mkdir -p "$BUILD/main" "$BUILD/test"
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$BUILD/main" $(find "$HERE/src/main/java" -name '*.java')
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -cp "$BUILD/main" -d "$BUILD/test" $(find "$HERE/src/test/java" -name '*.java')
exec java -cp "$BUILD/main:$BUILD/test" dev.edgesdk.bridge.BridgeClientTests \
    --python "$PYTHON" --root "$ROOT" --profile "${EDGESDK_BRIDGE_PROFILE:-watch}" "$@"
