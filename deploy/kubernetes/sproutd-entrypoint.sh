#!/bin/sh
# The sproutd container's entrypoint (docs/deploy.md, "What the container
# needs"). A container runtime prepares an unprivileged container's mounts
# for a workload that creates no containers of its own; sproutd does, and
# two of those preparations stop it:
#
# 1. cgroupfs is mounted read-only. sproutd creates its leaves under its own
#    cgroup (<own cgroup>/sproutd-<pid>/), which here is the container's:
#    the mounts are made writable again (per mount point only: a bind
#    remount changes no superblock), so the leaves stay inside the pod's
#    cgroup and are charged to it. Mounting the host's /sys/fs/cgroup
#    instead would place them outside the pod.
# 2. /proc has masked and read-only paths (/proc/sys, /proc/kcore, ...).
#    The kernel lets a process in a user namespace mount a new proc (every
#    snapshot and sandbox does, for its own pid namespace) only when a proc
#    mount without such covers is already visible in its mount namespace
#    (fs/namespace.c, mount_too_revealing). A fresh proc of the container's
#    own pid namespace is mounted at $SPROUT_VISIBLE_PROC, with nosuid,
#    nodev and noexec, which the sandboxes' proc mounts carry too. Functions
#    never see it: their trees are built afresh.
#
# Both need CAP_SYS_ADMIN and an AppArmor profile that allows mount, which
# sproutd needs anyway. Then sproutd replaces this shell, so SIGTERM from
# the kubelet reaches it directly and starts its drain.
set -eu

sproutd=${SPROUTD:-/usr/sbin/sproutd}
visible_proc=${SPROUT_VISIBLE_PROC:-/run/sproutd-proc}

# Field 5 of mountinfo is the mount point, the field after " - " the type.
cgroup_mounts=$(awk '{
  for (i = 7; i <= NF; i++) if ($i == "-") break
  if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") print $5
}' /proc/self/mountinfo)
for mount_point in $cgroup_mounts; do
  case $mount_point in
    /sys/fs/cgroup | /sys/fs/cgroup/*) mount -o remount,bind,rw "$mount_point" ;;
  esac
done

mkdir -p "$visible_proc"
mountpoint -q "$visible_proc" || mount -t proc -o nosuid,nodev,noexec proc "$visible_proc"

exec "$sproutd" "$@"
