# The Debian package sprout_<version>-<revision>_<arch>.deb, built by CPack:
# `cmake --build build --target package` (builds everything first), or
# `cpack -G DEB` in the build directory once the targets are built.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sprout)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# The Debian revision of upstream PROJECT_VERSION: a non-native version, so
# the changelog is changelog.Debian.gz. Keep it equal to the top entry of
# debian/changelog (tests/packaging checks).
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGE_CONTACT "sprout maintainers <maintainers@users.noreply.r-seed-ac05d95c.example>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "function sandbox supervisor for FaaS platforms")
# CPack writes the summary as the synopsis line, then this as the extended
# description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "sproutd keeps language runtimes initialized as snapshot processes and
serves every invocation from a child forked into fresh user, pid, mount,
network, ipc, uts and cgroup namespaces, with a seccomp filter, no
capabilities and cgroup limits. It runs AWS Lambda Python handlers, native
shared objects and executables, on demand or on events.
.
This package holds sproutd with its systemd unit and default configuration,
the sprout command-line client, sprout-bench, the agent that runs inside
the sandboxes, and the C++ client library with its CMake package.")

# Run-time dependencies: what dpkg-shlibdeps reads off the ELF files
# (libprotobuf, libseccomp, libcap, libpython3.11, libsqlite3, libnats, ...),
# plus what no ELF file names: the embedded interpreter imports Python's
# standard library from /usr/lib/python3.11 (libpython3.11-stdlib).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libpython3.11-stdlib")
# Building against the client library (find_package(sprout) finds
# Protobuf, its headers include protobuf's): only for embedding, so not a
# dependency of the daemon.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libprotobuf-dev, cmake")

# Absolute destinations (/etc, /lib/systemd) go below CPack's staging root
# only when it installs with DESTDIR; the rest lands under /usr.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The default component (everything `cmake --install` installs) and the
# "deb" component of debian_files.cmake.
set(CPACK_INSTALL_CMAKE_PROJECTS
  "${CMAKE_BINARY_DIR};sprout;Unspecified;/"
  "${CMAKE_BINARY_DIR};sprout;deb;/")
# RelWithDebInfo binaries carry their debug info; a package must not.
# Stripped in the staging tree as dh_strip would (strip_staged_files.cmake).
set(CPACK_SPROUT_STRIP ${CMAKE_STRIP})
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_SOURCE_DIR}/strip_staged_files.cmake)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

# Maintainer scripts doing what dh_installsystemd's would (debian/README of
# docs/packaging.md explains them), and the conffile list. Strict permissions:
# 0755 for the scripts, 0644 for conffiles, as dpkg and lintian expect.
set(sprout_control_dir ${CMAKE_CURRENT_SOURCE_DIR}/debian)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${sprout_control_dir}/conffiles ${sprout_control_dir}/postinst
  ${sprout_control_dir}/prerm ${sprout_control_dir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
