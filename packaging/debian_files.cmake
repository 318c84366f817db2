# What the .deb holds beyond `cmake --install`: the default config (a
# conffile), the systemd unit, the config's schema, the Debian docs and the
# lintian overrides. They are the install component "deb", left out of a
# plain `cmake --install` (EXCLUDE_FROM_ALL) because two of them have
# absolute destinations (/etc, /lib/systemd) that must never be written on
# the build host; only CPack (deb_package.cmake) installs this component,
# into its staging root.
set(SPROUT_DOC_DIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/sprout)

# 0600: the config may hold SigV4 secret keys (http_credentials); only
# sproutd (root) reads it.
install(FILES sproutd.conf DESTINATION /etc/sprout
  PERMISSIONS OWNER_READ OWNER_WRITE
  COMPONENT deb EXCLUDE_FROM_ALL)
# /lib, not /usr/lib: bookworm's debhelper still installs units there.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/sproutd.service DESTINATION /lib/systemd/system
  COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/supervisor/proto/daemon_config.proto
  DESTINATION ${CMAKE_INSTALL_DATADIR}/sprout/proto COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES debian/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
  RENAME sprout COMPONENT deb EXCLUDE_FROM_ALL)

# /usr/share/doc/sprout: copyright, the Debian changelog (gzip -9n, as
# policy 12.7 wants it) and the README.
set(sprout_changelog_gz ${CMAKE_CURRENT_BINARY_DIR}/changelog.Debian.gz)
add_custom_command(
  OUTPUT ${sprout_changelog_gz}
  COMMAND ${SPROUT_GZIP} -9n -c ${CMAKE_CURRENT_SOURCE_DIR}/debian/changelog > ${sprout_changelog_gz}
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/debian/changelog
  COMMENT "gzip changelog.Debian")
add_custom_target(sprout_debian_changelog ALL DEPENDS ${sprout_changelog_gz})
install(FILES debian/copyright ${sprout_changelog_gz} ${PROJECT_SOURCE_DIR}/README.md
  DESTINATION ${SPROUT_DOC_DIR} COMPONENT deb EXCLUDE_FROM_ALL)
