#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang 16, -DSPROUT_FUZZ=ON, ASan and
# UBSan) and runs each for a bounded time from its seed corpus
# (fuzz/corpus/<target>/), then prints the executions and any crash per
# target. Fails if a target crashes, hangs or breaks one of its invariants.
#
#   scripts/run-fuzz.sh [SECONDS_PER_TARGET]     (default 60; run as root)
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_TARGETS (default:
# all four), FUZZ_JOBS (targets run at once, default: the number of cores).
# The corpus is copied to a scratch directory, so the repository is never
# modified; inputs that grow coverage are discarded with it. A crashing
# input is kept in $FUZZ_BUILD_DIR/fuzz-artifacts/<target>/ and reproduced
# with: $FUZZ_BUILD_DIR/fuzz/<target> <that file>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
read -r -a targets <<<"${FUZZ_TARGETS:-fuzz_frame fuzz_request_validation fuzz_code_bundle fuzz_daemon_config fuzz_event_inputs}"
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi

"$root/scripts/install-deps.sh"
start=$(date +%s)
# Debian 12's clang 14 cannot compile <expected>; clang 16 can
# (fuzz/instrumentation.cmake).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPROUT_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 >/dev/null
cmake --build "$build" --target fuzzers -j "$(nproc)"
echo "run-fuzz: built in $(($(date +%s) - start)) s"

scratch=$(mktemp -d /tmp/sprout-fuzz-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# Per input: -timeout (a hang is a failure), -rss_limit_mb (so is runaway
# memory). -max_len: a bundle or a request frame may be large; 64 KiB lets
# the fuzzer build multi-entry tars and long fields, still fast.
declare -A max_len=([fuzz_frame]=65536 [fuzz_request_validation]=65536
  [fuzz_code_bundle]=65536 [fuzz_daemon_config]=16384 [fuzz_event_inputs]=16384)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
symbolizer=$(command -v llvm-symbolizer-16 || command -v llvm-symbolizer || true)
[[ -n $symbolizer ]] && export ASAN_SYMBOLIZER_PATH=$symbolizer

run_target() {
  local target=$1 dir=$scratch/$1
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
  cp -r "$root/fuzz/corpus/$target/." "$dir/corpus/"
  # Its own TMPDIR and working directory: whatever a target writes stays in
  # the scratch and goes with it.
  (cd "$dir" && TMPDIR=$dir/tmp "$build/fuzz/$target" \
    -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len="${max_len[$target]:-65536}" \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "$dir/corpus" >"$dir/log" 2>&1)
}

failed=()
pids=()
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_target "$target" &
  pids+=($!)
done
status=()
for i in "${!targets[@]}"; do
  if wait "${pids[$i]}"; then status+=(0); else status+=($?); fi
done

printf '%-26s %12s %8s %8s  %s\n' target executions exec/s corpus result
for i in "${!targets[@]}"; do
  target=${targets[$i]}
  dir=$scratch/$target
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  [[ -n $execs ]] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  units=$(sed -n 's/^#[0-9]*.*corp: \([0-9]*\).*/\1/p' "$dir/log" | tail -1)
  if ((status[i] == 0)); then
    result=ok
  else
    result="FAILED (exit ${status[i]})"
    failed+=("$target")
  fi
  printf '%-26s %12s %8s %8s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "${units:-?}" "$result"
done

for target in "${failed[@]}"; do
  dir=$scratch/$target
  keep=$build/fuzz-artifacts/$target
  mkdir -p "$keep"
  cp -r "$dir/artifacts/." "$keep/" 2>/dev/null || true
  echo
  echo "=== $target: the end of its log; crashing inputs kept in $keep"
  grep -v -E '^#[0-9]+' "$dir/log" | tail -60
  ls -l "$keep"
done

echo "run-fuzz: $seconds s per target, $(($(date +%s) - start)) s in all"
if ((${#failed[@]})); then
  echo "run-fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run-fuzz: no crash in ${#targets[@]} targets"
