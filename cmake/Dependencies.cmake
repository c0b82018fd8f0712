# Every dependency is a Debian 12 package (scripts/install-deps.sh) or, on a GPU host,
# the CUDA libtorch of a PyTorch install found through CMAKE_PREFIX_PATH.
# Protobuf before Torch: a CUDA libtorch's CMake config may define its own
# protobuf::libprotobuf target (without a library file), which FindProtobuf then keeps.
find_package(Protobuf REQUIRED)
find_package(Torch REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
if(DELTASERVE_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  find_package(benchmark CONFIG REQUIRED)
  include(GoogleTest)
endif()

# Torch's exported targets carry its compile flags (ABI define); wrap them once so that
# only the targets that really need libtorch link it.
add_library(deltaserve_torch INTERFACE)
target_link_libraries(deltaserve_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(deltaserve_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})

# The serving side: gRPC + protobuf for the wire contract, prometheus-cpp (core only:
# registry and text format) behind cpp-httplib for /metrics (DESIGN.md says why not
# civetweb).
find_package(gRPC CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
