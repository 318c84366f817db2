#!/bin/sh
# Runs a command with the mounts a container runtime gives an unprivileged
# container (runc's defaults, which containerd and CRI-O pass on for a pod
# without privileged: true): /proc's read-only and masked paths, and a
# read-only cgroupfs. Run it in a mount namespace of its own (unshare
# --mount --propagation private): it changes the mounts it runs in.
#
# usage: simulate_container_mounts.sh COMMAND [ARG]...
set -eu

for path in /proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger; do
  [ -e "$path" ] || continue
  mount --bind "$path" "$path"
  mount -o remount,bind,ro "$path"
done
for path in /proc/acpi /proc/asound /proc/kcore /proc/keys /proc/latency_stats \
    /proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi; do
  if [ -d "$path" ]; then
    mount -t tmpfs -o ro,nosuid,nodev,noexec tmpfs "$path"
  elif [ -e "$path" ]; then
    mount --bind /dev/null "$path"
  fi
done
cgroup_mounts=$(awk '{
  for (i = 7; i <= NF; i++) if ($i == "-") break
  if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") print $5
}' /proc/self/mountinfo)
for mount_point in $cgroup_mounts; do
  mount -o remount,bind,ro "$mount_point"
done

exec "$@"
