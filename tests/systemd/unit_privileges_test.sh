#!/usr/bin/env bash
# The unit's privilege settings, applied without systemd (PID 1 here is not
# systemd), are enough for sproutd's real work.
#
# Reads CapabilityBoundingSet=, NoNewPrivileges= and UMask= from the unit
# and runs the build's sproutd (private socket and state dir) under them
# with setpriv: that bounding set (root's permitted and effective sets
# follow it), no inheritable or ambient capabilities (AmbientCapabilities=
# is empty), no_new_privs. Checks in /proc that the kernel applied them,
# then deploys and invokes a python3 function (host ids, id maps, cgroups,
# namespaces, seccomp) and one that overruns its timeout (a kill across
# uids), and stops sproutd: exit 0, its cgroups gone.
#
# The other settings (ProtectSystem=, PrivateTmp=, the seccomp-based ones)
# need systemd itself; docs/systemd.md says which were reasoned, not run.
#
# usage: unit_privileges_test.sh UNIT_FILE SPROUTD SPROUT EXAMPLES_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) when not root or setpriv is missing.
set -euo pipefail

readonly unit=$1 sproutd=$2 sprout=$3 examples=$4

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "sproutd needs root for host ids and cgroups"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"

unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
read -r -a caps <<<"$(unit_value CapabilityBoundingSet)"
[[ ${#caps[@]} -gt 0 ]] || { echo "FAIL: no CapabilityBoundingSet= in $unit"; exit 1; }
no_new_privs=$(unit_value NoNewPrivileges)
umask_value=$(unit_value UMask)
echo "unit: bounding set ${caps[*]}; NoNewPrivileges=$no_new_privs; UMask=${umask_value:-default}"

work=$(mktemp -d /tmp/sprout-test-systemd-privs-XXXXXX)
daemon_pid=
# remove_cgroups_of, only after a failed or killed run.
source "$(dirname "$0")/../support/sproutd_processes.sh"
cleanup() {
  if [[ -n $daemon_pid ]]; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    remove_cgroups_of "$daemon_pid"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  echo "--- sproutd ---"; cat "$work/sproutd.log" || true
  echo "--- sprout ---"; cat "$work/cli.log" || true
  exit 1
}

# setpriv spells CAP_SYS_ADMIN as sys_admin.
bounding=-all
for cap in "${caps[@]}"; do
  name=${cap#CAP_}
  bounding+=",+${name,,}"
done
setpriv_args=(--bounding-set "$bounding" --inh-caps -all --ambient-caps -all)
[[ $no_new_privs == yes ]] && setpriv_args+=(--no-new-privs)

cat >"$work/sleeper.py" <<'PY'
import time


def handler(event, context):
    time.sleep(30)
    return {"slept": True}
PY
# A short drain: a run whose sandbox could not be killed ends soon. The
# socket handed to a group (how a node lets non-root clients in): the
# chown needs CAP_CHOWN, which the unit therefore keeps.
socket_group=65534
printf 'drain_timeout_ms: 3000\nsocket_gid: %s\n' "$socket_group" >"$work/sproutd.conf"
socket=$work/sprout.sock
mkdir "$work/state"

(
  [[ -n $umask_value ]] && umask "$umask_value"
  exec setpriv "${setpriv_args[@]}" -- "$sproutd" --config "$work/sproutd.conf" \
    --socket "$socket" --state-dir "$work/state"
) >"$work/sproutd.log" 2>&1 &
daemon_pid=$!

for _ in $(seq 1200); do
  grep -q "sproutd: ready on" "$work/sproutd.log" && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "sproutd exited before it was ready"
  sleep 0.1
done
grep -q "sproutd: ready on" "$work/sproutd.log" || fail "sproutd not ready within 120 s"

# The kernel's view of the process: the bounding set is exactly the unit's.
expected_mask=$(python3 - "${caps[@]}" <<'PY'
import re, sys
numbers = dict(re.findall(r"#define\s+(CAP_[A-Z_]+)\s+(\d+)\b",
                          open("/usr/include/linux/capability.h").read()))
print(format(sum(1 << int(numbers[c]) for c in sys.argv[1:]), "016x"))
PY
)
status=/proc/$daemon_pid/status
actual_mask=$(sed -n 's/^CapBnd:\s*//p' "$status")
[[ $actual_mask == "$expected_mask" ]] ||
  fail "CapBnd is $actual_mask, the unit's set is $expected_mask"
[[ $(sed -n 's/^CapEff:\s*//p' "$status") == "$expected_mask" ]] ||
  fail "CapEff is not the bounding set"
if [[ $no_new_privs == yes ]]; then
  [[ $(sed -n 's/^NoNewPrivs:\s*//p' "$status") == 1 ]] || fail "no_new_privs is not set"
fi
[[ $(stat -c %g "$socket") == "$socket_group" ]] ||
  fail "the socket's group is $(stat -c %g "$socket"), not socket_gid $socket_group"
echo "kernel: CapBnd=CapEff=$actual_mask, NoNewPrivs=$(sed -n 's/^NoNewPrivs:\s*//p' "$status")"

cli=(timeout 90 "$sprout" --socket "$socket")
"${cli[@]}" deploy hello --runtime python3 --code "$examples/python/hello/handler.py" \
  >>"$work/cli.log" 2>&1 || fail "deploy hello"
"${cli[@]}" invoke hello --payload '{"name": "systemd"}' >>"$work/cli.log" 2>&1 ||
  fail "invoke hello"
grep -q '"hello, systemd"' "$work/cli.log" || fail "hello did not answer"
echo "ok: hello deployed and answered"

"${cli[@]}" deploy sleeper --runtime python3 --timeout-ms 1000 --code "$work/sleeper.py" \
  >>"$work/cli.log" 2>&1 || fail "deploy sleeper"
# Exit status 14 is TIMEOUT (docs/cli.md): the sandbox, another uid, was
# killed; a hang (timeout's 124) or any other answer is a failure.
invoke_status=0
timeout 30 "$sprout" --socket "$socket" invoke sleeper >>"$work/cli.log" 2>&1 || invoke_status=$?
[[ $invoke_status == 14 ]] || fail "sleeper: exit status $invoke_status, not 14 (TIMEOUT)"
echo "ok: an overrunning invocation was stopped (TIMEOUT)"

pid=$daemon_pid
kill -TERM "$pid"
exit_status=0
for _ in $(seq 600); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "sproutd still runs 60 s after SIGTERM"
wait "$pid" || exit_status=$?
daemon_pid=
[[ $exit_status == 0 ]] || fail "sproutd exited with $exit_status after SIGTERM"
leftover=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "sproutd-$pid" 2>/dev/null)
if [[ -n $leftover ]]; then
  remove_cgroups_of "$pid"
  fail "cgroups left behind after a clean stop: $leftover"
fi
echo "PASS"
