#!/usr/bin/env bash
# The DaemonSet's metrics relay against the build's sproutd: GET /metrics
# through the relay is sproutd's exposition; every other path is 404 (the
# relay must not open the Lambda API to unsigned callers); a sproutd that is
# gone is a 502, not an empty 200 that would hide it from Prometheus.
#
# usage: check_metrics_relay.sh SPROUTD RELAY_SCRIPT
set -euo pipefail

readonly sproutd=$1 relay_script=$2
readonly python=/usr/bin/python3

[[ $(id -u) == 0 ]] || { echo "SKIP: sproutd runs as root in these tests"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }

work=$(mktemp -d /tmp/sprout-test-deploy-relay-XXXXXX)
daemon_pid=''
relay_pid=''
# stop_process.
source "$(dirname "$0")/../support/sproutd_processes.sh"
cleanup() {
  stop_process "$relay_pid"
  stop_process "$daemon_pid"
  rm -rf "$work"
}
trap cleanup EXIT
# A ctest timeout sends SIGTERM: clean up then too.
trap "exit 143" TERM INT

# Waits up to 60 s for a line matching PATTERN in FILE from process PID;
# prints the line.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3 line
  for _ in $(seq 600); do
    if line=$(grep -m1 -E "$pattern" "$file"); then
      echo "$line"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: no '$pattern' from pid $pid:" >&2
  cat "$file" >&2
  return 1
}

mkdir -p "$work/state"
"$sproutd" --socket "$work/sprout.sock" --state-dir "$work/state" \
  --http-listen 127.0.0.1:0 >"$work/sproutd.log" 2>&1 &
daemon_pid=$!
wait_for_line "$work/sproutd.log" "sproutd: ready on" "$daemon_pid" >/dev/null
http=$(wait_for_line "$work/sproutd.log" "sproutd: http listening on" "$daemon_pid")
upstream_port=${http##*:}

"$python" "$relay_script" 0 "http://127.0.0.1:$upstream_port/metrics" >"$work/relay.log" 2>&1 &
relay_pid=$!
line=$(wait_for_line "$work/relay.log" "metrics-relay: serving on port" "$relay_pid")
relay_port=${line##* }

failures=0
expect() {
  local what=$1 want_status=$2 path=$3 status
  status=$(curl -s --path-as-is -o "$work/body" -w '%{http_code}' --max-time 10 \
    "http://127.0.0.1:$relay_port$path" || true)
  if [[ $status != "$want_status" ]]; then
    echo "FAIL: $what: GET $path answered $status, not $want_status"
    failures=$((failures + 1))
    return 1
  fi
  echo "ok: $what: GET $path is $status"
}

if expect "the exposition" 200 /metrics; then
  if ! grep -q "^sprout_serving 1$" "$work/body"; then
    echo "FAIL: the relayed /metrics has no 'sprout_serving 1':"
    head -20 "$work/body"
    failures=$((failures + 1))
  fi
fi
expect "the Lambda API is not relayed" 404 /2015-03-31/functions/hello/invocations || true
expect "/healthz is not relayed" 404 /healthz || true
expect "a path that only starts like /metrics" 404 /metrics/../healthz || true

stop_process "$daemon_pid"
daemon_pid=
expect "sproutd gone" 502 /metrics || true
exit $((failures > 0))
