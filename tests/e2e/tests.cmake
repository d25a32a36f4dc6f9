# End-to-end: the real protean-admind and protean-admin processes against the scratch
# PostgreSQL (tests/harness). Paths of both binaries come in as compile definitions.

# Client stubs for gRPC reflection and health (Debian ships the libraries, not the .protos).
set(E2E_PROTO_DIR "${CMAKE_CURRENT_LIST_DIR}/proto")
set(E2E_GEN_DIR "${CMAKE_CURRENT_BINARY_DIR}/e2e_gen")
file(MAKE_DIRECTORY "${E2E_GEN_DIR}")
set(E2E_GEN_SRCS)
foreach(stem reflection_v1alpha health_v1)
  set(outs "${E2E_GEN_DIR}/${stem}.pb.cc" "${E2E_GEN_DIR}/${stem}.pb.h"
           "${E2E_GEN_DIR}/${stem}.grpc.pb.cc" "${E2E_GEN_DIR}/${stem}.grpc.pb.h")
  add_custom_command(
    OUTPUT ${outs}
    COMMAND protobuf::protoc --proto_path=${E2E_PROTO_DIR} --cpp_out=${E2E_GEN_DIR}
      --grpc_out=${E2E_GEN_DIR} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN}
      ${E2E_PROTO_DIR}/${stem}.proto
    DEPENDS ${E2E_PROTO_DIR}/${stem}.proto
    COMMENT "Generating e2e stubs for ${stem}.proto")
  list(APPEND E2E_GEN_SRCS ${outs})
endforeach()
add_library(protean_admin_e2e_protos STATIC ${E2E_GEN_SRCS})
target_compile_options(protean_admin_e2e_protos PRIVATE -w)
target_include_directories(protean_admin_e2e_protos PUBLIC "${E2E_GEN_DIR}")
target_link_libraries(protean_admin_e2e_protos PUBLIC protobuf::libprotobuf gRPC::grpc++)

protean_add_test(NAME daemon_cli_e2e_test LABEL e2e TIMEOUT 900
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_cli_e2e_test.cc ${CMAKE_CURRENT_LIST_DIR}/e2e_support.cc
  LIBS protean_admin_e2e_protos protean_admin_storage gRPC::grpc++
       nlohmann_json::nlohmann_json absl::strings)
target_compile_definitions(daemon_cli_e2e_test PRIVATE
  PROTEAN_ADMIND_BINARY="$<TARGET_FILE:protean-admind>"
  PROTEAN_ADMIN_CLI_BINARY="$<TARGET_FILE:protean-admin>")
add_dependencies(daemon_cli_e2e_test protean-admind protean-admin)

# A cache-backed projection (Redis) rebuilt through the daemon and the CLI (issue 7).
protean_add_test(NAME cache_e2e_test LABEL e2e TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/cache_e2e_test.cc ${CMAKE_CURRENT_LIST_DIR}/e2e_support.cc
  LIBS protean_admin_storage gRPC::grpc++ nlohmann_json::nlohmann_json absl::strings)
target_compile_definitions(cache_e2e_test PRIVATE
  PROTEAN_ADMIND_BINARY="$<TARGET_FILE:protean-admind>"
  PROTEAN_ADMIN_CLI_BINARY="$<TARGET_FILE:protean-admin>")
add_dependencies(cache_e2e_test protean-admind protean-admin)

# TLS, mutual TLS, tokens, the listen policy and the audit trail (issue 8).
protean_add_test(NAME security_e2e_test LABEL e2e TIMEOUT 600
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/security_e2e_test.cc ${CMAKE_CURRENT_LIST_DIR}/e2e_support.cc
  LIBS protean_admin_e2e_protos protean_admin_storage gRPC::grpc++
       nlohmann_json::nlohmann_json absl::strings)
target_compile_definitions(security_e2e_test PRIVATE
  PROTEAN_ADMIND_BINARY="$<TARGET_FILE:protean-admind>"
  PROTEAN_ADMIN_CLI_BINARY="$<TARGET_FILE:protean-admin>"
  MAKE_CERTS_SCRIPT="${PROJECT_SOURCE_DIR}/tests/harness/make_certs.sh")
add_dependencies(security_e2e_test protean-admind protean-admin)
