#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine, as root: installs packages,
# builds, starts sproutd on its default settings (socket
# /run/sprout/sprout.sock, state in /var/lib/sprout), deploys the examples,
# invokes each, prints the results and one cold-start figure, then stops
# sproutd. SPROUT_KEEP_RUNNING=1 leaves it running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" "$build"

sproutd="$build/supervisor/sproutd"
sprout="$build/cli/sprout"
log=$(mktemp /tmp/sproutd-main.XXXXXX.log)

"$sproutd" > "$log.ready" 2> "$log" &
daemon=$!
stop() {
  if [[ ${SPROUT_KEEP_RUNNING:-0} != 1 ]] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"; wait "$daemon" || true
  fi
  rm -f "$log.ready"
}
trap stop EXIT
for _ in $(seq 100); do grep -q ready "$log.ready" 2>/dev/null && break; sleep 0.1; done
if ! grep -q ready "$log.ready"; then echo "sproutd did not start; its log:"; cat "$log"; exit 1; fi
cat "$log.ready"

echo "== deploy"
"$sprout" deploy hello --runtime python3 --code "$root/examples/python/hello/handler.py"
"$sprout" deploy lambda-context --runtime python3 --code "$root/examples/python/lambda-context" \
  --handler lambda_function.lambda_handler --env GREETING=hi
"$sprout" deploy hello-native --runtime native --code "$build/examples/native/hello/hello.so"
"$sprout" deploy hello-exec --runtime exec --code "$root/examples/exec/hello/run.sh"
"$sprout" deploy hello-cold --runtime python3 --code "$root/examples/python/hello/handler.py" --no-prefork

echo "== invoke"
"$sprout" invoke hello --payload '{"name": "sprout"}'
"$sprout" invoke lambda-context --payload '{"order": 42}'
"$sprout" invoke hello-native --payload '{"x": 1}'
"$sprout" invoke hello-exec --payload '{"x": 1}'

echo "== cold start (fork from the function snapshot on the critical path, every namespace fresh)"
for _ in $(seq 21); do "$sprout" invoke hello-cold --json; done | /usr/bin/python3.11 -c '
import json, statistics, sys
runs = [json.loads(line)["metrics"] for line in sys.stdin][1:]  # the first warms up
median = lambda key: statistics.median(m[key] for m in runs) / 1000
print("cold start, median of %d: %.2f ms in sproutd (fork %.2f ms, handler %.2f ms); pre-forked: %s"
      % (len(runs), median("total_us"), median("fork_us"), median("run_us"), any(m["preforked"] for m in runs)))'

echo "== functions"
"$sprout" ls
"$sprout" stats
echo "(sproutd log: $log)"
