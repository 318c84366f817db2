#!/usr/bin/env bash
# The child-path rule, checked: the files below run between clone (or fork)
# and exec or user code, in a child of a possibly multithreaded process. They
# must stay async-signal-safe: no allocation, no locks, no stdio, no
# protobuf. This script fails (printing file:line) if any of them
#   - includes <mutex>, <fstream>, <sstream>, <iostream>, <thread>,
#     <condition_variable>, <string>, <vector> (or another allocating or
#     locking standard header listed below), a protobuf header or a *.pb.h;
#   - includes a project header that is neither a child-path file nor on the
#     allow-list below (a project header can pull any of the above in);
#   - uses std::string, std::vector, std::to_string (or another allocating
#     standard type listed below), new, malloc (and kin), throw, or stdio's
#     formatting (printf and kin, strerror).
# Comments and string literals are not searched.
#
# Usage: scripts/check-child-path.sh [SOURCE_ROOT]   (default: this repository)
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# The child-path files. Their entry points: run_sandbox_child (the sandbox),
# run_exec_child (the runtime zygote's exec, the exec runtime's child),
# arrange_descriptors (also the function snapshot's own setup).
child_path_files=(
  sandbox/sandbox_child.h sandbox/sandbox_child.cc
  sandbox/descriptors.h sandbox/descriptors.cc
  sandbox/exec_child.h sandbox/exec_child.cc
  sandbox/mount_apply.h sandbox/mount_apply.cc
  sandbox/rlimit_apply.h sandbox/rlimit_apply.cc
  sandbox/capabilities.h sandbox/capabilities.cc
  sandbox/network.h sandbox/network.cc
  sandbox/child_report.h sandbox/child_report.cc
)

# Project headers a child-path file may include although they are not
# child-path files. Keep this short, and say why.
allowed_project_headers=(
  # retry_eintr() and UniqueFd: header-only, no allocation.
  base/unique_fd.h
  # load_seccomp_program() is the child-side entry of the seccomp policy
  # (compiling is parent side, before the clone).
  sandbox/seccomp_policy.h
  # setup_record::encode_failure() is the child-side entry of the setup
  # record (parsing is sproutd's side).
  protocol/setup_record.h
)

banned_std_headers='mutex|shared_mutex|fstream|sstream|iostream|istream|ostream|thread|condition_variable|future|string|vector|map|unordered_map|set|unordered_set|deque|list|functional|memory|regex|any|locale'
banned_std_names='string|wstring|vector|to_string|function|map|unordered_map|set|deque|list|shared_ptr|unique_ptr|make_shared|make_unique|stringstream|ostringstream|istringstream|mutex|lock_guard|unique_lock|scoped_lock|thread|condition_variable|cout|cerr|clog|endl|format'
banned_calls='malloc|calloc|realloc|free|strdup|strndup|asprintf|printf|fprintf|sprintf|snprintf|dprintf|vprintf|vfprintf|vsnprintf|puts|fputs|fopen|fclose|perror|strerror|syslog|exit|atexit'

failures=0
report() {  # file line reason code
  printf '%s:%s: %s: %s\n' "$1" "$2" "$3" "$4"
  failures=$((failures + 1))
}

is_allowed_project_header() {
  local header="$1" f
  for f in "${child_path_files[@]}" "${allowed_project_headers[@]}"; do
    [[ "$header" == "$f" ]] && return 0
  done
  return 1
}

# Prints "<line>\t<code without comments>\t<code without comments and
# string/char literals>" for every line of a C++ file.
strip_comments() {
  awk '
    BEGIN { in_block = 0 }
    {
      line = $0; n = length(line); kept = ""; bare = ""; i = 1
      while (i <= n) {
        c = substr(line, i, 1); c2 = substr(line, i, 2)
        if (in_block) { if (c2 == "*/") { in_block = 0; i += 2 } else i++; continue }
        if (c2 == "//") break
        if (c2 == "/*") { in_block = 1; i += 2; continue }
        if (c == "\"" || c == "\x27") {
          quote = c; literal = c; i++
          while (i <= n) {
            d = substr(line, i, 1)
            if (d == "\\") { literal = literal substr(line, i, 2); i += 2; continue }
            literal = literal d; i++
            if (d == quote) break
          }
          kept = kept literal; bare = bare quote quote
          continue
        }
        kept = kept c; bare = bare c; i++
      }
      gsub(/\t/, " ", kept); gsub(/\t/, " ", bare)
      printf "%d\t%s\t%s\n", NR, kept, bare
    }' "$1"
}

for file in "${child_path_files[@]}"; do
  path="$root/$file"
  if [[ ! -f "$path" ]]; then
    report "$file" 0 "listed child-path file is missing (renamed? update this list)" ""
    continue
  fi
  while IFS=$'\t' read -r number kept bare; do
    if [[ "$kept" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]*)\> ]]; then
      header="${BASH_REMATCH[1]}"
      if [[ "$header" =~ ^google/protobuf/ || "$header" == *.pb.h ]]; then
        report "$file" "$number" "protobuf header" "$kept"
      elif [[ "$header" =~ ^($banned_std_headers)$ ]]; then
        report "$file" "$number" "allocating or locking standard header <$header>" "$kept"
      fi
      continue
    fi
    if [[ "$kept" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]*)\" ]]; then
      header="${BASH_REMATCH[1]}"
      if [[ "$header" == *.pb.h || "$header" =~ ^google/protobuf/ ]]; then
        report "$file" "$number" "protobuf header" "$kept"
      elif ! is_allowed_project_header "$header"; then
        report "$file" "$number" "project header outside the child path and its allow-list" "$kept"
      fi
      continue
    fi
    if [[ "$bare" =~ std::($banned_std_names)([^[:alnum:]_]|$) ]]; then
      report "$file" "$number" "allocating or locking std::${BASH_REMATCH[1]}" "$kept"
    fi
    if [[ "$bare" =~ (^|[^[:alnum:]_])(new|throw)([^[:alnum:]_]|$) ]]; then
      report "$file" "$number" "'${BASH_REMATCH[2]}'" "$kept"
    fi
    if [[ "$bare" =~ (^|[^[:alnum:]_:.>])($banned_calls)[[:space:]]*\( ]]; then
      report "$file" "$number" "not async-signal-safe: ${BASH_REMATCH[2]}()" "$kept"
    fi
  done < <(strip_comments "$path")
done

if ((failures > 0)); then
  echo "check-child-path: $failures violation(s) in the child-path files of $root" >&2
  exit 1
fi
echo "check-child-path: ${#child_path_files[@]} child-path files clean"
