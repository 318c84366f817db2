# shellcheck shell=bash
# Shell helpers for test scripts that start sproutd themselves; sourced:
#   source "$(dirname "$0")/../support/sproutd_processes.sh"
# Each leaves nothing behind, whatever state the process was left in.

# stop_process PID: SIGTERM (sproutd drains and removes its cgroups), then
# SIGKILL if it is still there after 20 s; reaped when it is our child.
stop_process() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 400); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# remove_cgroups_of PID: after a killed or refused run, what a clean stop
# would have removed: sproutd-PID/ in each hierarchy, its processes killed
# first, then its directories, deepest first (retried while the kernel
# still counts the killed processes).
remove_cgroups_of() {
  local pid=$1 dir leaf
  while read -r dir; do
    while read -r leaf; do
      if [[ -f $leaf/cgroup.procs ]]; then
        xargs -r kill -KILL <"$leaf/cgroup.procs" 2>/dev/null || true
      fi
    done < <(find "$dir" -depth -type d)
    for _ in $(seq 100); do
      find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d $dir ]] || break
      sleep 0.1
    done
  done < <(find /sys/fs/cgroup -maxdepth 6 -type d -name "sproutd-$pid" 2>/dev/null)
}
