#!/usr/bin/env bash
# Proves that scripts/check-child-path.sh can fail: on a temporary copy of
# sandbox/, each violation below is added to a child-path file in turn, and
# the check must fail naming file:line; a clean copy, and the same words in
# comments and string literals, must pass; a listed file that disappeared
# must fail.
# Usage: check_child_path_test.sh CHECK_SCRIPT SOURCE_ROOT
set -euo pipefail

check="$1"
source_root="$2"
work="$(mktemp -d /tmp/sprout-child-path-XXXXXX)"
trap 'rm -rf "$work"' EXIT
failed=0

fresh_copy() {
  rm -rf "$work/sandbox"
  cp -r "$source_root/sandbox" "$work/sandbox"
}

expect_pass() {  # description
  if ! output="$("$check" "$work" 2>&1)"; then
    echo "FAIL: $1: the check failed on a clean file:"
    echo "$output"
    failed=1
  fi
}

expect_failure_at() {  # description file line
  if output="$("$check" "$work" 2>&1)"; then
    echo "FAIL: $1: the check passed"
    failed=1
  elif ! grep -q "^$2:$3: " <<<"$output"; then
    echo "FAIL: $1: the check failed without naming $2:$3:"
    echo "$output"
    failed=1
  else
    echo "ok: $1 -> $(grep "^$2:$3: " <<<"$output" | head -1)"
  fi
}

fresh_copy
expect_pass "clean copy"

target=sandbox/mount_apply.cc
fresh_copy
printf '%s\n' '// std::string, new, throw, malloc( and #include <mutex> in a comment' \
  '/* std::vector' '   throw */ static const char* kWords = "std::string new throw malloc(";' \
  >>"$work/$target"
expect_pass "words in comments and string literals"

violations=(
  '#include <mutex>'
  '#include <fstream>'
  '#include <sstream>'
  '#include <iostream>'
  '#include <thread>'
  '#include <condition_variable>'
  '#include <string>'
  '#include <google/protobuf/message.h>'
  '#include "sandbox/proto/sandbox_spec.pb.h"'
  '#include "base/errors.h"'
  'static std::string g_name;'
  'static std::vector<int> g_numbers;'
  'static auto g_text = std::to_string(1);'
  'static int* g_number = new int(1);'
  'static void* g_block = malloc(16);'
  'static void fail_hard() { throw 1; }'
)
for violation in "${violations[@]}"; do
  fresh_copy
  line=$(($(wc -l <"$work/$target") + 1))
  printf '%s\n' "$violation" >>"$work/$target"
  expect_failure_at "$violation" "$target" "$line"
done

fresh_copy
rm "$work/sandbox/network.cc"
expect_failure_at "a listed file renamed away" sandbox/network.cc 0

exit "$failed"
