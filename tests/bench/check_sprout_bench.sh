#!/usr/bin/env bash
# Smoke run of sprout-bench: a few invocations of every workload, mode and
# installed peer, a short throughput and density run, two deployed functions
# (--functions); checks that the output is well-formed and error-free, and
# that deleting the functions left no process behind. No timing assertions.
set -euo pipefail
bench=$1
out=$(mktemp -d /tmp/sprout-test-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT
"$bench" --start-daemon --invocations 6 --warmup 1 --pace-ms 5 --throughput 1 --concurrency 2 --density 8 \
  --functions 2 --out "$out/results" > "$out/stdout" 2> "$out/stderr"
cat "$out/stdout"
fail() { echo "check_sprout_bench: $*" >&2; exit 1; }
for workload in hello imports thumbnail native; do
  grep -q "^workload $workload " "$out/stdout" || fail "no table for $workload"
  [[ -s $out/results/cdf-$workload.svg ]] || fail "no CDF plot for $workload"
done
# Every mode and peer is either measured or named with a reason.
for mode in sprout-cold sprout-pooled plain bwrap runc crun criu; do
  [[ $(grep -cE "^  $mode +([0-9]|not measured)" "$out/stdout") -eq 4 ]] || fail "mode $mode missing from a table"
done
# The errors column (7th) of every measured row is 0.
awk '/^  (sprout-[a-z]+|plain|bwrap|runc|crun) +[0-9]/ { if ($7 != 0) { print "errors in: " $0; bad = 1 } } END { exit bad }' \
  "$out/stdout" || fail "a measured mode had errors"
grep -qE "^machine probes \(medians\): page fault \(first write\) [0-9.]+ us, copy-on-write fault [0-9.]+ us, fork\+exit [0-9.]+ us" "$out/stdout" || fail "machine probes"
grep -qE "^page_fault,[1-9][0-9]*$" "$out/results/probes.csv" || fail "probes.csv"
grep -qE "^  sprout-cold costs per invocation \(medians, .*\): [1-9][0-9]* minor \+ [0-9]+ major page faults, [0-9]+ context switches$" "$out/stdout" || fail "cost counters"
grep -qE "^throughput hello \(python3\): [0-9]+ fresh sandboxes/s .* 0 errors" "$out/stdout" || fail "python3 throughput"
grep -qE "^throughput native \(native\): [0-9]+ fresh sandboxes/s .* 0 errors" "$out/stdout" || fail "native throughput"
grep -qE "^density: 8 of 8 sandboxes sleeping" "$out/stdout" || fail "density"
grep -qE "^density: 8 of 8 invocations answered OK" "$out/stdout" || fail "density answers"
grep -qE "^functions: deploy \(client side\): first [0-9.]+ ms; the other 1: .*; 0 failed$" "$out/stdout" || fail "functions deploys"
grep -qE "^functions: [0-9.-]+ MiB PSS per function" "$out/stdout" || fail "functions memory"
grep -qE "^functions: first invocation of each: 2 of 2 answered OK" "$out/stdout" || fail "functions answers"
grep -qE "^functions: deleted 2 of 2 .* nothing left behind" "$out/stdout" || fail "functions left processes behind"
/usr/bin/python3.11 - "$out/results" <<'PY' || fail "malformed CSV or SVG"
import csv, glob, sys, xml.etree.ElementTree as ET
rows = list(csv.DictReader(open(sys.argv[1] + "/samples.csv")))
assert rows and all(r["ok"] == "1" for r in rows), "failed samples in the CSV"
assert {"sprout-cold", "sprout-pooled", "plain"} <= {r["mode"] for r in rows}
assert sum(r["mode"] == "functions-own-invoke" for r in rows) == 2, "functions rows in the CSV"
runs = list(csv.DictReader(open(sys.argv[1] + "/functions.csv")))
assert len(runs) == 1 and runs[0]["deployed"] == "2" and runs[0]["invoked_ok"] == "2", "functions.csv"
for svg in glob.glob(sys.argv[1] + "/cdf-*.svg"):
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and len(root.findall("{http://www.w3.org/2000/svg}polyline")) >= 3, svg
PY
echo "check_sprout_bench: output well-formed, no errors"
