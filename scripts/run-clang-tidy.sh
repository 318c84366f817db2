#!/usr/bin/env bash
# clang-tidy 14 over the tree's C++ sources with the checks of .clang-tidy;
# exits non-zero when any of them fires (WarningsAsErrors) or a file does not
# parse.
#
#   scripts/run-clang-tidy.sh [BUILD_DIR] [FILE.cc ...]
#
# BUILD_DIR (default: build/) must be a configured and built tree: the
# generated *.pb.h are included. Its compile_commands.json is used (the
# tree is reconfigured with CMAKE_EXPORT_COMPILE_COMMANDS=ON when it has
# none). Without FILEs: every .cc of the tree that the build compiles; with
# FILEs (changed files, say): those only. JOBS (default 2) files at a time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [[ $# -gt 0 && -d $1 ]]; then
  build=$(cd "$1" && pwd)
  shift
fi
jobs=${JOBS:-2}
tidy=${CLANG_TIDY:-clang-tidy-14}
command -v "$tidy" >/dev/null || tidy=clang-tidy
if ! command -v "$tidy" >/dev/null; then
  echo "run-clang-tidy: clang-tidy (14) is not installed (apt-get install clang-tidy)" >&2
  exit 2
fi

if [[ ! -f $build/compile_commands.json ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
fi

# The sources to check: those given, or every .cc of the tree in the
# compilation database (not the build's generated ones).
if [[ $# -gt 0 ]]; then
  files=()
  for file in "$@"; do files+=("$(realpath "$file")"); done
else
  mapfile -t files < <(python3 - "$root" "$build" <<'EOF'
import json, os, sys
root, build = (os.path.realpath(p) for p in sys.argv[1:3])
seen = set()
for entry in json.load(open(os.path.join(build, "compile_commands.json"))):
    path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    if not path.endswith(".cc") or not path.startswith(root + "/"):
        continue
    if path.startswith(build + "/") or os.path.relpath(path, root).startswith("build"):
        continue
    if path not in seen:
        seen.add(path)
        print(path)
EOF
  )
fi
if [[ ${#files[@]} -eq 0 ]]; then
  echo "run-clang-tidy: no files to check" >&2
  exit 2
fi

log=$(mktemp -d /tmp/sprout-clang-tidy-XXXXXX)
trap 'rm -rf "$log"' EXIT
# clang 14 knows C++23 as c++2b, and cannot compile libstdc++ 12's
# <expected> (it needs P0848, conditionally trivial special members, from
# clang 16): clang-tidy reads the stand-in below instead. gcc builds the
# tree with the real one.
mkdir "$log/include"
cat >"$log/include/expected" <<'SHIM'
// A stand-in for libstdc++ 12's <expected>, for clang-tidy 14 only: clang 14
// cannot compile libstdc++'s (it needs P0848, conditionally trivial special
// members, from clang 16). The same interface, as far as sprout uses it;
// gcc builds the tree with the real one.
#pragma once

#include <exception>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>

#define __cpp_lib_expected 202202L

namespace std {

template <class E>
class unexpected;

template <class T>
inline constexpr bool __sprout_is_unexpected = false;
template <class E>
inline constexpr bool __sprout_is_unexpected<unexpected<E>> = true;

template <class E>
class unexpected {
 public:
  constexpr unexpected(const unexpected&) = default;
  constexpr unexpected(unexpected&&) = default;
  template <class Err = E>
    requires(!is_same_v<remove_cvref_t<Err>, unexpected> &&
             !is_same_v<remove_cvref_t<Err>, in_place_t> && is_constructible_v<E, Err>)
  constexpr explicit unexpected(Err&& error) : error_(std::forward<Err>(error)) {}
  template <class... Args>
  constexpr explicit unexpected(in_place_t, Args&&... args) : error_(std::forward<Args>(args)...) {}
  constexpr unexpected& operator=(const unexpected&) = default;
  constexpr unexpected& operator=(unexpected&&) = default;
  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }
  constexpr const E&& error() const&& noexcept { return std::move(error_); }
  constexpr E&& error() && noexcept { return std::move(error_); }
  template <class G>
  friend constexpr bool operator==(const unexpected& x, const unexpected<G>& y) {
    return x.error() == y.error();
  }

 private:
  E error_;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class E>
class bad_expected_access : public exception {
 public:
  explicit bad_expected_access(E error) : error_(std::move(error)) {}
  const char* what() const noexcept override { return "bad access to std::expected"; }
  const E& error() const& noexcept { return error_; }
  E& error() & noexcept { return error_; }
  E&& error() && noexcept { return std::move(error_); }

 private:
  E error_;
};

struct unexpect_t {
  explicit unexpect_t() = default;
};
inline constexpr unexpect_t unexpect{};

template <class T, class E>
class expected {
 public:
  using value_type = T;
  using error_type = E;
  using unexpected_type = unexpected<E>;
  template <class U>
  using rebind = expected<U, error_type>;

  constexpr expected()
    requires is_default_constructible_v<T>
      : value_(), has_value_(true) {}
  constexpr expected(const expected& other)
    requires(is_copy_constructible_v<T> && is_copy_constructible_v<E>)
      : has_value_(other.has_value_) {
    if (has_value_)
      std::construct_at(std::addressof(value_), other.value_);
    else
      std::construct_at(std::addressof(error_), other.error_);
  }
  constexpr expected(expected&& other) noexcept(is_nothrow_move_constructible_v<T> &&
                                                is_nothrow_move_constructible_v<E>)
    requires(is_move_constructible_v<T> && is_move_constructible_v<E>)
      : has_value_(other.has_value_) {
    if (has_value_)
      std::construct_at(std::addressof(value_), std::move(other.value_));
    else
      std::construct_at(std::addressof(error_), std::move(other.error_));
  }
  template <class U, class G>
    requires(is_constructible_v<T, const U&> && is_constructible_v<E, const G&> &&
             !is_same_v<expected<U, G>, expected>)
  constexpr explicit(!is_convertible_v<const U&, T> || !is_convertible_v<const G&, E>)
      expected(const expected<U, G>& other)
      : has_value_(other.has_value()) {
    if (has_value_)
      std::construct_at(std::addressof(value_), *other);
    else
      std::construct_at(std::addressof(error_), other.error());
  }
  template <class U, class G>
    requires(is_constructible_v<T, U> && is_constructible_v<E, G> &&
             !is_same_v<expected<U, G>, expected>)
  constexpr explicit(!is_convertible_v<U, T> || !is_convertible_v<G, E>)
      expected(expected<U, G>&& other)
      : has_value_(other.has_value()) {
    if (has_value_)
      std::construct_at(std::addressof(value_), std::move(*other));
    else
      std::construct_at(std::addressof(error_), std::move(other).error());
  }
  template <class U = T>
    requires(!is_same_v<remove_cvref_t<U>, in_place_t> &&
             !is_same_v<remove_cvref_t<U>, expected> &&
             !__sprout_is_unexpected<remove_cvref_t<U>> && is_constructible_v<T, U>)
  constexpr explicit(!is_convertible_v<U, T>) expected(U&& value)
      : value_(std::forward<U>(value)), has_value_(true) {}
  template <class G>
    requires is_constructible_v<E, const G&>
  constexpr explicit(!is_convertible_v<const G&, E>) expected(const unexpected<G>& error)
      : error_(error.error()), has_value_(false) {}
  template <class G>
    requires is_constructible_v<E, G>
  constexpr explicit(!is_convertible_v<G, E>) expected(unexpected<G>&& error)
      : error_(std::move(error).error()), has_value_(false) {}
  template <class... Args>
  constexpr explicit expected(in_place_t, Args&&... args)
      : value_(std::forward<Args>(args)...), has_value_(true) {}
  template <class... Args>
  constexpr explicit expected(unexpect_t, Args&&... args)
      : error_(std::forward<Args>(args)...), has_value_(false) {}

  constexpr ~expected() { destroy(); }

  constexpr expected& operator=(const expected& other)
    requires(is_copy_constructible_v<T> && is_copy_constructible_v<E>)
  {
    if (this != &other) {
      destroy();
      has_value_ = other.has_value_;
      if (has_value_)
        std::construct_at(std::addressof(value_), other.value_);
      else
        std::construct_at(std::addressof(error_), other.error_);
    }
    return *this;
  }
  constexpr expected& operator=(expected&& other) noexcept(
      is_nothrow_move_constructible_v<T> && is_nothrow_move_constructible_v<E>)
    requires(is_move_constructible_v<T> && is_move_constructible_v<E>)
  {
    if (this != &other) {
      destroy();
      has_value_ = other.has_value_;
      if (has_value_)
        std::construct_at(std::addressof(value_), std::move(other.value_));
      else
        std::construct_at(std::addressof(error_), std::move(other.error_));
    }
    return *this;
  }
  template <class U = T>
    requires(!is_same_v<remove_cvref_t<U>, expected> &&
             !__sprout_is_unexpected<remove_cvref_t<U>> && is_constructible_v<T, U>)
  constexpr expected& operator=(U&& value) {
    destroy();
    std::construct_at(std::addressof(value_), std::forward<U>(value));
    has_value_ = true;
    return *this;
  }
  template <class G>
  constexpr expected& operator=(const unexpected<G>& error) {
    destroy();
    std::construct_at(std::addressof(error_), error.error());
    has_value_ = false;
    return *this;
  }
  template <class G>
  constexpr expected& operator=(unexpected<G>&& error) {
    destroy();
    std::construct_at(std::addressof(error_), std::move(error).error());
    has_value_ = false;
    return *this;
  }
  template <class... Args>
  constexpr T& emplace(Args&&... args) noexcept {
    destroy();
    std::construct_at(std::addressof(value_), std::forward<Args>(args)...);
    has_value_ = true;
    return value_;
  }

  constexpr const T* operator->() const noexcept { return std::addressof(value_); }
  constexpr T* operator->() noexcept { return std::addressof(value_); }
  constexpr const T& operator*() const& noexcept { return value_; }
  constexpr T& operator*() & noexcept { return value_; }
  constexpr const T&& operator*() const&& noexcept { return std::move(value_); }
  constexpr T&& operator*() && noexcept { return std::move(value_); }
  constexpr explicit operator bool() const noexcept { return has_value_; }
  constexpr bool has_value() const noexcept { return has_value_; }
  constexpr const T& value() const& {
    if (!has_value_) throw bad_expected_access<E>(error_);
    return value_;
  }
  constexpr T& value() & {
    if (!has_value_) throw bad_expected_access<E>(error_);
    return value_;
  }
  constexpr T&& value() && {
    if (!has_value_) throw bad_expected_access<E>(std::move(error_));
    return std::move(value_);
  }
  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }
  constexpr const E&& error() const&& noexcept { return std::move(error_); }
  constexpr E&& error() && noexcept { return std::move(error_); }
  template <class U>
  constexpr T value_or(U&& fallback) const& {
    return has_value_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  constexpr T value_or(U&& fallback) && {
    return has_value_ ? std::move(value_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  constexpr void destroy() {
    if (has_value_)
      std::destroy_at(std::addressof(value_));
    else
      std::destroy_at(std::addressof(error_));
  }
  union {
    T value_;
    E error_;
  };
  bool has_value_;
};

template <class E>
class expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;
  using unexpected_type = unexpected<E>;

  constexpr expected() noexcept : has_value_(true) {}
  constexpr expected(const expected& other)
    requires is_copy_constructible_v<E>
      : has_value_(other.has_value_) {
    if (!has_value_) std::construct_at(std::addressof(error_), other.error_);
  }
  constexpr expected(expected&& other) noexcept(is_nothrow_move_constructible_v<E>)
    requires is_move_constructible_v<E>
      : has_value_(other.has_value_) {
    if (!has_value_) std::construct_at(std::addressof(error_), std::move(other.error_));
  }
  template <class G>
    requires is_constructible_v<E, const G&>
  constexpr explicit(!is_convertible_v<const G&, E>) expected(const unexpected<G>& error)
      : error_(error.error()), has_value_(false) {}
  template <class G>
    requires is_constructible_v<E, G>
  constexpr explicit(!is_convertible_v<G, E>) expected(unexpected<G>&& error)
      : error_(std::move(error).error()), has_value_(false) {}
  constexpr explicit expected(in_place_t) noexcept : has_value_(true) {}
  template <class... Args>
  constexpr explicit expected(unexpect_t, Args&&... args)
      : error_(std::forward<Args>(args)...), has_value_(false) {}
  constexpr ~expected() {
    if (!has_value_) std::destroy_at(std::addressof(error_));
  }
  constexpr expected& operator=(const expected& other)
    requires is_copy_constructible_v<E>
  {
    if (this != &other) {
      if (!has_value_) std::destroy_at(std::addressof(error_));
      has_value_ = other.has_value_;
      if (!has_value_) std::construct_at(std::addressof(error_), other.error_);
    }
    return *this;
  }
  constexpr expected& operator=(expected&& other) noexcept(is_nothrow_move_constructible_v<E>)
    requires is_move_constructible_v<E>
  {
    if (this != &other) {
      if (!has_value_) std::destroy_at(std::addressof(error_));
      has_value_ = other.has_value_;
      if (!has_value_) std::construct_at(std::addressof(error_), std::move(other.error_));
    }
    return *this;
  }
  template <class G>
  constexpr expected& operator=(unexpected<G>&& error) {
    if (!has_value_) std::destroy_at(std::addressof(error_));
    std::construct_at(std::addressof(error_), std::move(error).error());
    has_value_ = false;
    return *this;
  }
  constexpr void emplace() noexcept {
    if (!has_value_) std::destroy_at(std::addressof(error_));
    has_value_ = true;
  }
  constexpr explicit operator bool() const noexcept { return has_value_; }
  constexpr bool has_value() const noexcept { return has_value_; }
  constexpr void operator*() const noexcept {}
  constexpr void value() const& {
    if (!has_value_) throw bad_expected_access<E>(error_);
  }
  constexpr void value() && {
    if (!has_value_) throw bad_expected_access<E>(std::move(error_));
  }
  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }
  constexpr const E&& error() const&& noexcept { return std::move(error_); }
  constexpr E&& error() && noexcept { return std::move(error_); }

 private:
  union {
    E error_;
  };
  bool has_value_;
};

}  // namespace std
SHIM
extra=(--extra-arg=-std=c++2b "--extra-arg=-isystem$log/include"
       --extra-arg=-Wno-unknown-warning-option)
start=$(date +%s)
# One clang-tidy per file, `jobs` at a time; each file's output in its own
# log so that the report is not interleaved.
status=0
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -I{} bash -c '
    out="$1/$(printf %s "$2" | tr / _).log"
    if ! "$3" -p "$4" --quiet "${@:5}" "$2" >"$out" 2>&1; then echo "$2" >>"$1/failed"; fi
  ' bash "$log" {} "$tidy" "$build" "${extra[@]}" || status=$?
cat "$log"/*.log 2>/dev/null | grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' || true
elapsed=$(( $(date +%s) - start ))
if [[ -s $log/failed ]]; then
  echo "run-clang-tidy: $(wc -l <"$log/failed") of ${#files[@]} files failed (${elapsed} s):" >&2
  sed 's/^/  /' "$log/failed" >&2
  exit 1
fi
echo "run-clang-tidy: ${#files[@]} files clean (${elapsed} s)"
exit "$status"
