# Run by CPack (CPACK_PRE_BUILD_SCRIPTS, deb_package.cmake) on the staged
# tree, before it is packed: strips the ELF files as Debian's dh_strip does,
# which CPACK_STRIP_FILES does not (it leaves .comment and .note, and never
# touches static libraries). The build tree keeps its debug info.
#   executables: everything but what the loader needs, minus .comment/.note
#   static libraries: debug info, .comment/.note; deterministic archives
if(NOT CPACK_SPROUT_STRIP)
  message(FATAL_ERROR "strip_staged_files: CPACK_SPROUT_STRIP (the strip program) is not set")
endif()
file(GLOB_RECURSE staged_files LIST_DIRECTORIES false "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*")
foreach(file IN LISTS staged_files)
  if(IS_SYMLINK "${file}")
    continue()
  endif()
  if(file MATCHES "\\.a$")
    set(how --strip-debug --enable-deterministic-archives)
  else()
    file(READ "${file}" magic LIMIT 4 HEX)
    if(NOT magic STREQUAL "7f454c46")  # "\177ELF"
      continue()
    endif()
    set(how --strip-all)
  endif()
  execute_process(
    COMMAND "${CPACK_SPROUT_STRIP}" ${how} --remove-section=.comment --remove-section=.note "${file}"
    RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "strip_staged_files: ${CPACK_SPROUT_STRIP} failed on ${file}")
  endif()
endforeach()
