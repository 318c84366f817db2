# Man pages generated at build time from the programs' own --help and
# --version (help2man), so that the usage is written once, in the code.
# The .h2m files add what --help does not say (files, signals, see also).
# gzip -9n: Debian's policy for man pages (compressed, no timestamp).
# help2man: installed by scripts/install-deps.sh.
find_program(SPROUT_HELP2MAN help2man REQUIRED)
find_program(SPROUT_GZIP gzip REQUIRED)

set(SPROUT_MAN_DIR ${CMAKE_CURRENT_BINARY_DIR}/man)
set(sprout_man_pages)
# sprout_man_page(PROGRAM TARGET SECTION "one-line description" [--flags for help2man...])
function(sprout_man_page program target section description)
  set(page ${SPROUT_MAN_DIR}/${program}.${section})
  set(include_file ${CMAKE_CURRENT_SOURCE_DIR}/man/${program}.h2m)
  add_custom_command(
    OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${SPROUT_MAN_DIR}
    # --no-discard-stderr: a program that writes its usage to stderr still
    # gets a page instead of an empty one.
    COMMAND ${SPROUT_HELP2MAN} --no-info --no-discard-stderr --section=${section}
            --name=${description} --include=${include_file} ${ARGN}
            --output=${page} $<TARGET_FILE:${target}>
    COMMAND ${SPROUT_GZIP} -9nf ${page}
    DEPENDS ${target} ${include_file}
    COMMENT "help2man ${program}.${section}"
    VERBATIM)
  set(sprout_man_pages ${sprout_man_pages} ${page}.gz PARENT_SCOPE)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endfunction()

sprout_man_page(sproutd sproutd 8 "the sprout function sandbox supervisor")
sprout_man_page(sprout sprout 1 "deploy and invoke functions on sproutd")
# sprout-bench has no --version of its own (bench/ is not packaging's): the
# project's version is given to help2man instead.
sprout_man_page(sprout-bench sprout-bench 1 "benchmark sprout against other sandboxes"
                "--version-string=${PROJECT_VERSION}")
add_custom_target(sprout_man_pages ALL DEPENDS ${sprout_man_pages})
