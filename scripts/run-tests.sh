#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root:
# installs packages, builds, runs every CTest label (unit, sandbox, security),
# then checks that the suite left nothing behind.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" "$build"
cd "$build"
ctest --output-on-failure -j 2 --timeout 300
"$root/scripts/check-leftovers.sh"
