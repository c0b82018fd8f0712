# deltaserve_warnings: the warning set every first-party target compiles with.
add_library(deltaserve_warnings INTERFACE)
target_compile_options(deltaserve_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor>)
if(DELTASERVE_WERROR)
  target_compile_options(deltaserve_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()

# deltaserve_add_test(NAME SOURCES... LIBS ...): one GoogleTest binary registered with ctest.
function(deltaserve_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main deltaserve_warnings)
  target_compile_definitions(${name} PRIVATE
    DELTASERVE_SHARED_MODELS_DIR="${DELTASERVE_SHARED_MODELS_DIR}"
    DELTASERVE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS cpu)
endfunction()
