#!/usr/bin/env bash
# Runs the package's postinst, prerm and postrm through an install, an
# upgrade that keeps an administrator's "disabled", a remove and a purge,
# in a private mount namespace whose systemd directories (/etc/systemd/
# system, /lib/systemd/system, /var/lib, /run/systemd) are empty tmpfs
# mounts: the host's units and state are neither read nor touched, and
# everything vanishes with the namespace. Checks that the scripts enable
# and forget sproutd.service as dh_installsystemd's would, that they cope
# without systemd as PID 1 (this machine) and with a /run/systemd/system
# whose systemd does not answer, and that purge deletes /var/lib/sprout.
# usage: check_maintainer_scripts.sh DEB SCRATCH_DIR   (as root)
set -euo pipefail
deb=$1
scratch=$2
mkdir -p "$scratch"
fail() { echo "check_maintainer_scripts: FAIL: $*" >&2; exit 1; }
dpkg-deb -e "$deb" "$scratch/control"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/sproutd.service > "$scratch/sproutd.service"

unshare --mount --propagation private bash -s "$scratch" <<'IN_NAMESPACE' || fail "see above"
set -euo pipefail
scratch=$1
control=$scratch/control
fail() { echo "check_maintainer_scripts: FAIL: $*" >&2; exit 1; }
for dir in /etc/systemd/system /lib/systemd/system /var/lib /run/systemd; do
  mount -t tmpfs -o mode=0755 sprout-test-scripts "$dir"
done
cp "$scratch/sproutd.service" /lib/systemd/system/
# What dpkg exports to maintainer scripts; deb-systemd-helper refuses to
# act without it.
run() {
  local script=$1
  shift
  DPKG_MAINTSCRIPT_PACKAGE=sprout DPKG_MAINTSCRIPT_NAME=$script DPKG_MAINTSCRIPT_ARCH=amd64 \
    DPKG_ROOT= "$control/$script" "$@"
}
wants=/etc/systemd/system/multi-user.target.wants/sproutd.service
mask=/etc/systemd/system/sproutd.service

echo "check_maintainer_scripts: first install, no systemd running"
run postinst configure ""
[[ $(readlink "$wants") == /lib/systemd/system/sproutd.service ]] || fail "postinst did not enable sproutd.service"

echo "check_maintainer_scripts: upgrade after the administrator disabled it"
# As an administrator would; systemctl edits the links itself when
# systemd does not run.
systemctl disable sproutd.service 2>/dev/null
[[ ! -e $wants ]] || fail "disable left $wants"
run postinst configure 0.0.1-1
[[ ! -e $wants && ! -L $wants ]] || fail "an upgrade re-enabled a disabled sproutd.service"
systemctl enable sproutd.service 2>/dev/null

echo "check_maintainer_scripts: a systemd directory whose systemd does not answer"
mkdir /run/systemd/system
run postinst configure 0.0.1-1 || fail "postinst failed when systemctl cannot reach systemd"
run prerm remove || fail "prerm failed when systemctl cannot reach systemd"
rmdir /run/systemd/system

echo "check_maintainer_scripts: remove, then purge"
run prerm remove
rm /lib/systemd/system/sproutd.service  # what dpkg does between prerm and postrm
run postrm remove
[[ $(readlink "$mask") == /dev/null ]] || fail "postrm remove did not mask sproutd.service"
mkdir -p /var/lib/sprout/functions
touch /var/lib/sprout/events.db
run postrm purge
[[ ! -e /var/lib/sprout ]] || fail "postrm purge left /var/lib/sprout"
[[ ! -e $mask && ! -L $mask ]] || fail "postrm purge left the mask"
[[ ! -e $wants && ! -L $wants ]] || fail "postrm purge left $wants"
[[ -z $(ls -A /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null) ]] ||
  fail "postrm purge left deb-systemd-helper state: $(ls -A /var/lib/systemd/deb-systemd-helper-enabled)"
IN_NAMESPACE
if grep -q sprout-test-scripts /proc/self/mountinfo; then fail "a tmpfs leaked out of the namespace"; fi
echo "check_maintainer_scripts: passed"
