#!/usr/bin/env bash
# Proves the DaemonSet's privilege claim on the real binaries.
#
# Renders deploy/kubernetes with kubectl and reads the capability set the
# sproutd container is granted (capabilities.add after drop: [ALL]). Then,
# as the pod would, it runs the base's entrypoint script (from the rendered
# ConfigMap) and through it the build's sproutd (private socket and state
# dir):
# - in a mount namespace of its own with the mounts a container runtime
#   gives an unprivileged container (simulate_container_mounts.sh: /proc's
#   masked and read-only paths, read-only cgroupfs);
# - under exactly the process capabilities the runtime gives such a
#   container: the granted set as bounding, permitted and effective set,
#   empty inheritable and ambient sets (containerd and CRI-O since
#   CVE-2022-24769).
# There a python3 function must deploy and answer, and a function that
# overruns its timeout must end as TIMEOUT. Then each granted capability is
# removed in turn and the same work must fail: a capability nothing breaks
# without is not needed and must not be granted. A last run without the
# entrypoint script must fail too, or the script (and the mounts it makes)
# would be a claim without proof.
#
# usage: check_daemonset_capabilities.sh KUSTOMIZE_DIR SPROUTD SPROUT EXAMPLES_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) when kubectl or setpriv is missing or
# when not run as root.
set -euo pipefail

readonly kustomize_dir=$1 sproutd=$2 sprout=$3 examples=$4
here=$(cd "$(dirname "$0")" && pwd)
readonly here
readonly python=/usr/bin/python3

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "sproutd switches to host ids and creates cgroups: run as root"
command -v kubectl >/dev/null || skip "kubectl (with kustomize) is not installed; it is not a Debian package"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"

work=$(mktemp -d /tmp/sprout-test-deploy-caps-XXXXXX)
daemon_pid=
cleanup() {
  stop_daemon || true
  rm -rf "$work"
  rmdir /run/sprout-test-deploy-proc-$$-* 2>/dev/null || true
}
trap cleanup EXIT
# A ctest timeout sends SIGTERM: clean up then too.
trap "exit 143" TERM INT

