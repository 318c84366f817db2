# Included by the top-level CMakeLists.txt when SPROUT_FUZZ is ON, before any
# target exists: every library the fuzzers reach is compiled with coverage
# feedback for libFuzzer and with ASan+UBSan, so that a bug deep in the code
# under test is found and reported, not only one in the fuzzer itself.

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "SPROUT_FUZZ needs clang (libFuzzer); configure with "
                      "-DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16")
endif()
# The tree uses std::expected. libstdc++ 12 offers <expected> only when
# __cpp_concepts >= 202002L; clang 14 and 15 lack the conditionally trivial
# special members (P0848) that it needs, and cannot compile it at all. Clang
# 16 implements P0848 but still announces 201907L, so the macro is raised to
# what it supports (Debian 12: clang-16 and libclang-rt-16-dev).
if(CMAKE_CXX_COMPILER_VERSION VERSION_LESS 16)
  message(FATAL_ERROR "SPROUT_FUZZ needs clang 16 or later for std::expected "
                      "(found ${CMAKE_CXX_COMPILER_VERSION}); Debian 12: apt-get install clang-16 libclang-rt-16-dev")
endif()
add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:SHELL:-U__cpp_concepts -D__cpp_concepts=202002L>")

add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                    -fno-sanitize-recover=undefined)
add_link_options(-fsanitize=address,undefined)
