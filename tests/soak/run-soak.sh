#!/usr/bin/env bash
# The soak, full form: tests/soak/run-soak.sh [calls] [concurrency]
# (defaults 10000 and 64). Uses $BUILD_DIR (default: <repo>/build), builds
# sprout-soak, sproutd and sprout-agent there if they are missing, and runs
# the driver as root. Exit status: the driver's (0: nothing lost or left).
set -euo pipefail
calls="${1:-10000}"
concurrency="${2:-64}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
if [[ $EUID -ne 0 ]]; then
  echo "run-soak.sh: sproutd needs root" >&2
  exit 2
fi
if [[ ! -x "$build/tests/soak/sprout-soak" || ! -x "$build/supervisor/sproutd" ]]; then
  if [[ ! -f "$build/CMakeCache.txt" ]]; then
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$build" -j"$(nproc)" --target sprout-soak sproutd sprout-agent
fi
exec "$build/tests/soak/sprout-soak" --calls "$calls" --concurrency "$concurrency" \
  --sproutd "$build/supervisor/sproutd"