kubectl kustomize "$kustomize_dir" >"$work/rendered.yaml"
mapfile -t granted < <("$python" "$here/rendered_objects.py" capabilities "$work/rendered.yaml")
[[ ${#granted[@]} -gt 0 ]] || { echo "FAIL: the DaemonSet grants no capabilities"; exit 1; }
echo "the DaemonSet grants: ${granted[*]}"
"$python" "$here/rendered_objects.py" script sproutd-entrypoint.sh "$work/rendered.yaml" \
  >"$work/sproutd-entrypoint.sh"

# Kubernetes spells CAP_SYS_ADMIN as SYS_ADMIN; setpriv as sys_admin.
setpriv_caps() {
  local list=-all cap
  for cap in "$@"; do list+=",+${cap,,}"; done
  echo "$list"
}

# stop_process, remove_cgroups_of.
source "$(dirname "$0")/../support/sproutd_processes.sh"

stop_daemon() {
  [[ -n $daemon_pid ]] || return 0
  local pid=$daemon_pid
  daemon_pid=
  stop_process "$pid"
  remove_cgroups_of "$pid"
}

# What a node's sproutd must be able to do, as the platform
# sees it: deploy and invoke a python3 function (host ids, id maps, cgroups,
# namespaces), and end an invocation that overruns its timeout (a signal to
# a process of another uid). The sleeper sleeps past its 1 s timeout.
cat >"$work/sleeper.py" <<'PY'
import time


def handler(event, context):
    time.sleep(20)
    return {"slept": True}
PY
# The entrypoint makes the container's cgroupfs writable and mounts an
# uncovered proc at $SPROUT_VISIBLE_PROC for sproutd: a function must reach
# neither. It attacks both from its handler (writes a cgroup, reads the
# visible proc by its path and the container's processes through its own
# /proc) and answers what got through; the granted run asserts nothing did.
cat >"$work/prober.py" <<'PY'
import json
import os


def attempt(what, action):
    try:
        action()
        return [what]
    except OSError:
        return []


def handler(event, context):
    got = []
    got += attempt("listed " + event["visible_proc"], lambda: os.listdir(event["visible_proc"]))
    got += attempt("listed /sys/fs/cgroup", lambda: os.listdir("/sys/fs/cgroup"))
    got += attempt("made a cgroup", lambda: os.mkdir("/sys/fs/cgroup/escape"))
    others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) > 64]
    if others:
        got.append("saw processes " + " ".join(sorted(others)[:5]))
    return {"got_through": got}
PY
# A short drain, so that a run whose sandbox cannot be killed stops soon;
# host ids of its own, so that tests running beside it (ctest -j) never
# share a uid with it.
cat >"$work/sproutd.conf" <<CONF
drain_timeout_ms: 2000
host_id_first: $((3200000000 + (RANDOM % 1000) * 65536))
host_id_count: 65536
CONF

# Starts sproutd under CAPS (Kubernetes names) and runs the node's work.
# Returns 0 when every answer was the expected one. sproutd's output goes
# to $work/<label>.log, the CLI's to $work/<label>.cli.
deploy_and_invoke_under() {
  local label=$1
  shift
  local log=$work/$label.log cli=$work/$label.cli
  local state=$work/$label-state socket=$work/$label.sock
  mkdir -p "$state"
  : >"$cli"
  # The entrypoint execs $SPROUTD; ENTRYPOINT overrides it ("none": start
  # sproutd directly).
  local start=("/bin/sh" "${ENTRYPOINT:-$work/sproutd-entrypoint.sh}")
  if [[ ${ENTRYPOINT:-} == none ]]; then start=("$sproutd"); fi
  # unshare and the simulation exec, so $! ends up being sproutd itself.
  # Where the pod has it (/run), not under /tmp, which every sandbox's own
  # /tmp would hide from the prober below anyway.
  local visible_proc=/run/sprout-test-deploy-proc-$$-$label
  SPROUTD=${SPROUTD_WRAPPER:-$sproutd} SPROUT_VISIBLE_PROC=$visible_proc \
    unshare --mount --propagation private -- "$here/simulate_container_mounts.sh" \
    setpriv --bounding-set "$(setpriv_caps "$@")" --inh-caps -all --ambient-caps -all \
    -- "${start[@]}" --config "$work/sproutd.conf" --socket "$socket" \
    --state-dir "$state" >"$log" 2>&1 &
  daemon_pid=$!
  local ready=false
  for _ in $(seq 600); do
    if grep -q "sproutd: ready on" "$log"; then ready=true; break; fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  local cli_run=(timeout 60 "$sprout" --socket "$socket")
  local result=1
  if $ready &&
    "${cli_run[@]}" deploy hello --runtime python3 \
      --code "$examples/python/hello/handler.py" >>"$cli" 2>&1 &&
    "${cli_run[@]}" invoke hello --payload '{"name": "daemonset"}' >>"$cli" 2>&1 &&
    grep -q '"hello, daemonset"' "$cli" &&
    "${cli_run[@]}" deploy sleeper --runtime python3 --timeout-ms 1000 \
      --code "$work/sleeper.py" >>"$cli" 2>&1; then
    # Exit status 14 is TIMEOUT (docs/cli.md); anything else, a hang
    # included (timeout's 124), is a failure.
    local status=0
    timeout 15 "$sprout" --socket "$socket" invoke sleeper >>"$cli" 2>&1 || status=$?
    echo "invoke sleeper: exit status $status (14 is TIMEOUT, 124 no answer in 15 s)" >>"$cli"
    if [[ $status == 14 ]] && grep -q "^TIMEOUT" "$cli"; then result=0; fi
  fi
  if [[ $result == 0 && $label == granted ]]; then
    "${cli_run[@]}" deploy prober --runtime python3 --code "$work/prober.py" >>"$cli" 2>&1 &&
      "${cli_run[@]}" invoke prober \
        --payload "{\"visible_proc\": \"$visible_proc\"}" >"$work/probe.out" 2>&1 ||
      result=1
    echo "prober: $(cat "$work/probe.out")" >>"$cli"
    grep -q '"got_through": \[\]' "$work/probe.out" || result=1
  fi
  stop_daemon
  rm -rf "$state" "$socket"
  rmdir "$visible_proc" 2>/dev/null || true
  return $result
}

# The first line of a failed run's output that says why.
why_it_broke() {
  local why
  why=$(cat "$work/$1.log" "$work/$1.cli" 2>/dev/null |
    grep -m1 -E "EPERM|EACCES|EROFS|INTERNAL|INIT_ERROR|error|mount:|exit status" || true)
  echo "${why:-"(no output; see $work/$1.log)"}"
}

# The grant must suffice.
if ! deploy_and_invoke_under granted "${granted[@]}"; then
  echo "FAIL: sproutd cannot deploy and invoke under the DaemonSet's capabilities"
  cat "$work/granted.log" "$work/granted.cli"
  exit 1
fi
echo "ok: deploy and invoke work under exactly ${granted[*]}"

# And each capability of it must be needed.
failures=0
for cap in "${granted[@]}"; do
  rest=()
  for other in "${granted[@]}"; do [[ $other == "$cap" ]] || rest+=("$other"); done
  if deploy_and_invoke_under "without-$cap" "${rest[@]}"; then
    echo "FAIL: deploy and invoke still work without $cap: the DaemonSet grants more than it needs"
    failures=$((failures + 1))
  else
    echo "ok: without $cap it breaks: $(why_it_broke "without-$cap")"
  fi
done
# The entrypoint's remount needs SYS_ADMIN, so the run without it above
# stopped there. sproutd needs it as well: the entrypoint runs with the
# grant (plus SETPCAP, to drop a capability from the bounding set), and
# sproutd starts without SYS_ADMIN.
cat >"$work/sproutd-without-sys-admin.sh" <<SH
#!/bin/sh
exec setpriv --bounding-set -sys_admin,-setpcap --inh-caps -all --ambient-caps -all \\
  -- "$sproutd" "\$@"
SH
chmod +x "$work/sproutd-without-sys-admin.sh"
if SPROUTD_WRAPPER=$work/sproutd-without-sys-admin.sh \
  deploy_and_invoke_under sproutd-without-SYS_ADMIN "${granted[@]}" SETPCAP; then
  echo "FAIL: sproutd itself works without SYS_ADMIN (only the entrypoint needs it)"
  failures=$((failures + 1))
else
  echo "ok: sproutd itself without SYS_ADMIN breaks: $(why_it_broke sproutd-without-SYS_ADMIN)"
fi

# The entrypoint's mounts are needed too: without the script, and with each
# of its two steps taken out, the same work must fail.
sed '/mount -o remount,bind,rw/d' "$work/sproutd-entrypoint.sh" >"$work/without-cgroupfs-remount.sh"
sed '/mount -t proc/d' "$work/sproutd-entrypoint.sh" >"$work/without-visible-proc.sh"
for variant in without-cgroupfs-remount without-visible-proc; do
  if cmp -s "$work/sproutd-entrypoint.sh" "$work/$variant.sh"; then
    echo "FAIL: the entrypoint script no longer has the step that $variant takes out"
    failures=$((failures + 1))
  fi
done
for variant in without-entrypoint without-cgroupfs-remount without-visible-proc; do
  entrypoint=$work/$variant.sh
  [[ $variant == without-entrypoint ]] && entrypoint=none
  if ENTRYPOINT=$entrypoint deploy_and_invoke_under "$variant" "${granted[@]}"; then
    echo "FAIL: $variant still works in the simulated container: either the simulation is"
    echo "      not what a container runtime does, or that step is not needed"
    failures=$((failures + 1))
  else
    echo "ok: $variant it breaks: $(why_it_broke "$variant")"
  fi
done
exit $((failures > 0))
