#!/usr/bin/env bash
# Smoke run of sprout-event-bench: a few events of every source (async,
# schedule, file trigger, NATS JetStream); checks that every event sent was
# delivered, that every table row is well-formed, and that the benchmark left
# no temporary directory behind. No timing assertions.
set -euo pipefail
bench=$1
out=$(mktemp -d /tmp/sprout-test-event-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT
fail() { echo "check_event_bench: $*" >&2; exit 1; }
before=$(ls -d /tmp/sprout-event-bench-* 2>/dev/null | sort || true)
status=0
"$bench" --events 5 --paced 3 --pace-ms 20 --fires 2 --batch 3 > "$out/stdout" 2> "$out/stderr" || status=$?
[[ $status -eq 0 ]] || { cat "$out/stdout" "$out/stderr"; fail "exit status $status"; }
cat "$out/stdout"
grep -qE "^machine probes \(medians\): page fault \(first write\) [0-9.]+ us" "$out/stdout" || fail "machine probes"
latency='([0-9.-]+ / [0-9.-]+|-)'
row() {  # source phase events
  grep -qE "^$1 +$2 +$3 +$3 +[1-9][0-9]* +0 +$latency +[0-9.-]+ / [0-9.-]+ +[0-9.-]+ / [0-9.-]+ +([0-9.]+|-)$" "$out/stdout" ||
    fail "no well-formed row '$1 $2' with $3 of $3 delivered"
}
for source in async file nats; do
  row "$source" paced 3
  row "$source" burst 5
done
row schedule 'rate\(1s\)' 2
grep -qE "^async +paced +3 +3 +3 +0 +[0-9.]+ / [0-9.]+ " "$out/stdout" || fail "async enqueue latency"
grep -qE "^(async|file|nats) +burst .* [0-9.]+$" "$out/stdout" || fail "burst throughput"
[[ $(grep -cE "^  " "$out/stdout" || true) -eq 0 ]] || fail "a source reported an error"
after=$(ls -d /tmp/sprout-event-bench-* 2>/dev/null | sort || true)
[[ $before == "$after" ]] || fail "temporary directory left behind"
echo "check_event_bench: output well-formed, every event delivered"
