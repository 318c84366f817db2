#!/usr/bin/env bash
# Packaging.Deb: builds sprout's .deb with CPack (into a temporary
# directory, so the build tree is left as it was), checks its metadata,
# contents and control files with dpkg-deb, its run-time dependencies
# against the ELF files it ships, and lintian's verdict (only the findings
# that packaging/debian/lintian-overrides accepts may remain); then unpacks
# it into a throwaway root and runs it from there (run_unpacked.sh) and
# runs its maintainer scripts in a private mount namespace
# (check_maintainer_scripts.sh).
# usage: check_deb.sh BUILD_DIR SOURCE_DIR PROJECT_VERSION   (as root)
set -euo pipefail
build_dir=$1
source_dir=$2
version=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/sprout-test-deb-XXXXXX)
# --one-file-system: should a failed run leave a mount below $work, never
# delete through it.
trap 'rm -rf --one-file-system "$work"' EXIT
fail() { echo "check_deb: FAIL: $*" >&2; exit 1; }
step() { echo "check_deb: $*"; }

step "cpack -G DEB"
# cpack first builds the target `preinstall` (everything), so a stale
# binary is never packaged; after a full build that is make's no-op pass.
if ! (cd "$work" && cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/cpack") \
    > "$work/cpack.log" 2>&1; then
  cat "$work/cpack.log" >&2
  fail "cpack failed"
fi
debian_version=$version-1
arch=$(dpkg --print-architecture)
deb=$work/cpack/sprout_${debian_version}_${arch}.deb
[[ -f $deb ]] || fail "no $deb; cpack made: $(ls "$work/cpack")"
step "built $(basename "$deb"), $(stat -c %s "$deb") bytes"

step "metadata (dpkg-deb -f)"
field() { dpkg-deb -f "$deb" "$1"; }
expect_field() {
  local actual
  actual=$(field "$1")
  [[ $actual == "$2" ]] || fail "control field $1 is '$actual', not '$2'"
}
expect_field Package sprout
expect_field Version "$debian_version"
expect_field Architecture "$arch"
expect_field Section admin
expect_field Priority optional
[[ $(field Maintainer) =~ ^.+\ \<.+@.+\>$ ]] || fail "Maintainer '$(field Maintainer)' is not 'Name <email>'"
[[ $(field Description) == "function sandbox supervisor for FaaS platforms"* ]] || fail "Description"
[[ $(field Installed-Size) =~ ^[0-9]+$ ]] || fail "Installed-Size"
step "Installed-Size: $(field Installed-Size) KiB"
changelog_version=$(sed -n '1s/^sprout (\([^)]*\)).*/\1/p' "$source_dir/packaging/debian/changelog")
[[ $changelog_version == "$debian_version" ]] ||
  fail "packaging/debian/changelog's top entry is $changelog_version, the package $debian_version"
depends=$(field Depends)
step "Depends: $depends"
dependency_names=$(tr ',|' '\n\n' <<<"$depends" | sed 's/^ *//; s/[ (].*//' | sort -u)
has_dependency() { grep -qx "$1" <<<"$dependency_names"; }
has_dependency libpython3.11-stdlib || fail "no dependency on libpython3.11-stdlib (the embedded interpreter's stdlib)"

step "control files (dpkg-deb -I, --ctrl-tarfile)"
[[ $(dpkg-deb -I "$deb" conffiles) == "/etc/sprout/sproutd.conf" ]] || fail "conffiles: $(dpkg-deb -I "$deb" conffiles)"
dpkg-deb --ctrl-tarfile "$deb" | tar -tvf - > "$work/control-files"
for script in postinst prerm postrm; do
  grep -qE "^-rwxr-xr-x root/root .* \./$script$" "$work/control-files" || fail "$script missing or not 0755 root"
done
grep -qE " \./md5sums$" "$work/control-files" || fail "no md5sums"

step "contents (dpkg-deb -c)"
dpkg-deb -c "$deb" > "$work/contents"
# "MODE OWNER SIZE DATE TIME PATH"; the path is the 6th field.
mode_of() { awk -v path="./$1" '$6 == path { print $1 " " $2 }' "$work/contents"; }
expect_file() {
  local actual
  actual=$(mode_of "$1")
  [[ -n $actual ]] || fail "the package has no /$1"
  [[ $actual == "$2 root/root" ]] || fail "/$1 is '$actual', not '$2 root/root'"
}
for program in usr/sbin/sproutd usr/bin/sprout usr/bin/sprout-bench usr/lib/sprout/sprout-agent; do
  expect_file "$program" -rwxr-xr-x
done
# The config may hold SigV4 secret keys: root's alone.
expect_file etc/sprout/sproutd.conf -rw-------
for file in lib/systemd/system/sproutd.service \
    usr/include/sprout/native.h usr/include/sprout/client.h usr/include/api/proto/sprout_api.pb.h \
    usr/include/protocol/limits.h usr/lib/libsprout-client.a usr/lib/libsprout-api-proto.a \
    usr/lib/cmake/sprout/sproutConfig.cmake usr/lib/cmake/sprout/sproutConfigVersion.cmake \
    usr/lib/cmake/sprout/sproutTargets.cmake usr/share/sprout/proto/sprout_api.proto \
    usr/share/sprout/proto/daemon_config.proto usr/share/man/man8/sproutd.8.gz \
    usr/share/man/man1/sprout.1.gz usr/share/man/man1/sprout-bench.1.gz \
    usr/share/doc/sprout/copyright usr/share/doc/sprout/changelog.Debian.gz \
    usr/share/doc/sprout/README.md usr/share/lintian/overrides/sprout; do
  expect_file "$file" -rw-r--r--
done
# Only the FHS places a package may use; nothing of /usr/local or of a
# build tree.
unexpected=$(awk '{ print $6 }' "$work/contents" | grep -vE '^\./((etc|lib|usr)(/.*)?)?$' || true)
[[ -z $unexpected ]] || fail "files outside /etc, /lib, /usr: $unexpected"
if grep -qE '\./usr/local|/build' "$work/contents"; then fail "build or /usr/local paths in the package"; fi

root=$work/root
dpkg-deb -x "$deb" "$root"
step "unpacked into $root"
cmp "$root/lib/systemd/system/sproutd.service" "$source_dir/deploy/systemd/sproutd.service" ||
  fail "the packaged unit differs from deploy/systemd/sproutd.service"
cmp "$root/etc/sprout/sproutd.conf" "$source_dir/packaging/sproutd.conf" || fail "the packaged config differs"

step "dependencies cover every library the ELF files need"
# The package that ships a library path: dpkg knows /lib paths of
# merged-/usr systems under either spelling.
package_of() {
  local path=$1 candidate
  for candidate in "$path" "${path#/usr}" "/usr$path"; do
    if dpkg -S "$candidate" > "$work/dpkg-S" 2>/dev/null; then
      cut -d: -f1 "$work/dpkg-S" | head -n1
      return 0
    fi
  done
  return 1
}
for program in usr/sbin/sproutd usr/bin/sprout usr/bin/sprout-bench usr/lib/sprout/sprout-agent; do
  if readelf -S "$root/$program" | grep -q '\.debug_info'; then fail "/$program is not stripped"; fi
  for soname in $(readelf -d "$root/$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    # "soname => path (address)", or "path (address)" for the dynamic loader.
    path=$(ldd "$root/$program" | awk -v soname="$soname" '
      $1 == soname && $2 == "=>" { print $3 }
      $1 ~ ("/" soname "$") { print $1 }' | head -n1)
    [[ -n $path && $path != "not" ]] || fail "/$program needs $soname, which is not on this system"
    package=$(package_of "$path") || fail "no Debian package ships $path (/$program needs it)"
    has_dependency "$package" || fail "/$program needs $soname from $package, which Depends lacks"
  done
done

step "hardening (the top-level CMakeLists.txt's flags) in every dynamic ELF file"
# lintian checks fortification and BIND_NOW, but no longer the stack
# protector; these read what each flag leaves in a stripped binary. The
# CLI is static (no dynamic symbols to read) and is left to lintian.
for program in usr/sbin/sproutd usr/bin/sprout-bench usr/lib/sprout/sprout-agent; do
  readelf -d "$root/$program" > "$work/dynamic"
  readelf -lW "$root/$program" > "$work/segments"
  readelf --dyn-syms -W "$root/$program" > "$work/dynsym"
  grep -qE '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' "$work/dynamic" || fail "/$program lacks BIND_NOW (-z now)"
  grep -q 'GNU_RELRO' "$work/segments" || fail "/$program lacks a RELRO segment (-z relro)"
  grep -qE '\(FLAGS_1\).*PIE' "$work/dynamic" || fail "/$program is not PIE"
  grep -q '__stack_chk_fail' "$work/dynsym" || fail "/$program has no stack protector (-fstack-protector-strong)"
  grep -qE ' __[a-z_]+_chk(@|$)' "$work/dynsym" || fail "/$program calls no fortified function (-D_FORTIFY_SOURCE=2)"
done

step "--version and man pages"
[[ $("$root/usr/sbin/sproutd" --version) == "sproutd $version" ]] || fail "sproutd --version: $("$root/usr/sbin/sproutd" --version)"
[[ $("$root/usr/bin/sprout" --version) == "sprout $version" ]] || fail "sprout --version: $("$root/usr/bin/sprout" --version)"
man_page() { zcat "$root/usr/share/man/$1"; }
man_page man8/sproutd.8.gz | grep -q "^\.TH SPROUTD \"8\" .*\"sproutd $version\"" || fail "sproutd.8 title"
# The options come from --help, the files from packaging/man/sproutd.h2m.
man_page man8/sproutd.8.gz | grep -q 'drain\\-timeout\\-ms' || fail "sproutd.8 lacks --drain-timeout-ms"
man_page man8/sproutd.8.gz | grep -q '^\.SH FILES' || fail "sproutd.8 lacks FILES"
man_page man1/sprout.1.gz | grep -q "^\.TH SPROUT \"1\"" || fail "sprout.1 title"
man_page man1/sprout.1.gz | grep -q 'dlq redrive' || fail "sprout.1 lacks the commands"
# man itself renders them without complaint (lintian checks this too).
for page in man8/sproutd.8.gz man1/sprout.1.gz man1/sprout-bench.1.gz; do
  complaints=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$root/usr/share/man/$page" 2>&1 > /dev/null || true)
  [[ -z $complaints ]] || fail "man $page: $complaints"
done

step "lintian"
# Every level counts, pedantic and experimental included; an accepted
# finding is overridden in packaging/debian/lintian-overrides (and explained
# in docs/packaging.md), and shown here as O: with its reason (N:). The
# verdict is read from the output: with --show-overrides, lintian's exit
# status counts the accepted findings too.
lintian --pedantic --display-experimental --show-overrides --fail-on none "$deb" \
  > "$work/lintian.log" 2>&1 || { cat "$work/lintian.log" >&2; fail "lintian did not run"; }
cat "$work/lintian.log"
grep -q '^O: sprout: statically-linked-binary' "$work/lintian.log" || fail "lintian's output lacks the overrides: did it run?"
if grep -E '^[EWIPX]: ' "$work/lintian.log"; then fail "lintian findings above are not accepted"; fi

"$here/run_unpacked.sh" "$root" "$source_dir" "$work/run"
"$here/check_maintainer_scripts.sh" "$deb" "$work/scripts"
step "all checks passed"
