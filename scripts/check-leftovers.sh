#!/usr/bin/env bash
# Fails if tests left sprout processes, mounts or cgroups on this machine.
set -u
left=0
# Zombies are already dead: a test that kills sproutd on purpose leaves its
# children to init, which reaps them in its own time.
# The brokers and scrapers that tests start (nats-server, prometheus) are
# theirs to stop too; a system service of the same name (Debian's
# nats-server unit) runs as its own user, not root, and is not counted.
procs=$(ps -eo pid=,stat=,user=,args= |
  awk '$2 !~ /^Z/ && ($4 ~ /(^|\/)sprout/ || ($3 == "root" && $4 ~ /(^|\/)(nats-server|prometheus)$/))')
if [[ -n $procs ]]; then
  echo "leftover processes:"; echo "$procs"; left=1
fi
if grep -q sprout /proc/mounts; then
  echo "leftover mounts:"; grep sprout /proc/mounts; left=1
fi
cgroups=$(find /sys/fs/cgroup -maxdepth 6 -type d -name 'sprout*' 2>/dev/null)
if [[ -n $cgroups ]]; then
  echo "leftover cgroups:"; echo "$cgroups"; left=1
fi
tmp=$(find /tmp -maxdepth 1 -name 'sprout-test-*' 2>/dev/null)
if [[ -n $tmp ]]; then
  echo "leftover temporary directories:"; echo "$tmp"; left=1
fi
if ((left)); then exit 1; fi
echo "check-leftovers: no processes, mounts, cgroups or temporary files left"
