#!/usr/bin/env bash
# The unit's file-system options, rebuilt by hand in a private mount
# namespace (PID 1 here is not systemd), with the build's sproutd:
#
#   kept:    ProtectSystem=strict (the root mount read-only; /dev, /proc,
#            /sys stay as they are), ProtectHome=yes (/home, /root,
#            /run/user covered by an empty mode-000 tmpfs), PrivateTmp=yes
#            (a fresh /tmp; the state dir and socket live in it, where the
#            unit's StateDirectory= and RuntimeDirectory= are writable too):
#            a python3 function deploys and answers.
#   dropped: ProtectKernelTunables= (a read-only bind over /proc/sys): the
#            same deploy must fail at "mount proc", the reason
#            docs/systemd.md gives for leaving it (and ProtectKernelLogs=,
#            ProtectProc=, ProcSubset=) out.
#
# Each run happens in its own `unshare --mount`: the private /tmp with the
# state dir vanishes with it, and the host's mounts are not touched.
#
# usage: unit_mounts_test.sh SPROUTD SPROUT EXAMPLES_DIR
# KEEP=1 keeps the outputs (/tmp/sprout-test-systemd-mounts-*) to read.
# Exit 77 (ctest SKIP_RETURN_CODE) when not root or unshare is missing.
set -euo pipefail

sproutd=$(realpath "$1")
sprout=$(realpath "$2")
examples=$(realpath "$3")
# The agent sproutd runs: in the build tree, ../agent/ beside it.
agent=$(realpath "$(dirname "$sproutd")/../agent/sprout-agent")

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "mount namespaces and sproutd need root"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"

work=$(mktemp -d /tmp/sprout-test-systemd-mounts-XXXXXX)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT

# Runs inside the namespace: $1 = plain | cover-proc-sys. Prints
# "RESULT: ..." lines; sproutd's log goes to stderr.
inside() {
  local mode=$1
  set -euo pipefail
  # What the run needs, copied first to a tmpfs of this namespace that the
  # covers below leave alone: a build or checkout under /tmp, /home or /root
  # would vanish under them (the unit runs an installed /usr/sbin/sproutd).
  local staged=/mnt/sprout-test
  mkdir -p "$staged"
  mount -t tmpfs -o mode=755,size=256m tmpfs "$staged"
  cp "$sproutd" "$staged/sproutd"
  cp "$agent" "$staged/sprout-agent"  # found beside sproutd
  cp "$sprout" "$staged/sprout"
  mkdir -p "$staged/examples/python/hello"
  cp "$examples/python/hello/handler.py" "$staged/examples/python/hello/"
  sproutd=$staged/sproutd sprout=$staged/sprout examples=$staged/examples
  # ProtectSystem=strict: the root mount read-only. Submounts (/dev, /proc,
  # /sys on this host) keep their flags, as under systemd.
  mount -o remount,bind,ro /
  # ProtectHome=yes.
  local home
  for home in /home /root /run/user; do
    [[ -d $home ]] && mount -t tmpfs -o mode=000,size=4k tmpfs "$home"
  done
  # PrivateTmp=yes; the state dir and socket in it (writable, as the
  # unit's StateDirectory= and RuntimeDirectory= are).
  mount -t tmpfs -o mode=1777 tmpfs /tmp
  mkdir /tmp/state
  if [[ $mode == cover-proc-sys ]]; then
    # What ProtectKernelTunables= does first of all.
    mount --bind /proc/sys /proc/sys
    mount -o remount,bind,ro /proc/sys
  fi
  # Proof that the root really is read-only here.
  if touch /sprout-test-should-not-exist 2>/dev/null; then
    rm -f /sprout-test-should-not-exist
    echo "RESULT: root is writable"
    return 1
  fi
  "$sproutd" --socket /tmp/sprout.sock --state-dir /tmp/state >/tmp/sproutd.log 2>&1 &
  local pid=$!
  local ready=false
  for _ in $(seq 1200); do
    if grep -q "sproutd: ready on" /tmp/sproutd.log; then ready=true; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if $ready; then
    local cli=(timeout 90 "$sprout" --socket /tmp/sprout.sock)
    if "${cli[@]}" deploy hello --runtime python3 --code "$examples/python/hello/handler.py" \
      >/tmp/cli.log 2>&1 &&
      "${cli[@]}" invoke hello --payload '{"name": "strict"}' >>/tmp/cli.log 2>&1 &&
      grep -q '"hello, strict"' /tmp/cli.log; then
      echo "RESULT: answered"
    else
      echo "RESULT: failed: $(grep -m1 -E 'ERROR|EPERM|error' /tmp/cli.log || head -1 /tmp/cli.log)"
    fi
  else
    echo "RESULT: sproutd not ready"
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local status=0
  wait "$pid" || status=$?
  echo "RESULT: sproutd exit $status"
  cat /tmp/sproutd.log /tmp/cli.log >&2 || true
}

run_in_namespace() {
  local mode=$1
  unshare --mount --propagation private \
    bash -c "$(declare -f inside); sproutd='$sproutd' sprout='$sprout' examples='$examples' agent='$agent' inside $mode" \
    >"$work/$mode.out" 2>"$work/$mode.err" || true
}

fail() {
  echo "FAIL: $*"
  for f in "$work"/*.out "$work"/*.err; do echo "--- $f"; cat "$f"; done
  exit 1
}

run_in_namespace plain
grep -q "^RESULT: answered$" "$work/plain.out" ||
  fail "sproutd does not work under ProtectSystem=strict, ProtectHome=yes, PrivateTmp=yes"
grep -q "^RESULT: sproutd exit 0$" "$work/plain.out" || fail "sproutd did not stop cleanly"
echo "ok: strict root, covered homes, private /tmp: hello answered, sproutd exit 0"

run_in_namespace cover-proc-sys
grep -q "^RESULT: failed: .*mount proc on /proc.*EPERM" "$work/cover-proc-sys.out" ||
  fail "with /proc/sys covered, deploy did not fail at 'mount proc ... EPERM'"
grep -q "^RESULT: sproutd exit 0$" "$work/cover-proc-sys.out" || fail "sproutd did not stop cleanly"
echo "ok: with /proc/sys covered (ProtectKernelTunables=): $(sed -n 's/^RESULT: failed: //p' "$work/cover-proc-sys.out")"

# A clean stop removed sproutd's cgroups; a leftover fails the test.
leftover=$(grep -ho "sprout\[[0-9]*\]" "$work"/*.err | sort -u | tr -dc '0-9\n' |
  while read -r pid; do
    # Other tests add and remove cgroups meanwhile: find may meet a
    # directory that vanished, which is no leftover of ours.
    find /sys/fs/cgroup -maxdepth 6 -type d -name "sproutd-$pid" 2>/dev/null || true
  done)
[[ -z $leftover ]] || fail "cgroups left behind: $leftover"
echo "PASS"
