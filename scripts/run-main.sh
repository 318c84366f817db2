#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine, as root: installs packages,
# builds, and runs a hello-world in a sandbox through the library's demo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" "$build"
"$build/sandbox/sprout-sandbox-demo" --code "$root/examples/sandbox-hello" --timeout-ms 5000 \
  -- /usr/bin/python3.11 /var/task/hello.py
