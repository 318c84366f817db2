#!/usr/bin/env bash
# Runs the unpacked package as an installed sprout would run: that root's
# sproutd (finding that root's sprout-agent beside itself) with the
# packaged /etc/sprout/sproutd.conf, on a private socket and state dir;
# deploys and invokes examples/python/hello with that root's sprout; builds
# a separate project against that root's client library with
# find_package(sprout) and invokes through it; stops sproutd with SIGTERM
# and checks that it left no process, mount or cgroup.
# usage: run_unpacked.sh ROOT SOURCE_DIR SCRATCH_DIR   (as root)
set -euo pipefail
root=$1
source_dir=$2
scratch=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$scratch"
socket=$scratch/sprout.sock
fail() { echo "run_unpacked: FAIL: $*" >&2; exit 1; }
step() { echo "run_unpacked: $*"; }

# Polls CONDITION (a command) every 0.1 s until it holds or SECONDS pass.
wait_until() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

daemon_pid=
stop_daemon() {
  [[ -n $daemon_pid ]] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  # The drain waits at most drain_timeout_ms (30 s) for invocations.
  if ! wait_until 60 daemon_gone; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=
}
daemon_gone() { ! kill -0 "$daemon_pid" 2>/dev/null; }
trap 'stop_daemon' EXIT

step "sproutd from $root"
"$root/usr/sbin/sproutd" --config "$root/etc/sprout/sproutd.conf" --socket "$socket" \
  --state-dir "$scratch/state" > "$scratch/sproutd.out" 2> "$scratch/sproutd.log" &
daemon_pid=$!
ready() { grep -qxF "sproutd: ready on $socket" "$scratch/sproutd.out" || daemon_gone; }
wait_until 120 ready || fail "sproutd not ready within 120 s"
if daemon_gone; then cat "$scratch/sproutd.log" >&2; fail "sproutd exited before it was ready"; fi
# It must run the packaged agent, not one of a build tree.
agent=$(sed -n 's/.*sprout-agent: \([^;]*\);.*/\1/p' "$scratch/sproutd.log" | head -n1)
[[ $(realpath "$agent") == "$root/usr/lib/sprout/sprout-agent" ]] || fail "sproutd uses agent '$agent'"

sprout() { "$root/usr/bin/sprout" --socket "$socket" "$@"; }
step "deploy and invoke examples/python/hello with the packaged sprout"
sprout deploy hello --runtime python3 --code "$source_dir/examples/python/hello/handler.py" > /dev/null
answer=$(sprout invoke hello --payload '{"name": "deb"}')
[[ $answer == '{"message": "hello, deb"}' ]] || fail "sprout invoke answered '$answer'"
step "sprout invoke: $answer"

step "a project of its own against the packaged client library (find_package(sprout))"
cmake -S "$here/consumer" -B "$scratch/consumer" -DCMAKE_PREFIX_PATH="$root/usr" \
  -DCMAKE_BUILD_TYPE=Release > "$scratch/consumer.log" 2>&1 || { cat "$scratch/consumer.log" >&2; fail "consumer configure"; }
found=$(sed -n 's/^sprout_DIR:PATH=//p' "$scratch/consumer/CMakeCache.txt")
[[ $found == "$root/usr/lib/cmake/sprout" ]] || fail "find_package(sprout) found '$found', not the unpacked package"
cmake --build "$scratch/consumer" -j1 >> "$scratch/consumer.log" 2>&1 || { cat "$scratch/consumer.log" >&2; fail "consumer build"; }
answer=$("$scratch/consumer/deb_consumer" "$socket" hello '{"name": "library"}')
[[ $answer == '{"message": "hello, library"}' ]] || fail "the consumer got '$answer'"
step "consumer: $answer"
# The native-function header stands alone, in C as native functions use it.
echo '#include <sprout/native.h>' | gcc -fsyntax-only -Wall -Werror -I"$root/usr/include" -x c - ||
  fail "sprout/native.h does not compile on its own"

sprout rm hello > /dev/null
pid=$daemon_pid
step "SIGTERM"
kill -TERM "$pid"
wait_until 60 daemon_gone || fail "sproutd did not exit within 60 s of SIGTERM"
status=0
wait "$pid" || status=$?
daemon_pid=
[[ $status -eq 0 ]] || { cat "$scratch/sproutd.log" >&2; fail "sproutd exited $status after SIGTERM"; }

step "nothing left behind"
packaged_processes() {
  local exe
  for exe in /proc/[0-9]*/exe; do
    [[ $(readlink "$exe" 2>/dev/null) == "$root"/* ]] && echo "${exe%/exe}"
  done
  return 0
}
no_packaged_processes() { [[ -z $(packaged_processes) ]]; }
wait_until 30 no_packaged_processes || fail "processes of the package still run: $(packaged_processes)"
if grep -F "$scratch" /proc/self/mountinfo; then fail "mounts left below $scratch"; fi
cgroups=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "sproutd-$pid" 2>/dev/null || true)
[[ -z $cgroups ]] || fail "cgroups left: $cgroups"
[[ ! -e $socket ]] || fail "the socket $socket is still there"
step "passed"
