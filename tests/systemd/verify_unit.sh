#!/usr/bin/env bash
# The systemd unit passes systemd's own checks, offline (PID 1 need not be
# systemd):
#   1. `systemd-analyze verify` of a copy whose ExecStart= is the build's
#      sproutd prints nothing at all (a warning is a failure too);
#   2. the same check does catch a broken copy (an unknown directive and a
#      missing binary), so step 1 cannot pass for want of checking;
#   3. `systemd-analyze security --offline` stays at or below the exposure
#      documented in docs/systemd.md (hardening does not silently regress).
#
# usage: verify_unit.sh UNIT_FILE SPROUTD
# Exit 77 (ctest SKIP_RETURN_CODE) without systemd-analyze.
set -euo pipefail

readonly unit=$1
# systemd wants an absolute ExecStart path.
sproutd=$(realpath "$2")
readonly sproutd
# docs/systemd.md quotes this figure; lower it when hardening improves.
readonly max_exposure=6.0

command -v systemd-analyze >/dev/null || {
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
}

work=$(mktemp -d /tmp/sprout-test-systemd-verify-XXXXXX)
trap 'rm -rf "$work"' EXIT

# The unit names /usr/sbin/sproutd, which a build machine need not have;
# verify checks that ExecStart's binary exists and is executable.
copy=$work/sproutd.service
sed "s#^ExecStart=/usr/sbin/sproutd #ExecStart=$sproutd #" "$unit" >"$copy"
grep -q "^ExecStart=$sproutd --config /etc/sprout/sproutd.conf\$" "$copy" || {
  echo "FAIL: no 'ExecStart=/usr/sbin/sproutd --config /etc/sprout/sproutd.conf' line in $unit"
  exit 1
}

# --man=no: Documentation=man:sproutd(8) is installed by the .deb, not here.
verify() { systemd-analyze verify --man=no "$1" 2>&1; }

output=$(verify "$copy") || {
  echo "FAIL: systemd-analyze verify exited non-zero:"
  echo "$output"
  exit 1
}
if [[ -n $output ]]; then
  echo "FAIL: systemd-analyze verify is not clean:"
  echo "$output"
  exit 1
fi
echo "verify: clean"

broken=$work/broken/sproutd.service
mkdir -p "$(dirname "$broken")"
sed -e "s#^ExecStart=$sproutd #ExecStart=$work/no-such-sproutd #" \
  -e 's#^\[Service\]$#[Service]\nProtectEverything=yes#' "$copy" >"$broken"
broken_output=$(verify "$broken") || true
for expected in "ProtectEverything" "no-such-sproutd"; do
  if ! grep -q "$expected" <<<"$broken_output"; then
    echo "FAIL: systemd-analyze verify did not report '$expected' in a broken copy:"
    echo "$broken_output"
    exit 1
  fi
done
echo "verify: a broken copy is reported"

security=$(systemd-analyze security --offline=true --man=no "$copy" 2>&1) || {
  echo "FAIL: systemd-analyze security failed:"
  echo "$security"
  exit 1
}
exposure=$(sed -n 's/^.*Overall exposure level for [^:]*: \([0-9.]*\).*$/\1/p' <<<"$security")
[[ -n $exposure ]] || {
  echo "FAIL: no overall exposure level in:"
  echo "$security"
  exit 1
}
echo "security: exposure $exposure (at most $max_exposure)"
if ! awk -v got="$exposure" -v max="$max_exposure" 'BEGIN { exit !(got <= max) }'; then
  echo "FAIL: exposure $exposure is above $max_exposure; the findings:"
  grep '✗' <<<"$security" || true
  exit 1
fi
echo "PASS"
