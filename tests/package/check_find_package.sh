#!/usr/bin/env bash
# Installs the client library into a temporary prefix, builds a separate
# project against it with find_package(sprout), and runs it.
set -euo pipefail
build_dir=$1
source_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/sprout-test-package-XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > /dev/null
cmake -S "$source_dir/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/build" > /dev/null
out=$("$work/build/consumer")
echo "$out"
[[ $out == "UNAVAILABLE: sproutd is not running at /nonexistent/sprout.sock" ]]
