# Included by ctest after a directory's discovered tests (TEST_INCLUDE_FILES):
# labels the HTTP front door's daemon tests both http and e2e.
# gtest_discover_tests flattens a list given in PROPERTIES ("LABELS http;e2e"
# sets LABELS to http and a property named e2e), hence this script.
foreach(discovered IN ITEMS http_e2e_tests_TESTS http_management_e2e_tests_TESTS
                            metrics_e2e_tests_TESTS)
  if(${discovered})
    set_tests_properties(${${discovered}} PROPERTIES LABELS "http;e2e")
  endif()
endforeach()
