#!/usr/bin/env bash
# Installs exactly the Debian 12 packages that sprout's build, tests and
# benchmarks need. Idempotent and non-interactive; run as root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libseccomp-dev libcap-dev libboost-dev
  libprotobuf-dev protobuf-compiler
  python3.11 libpython3.11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 procps
  clang-tidy
  # scripts/run-fuzz.sh: clang 16 (Debian 12's clang 14 cannot compile
  # <expected>), libclang-rt-16-dev for the libFuzzer, ASan and UBSan
  # runtimes, llvm-16 for llvm-symbolizer in sanitizer reports.
  clang-16 libclang-rt-16-dev llvm-16
  bubblewrap runc crun criu python3-pil
  # The HTTP front door (docs/http.md): OpenSSL for SigV4's HMAC-SHA256,
  # zlib to inflate .zip code bundles; the real AWS clients and Prometheus
  # that its e2e tests drive (awscli, python3-boto3, prometheus/promtool).
  libssl-dev zlib1g-dev awscli python3-boto3 prometheus curl
  # Event sources (docs/events.md): SQLite for the durable queue, schedules,
  # triggers and history; NATS JetStream's C client and the real server its
  # tests start on loopback; tzdata for schedules' time zones.
  libsqlite3-dev libnats-dev nats-server tzdata
  # Packaging (docs/deploy.md): CPack's .deb with its shared-library
  # dependencies worked out by dpkg-shlibdeps (dpkg-dev), man pages made
  # from the --help texts (help2man), Debian's lintian over the package,
  # and systemd-analyze to verify the unit.
  dpkg-dev fakeroot help2man lintian systemd
  # deploy tests: reading the rendered Kubernetes objects.
  python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#packages[@]} packages present"
