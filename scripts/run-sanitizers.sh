#!/usr/bin/env bash
# Builds sprout and its test suite with AddressSanitizer and
# UndefinedBehaviorSanitizer (GCC, -DSPROUT_SANITIZE=ON: -fsanitize=address,
# undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined, in a
# build directory of its own) and runs the CTest suite under them. Fails on
# a failed test, and on any sanitizer report of any process the tests start
# (sproutd, sprout, sprout-agent, sprout-bench, ...): reports go to files
# (log_path), since those processes' stderr is often not a test's output.
#
#   scripts/run-sanitizers.sh            (run as root, like the suite)
#
# Environment: SANITIZE_BUILD_DIR (default build-asan), SANITIZE_LABELS_EXCLUDE
# (a ctest -LE regex, default below), SANITIZE_TESTS_EXCLUDE (a ctest -E
# regex, default below).
#
# What is not instrumented or not run, and why (the minimum that works):
# - CTest labels `lint` (clang-tidy over the sources: instrumentation
#   changes nothing; the main suite runs it) and `soak` (Soak.Short: 2000
#   calls against functions with tight memory limits and deadlines, see the
#   next point; the main suite runs it), `packaging` (it packages whatever
#   binaries the build holds: instrumented ones would make a package that
#   depends on libasan, which is not what it checks) and `deploy` (it runs
#   sproutd with exactly six capabilities and no CAP_SYS_PTRACE in some
#   runs, where LeakSanitizer's exit-time check cannot attach; the code it
#   runs, deploy and invoke, runs instrumented in the e2e tests).
# - Three tests whose functions run at the edge of a small memory limit, which
#   the instrumented agent's own footprint (ASan's allocator, shadow and
#   quarantine, on top of embedded Python) already exceeds, so their init
#   fails with Runtime.OutOfMemory before the test starts:
#   TenantIsolationTest.CrossTenantMemoryScanDoesNotFindAnotherTenantsSecret
#   (128 MiB), CgroupLimitsTest.SnapshotLeafCarriesTheFunctionsLimitsAndStopsAForkBomb
#   (96 MiB); Soak.Short (above).
# - InvocationFailure.FailedPollIsAnInternalErrorWithItsErrnoAndKillsTheSandbox:
#   it lowers RLIMIT_NOFILE so that poll() fails; UBSan's vptr check then
#   cannot open the pipe it uses to probe memory, and reports every checked
#   object as having an invalid vptr (a false report).
# - tests/sandbox/sandbox_probe, the security tests' attacker, is built
#   without instrumentation (top-level CMakeLists.txt): it runs inside a
#   sandbox with an empty environment, where LeakSanitizer's exit-time check
#   needs ptrace, which the sandbox's seccomp filter denies, so every probe
#   would exit 1. It links nothing of sprout.
# Everything else runs instrumented, sprout-agent included: inside sandboxes
# it gets no ASAN_OPTIONS (a zygote's environment is fixed), and runs with
# the defaults, which work there because the agent leaves by _exit() or a
# signal, never through LeakSanitizer's exit-time check.
#
# Options: detect_leaks stays on for the test binaries, sproutd and the CLI
# (their children leave by _exit() after fork, which skips the leak check,
# so no false report comes from them); UBSan prints the stack and halts on
# the first report (the build has -fno-sanitize-recover=undefined too).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SANITIZE_BUILD_DIR:-$root/build-asan}
start=$(date +%s)

"$root/scripts/install-deps.sh"
# -O1 -g1: line tables are all a report needs, and the build is much faster
# than -O2 -g with instrumentation.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPROUT_SANITIZE=ON \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" >/dev/null
cmake --build "$build" -j "$(nproc)"
built=$(date +%s)
echo "run-sanitizers: built in $((built - start)) s"

reports=$(mktemp -d /tmp/sprout-sanitizer-reports-XXXXXX)
trap 'rm -rf "$reports"' EXIT
export ASAN_OPTIONS=detect_leaks=1:log_path=$reports/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan
export LSAN_OPTIONS=log_path=$reports/lsan
default_tests_exclude='^(TenantIsolationTest\.CrossTenantMemoryScanDoesNotFindAnotherTenantsSecret|CgroupLimitsTest\.SnapshotLeafCarriesTheFunctionsLimitsAndStopsAForkBomb|InvocationFailure\.FailedPollIsAnInternalErrorWithItsErrnoAndKillsTheSandbox)$'
status=0
(cd "$build" && ctest --output-on-failure -j 2 --timeout 600 \
  -LE "${SANITIZE_LABELS_EXCLUDE:-^(lint|soak|packaging|deploy)$}" \
  -E "${SANITIZE_TESTS_EXCLUDE:-$default_tests_exclude}") 2>&1 | tee "$reports/ctest.log" || status=1
# Some reports reach a test's output instead of log_path (UBSan's, from a
# test binary): those count too.
if grep -E "runtime error:|ERROR: (AddressSanitizer|LeakSanitizer)" "$reports/ctest.log" >"$reports/in-output.txt"; then
  echo "run-sanitizers: sanitizer reports in the tests' output:"
  cat "$reports/in-output.txt"
  status=1
fi
rm -f "$reports/ctest.log" "$reports/in-output.txt"
tested=$(date +%s)
echo "run-sanitizers: tests ran in $((tested - built)) s"

shopt -s nullglob
found=("$reports"/*)
if ((${#found[@]})); then
  echo "run-sanitizers: ${#found[@]} sanitizer report(s):"
  for report in "${found[@]}"; do
    echo "=== $(basename "$report")"
    head -80 "$report"
  done
  status=1
fi
"$root/scripts/check-leftovers.sh" || status=1
if ((status)); then
  echo "run-sanitizers: FAILED" >&2
  exit 1
fi
echo "run-sanitizers: every test passed, no sanitizer report ($(($(date +%s) - start)) s in all)"
