#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root:
# installs packages, builds, runs every CTest label (unit, sandbox, security),
# then checks that the suite left nothing behind; then fuzzes each parser for
# FUZZ_SECONDS (default 45) per target and runs the suite again under ASan
# and UBSan (scripts/run-fuzz.sh, scripts/run-sanitizers.sh; docs/fuzzing.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" "$build"
cd "$build"
ctest --output-on-failure -j 2 --timeout 300
"$root/scripts/check-leftovers.sh"
# Both run even when the other fails, so that one CI run reports both.
status=0
"$root/scripts/run-fuzz.sh" "${FUZZ_SECONDS:-45}" || status=1
"$root/scripts/run-sanitizers.sh" || status=1
exit "$status"
