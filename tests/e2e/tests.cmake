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

# One e2e test: its source and e2e_support.cc, the paths of both binaries compiled in, both
# built first.
function(protean_add_e2e_test name)
  cmake_parse_arguments(E2E "" "TIMEOUT" "SOURCE;LIBS;DEFINITIONS" ${ARGN})
  protean_add_test(NAME ${name} LABEL e2e TIMEOUT ${E2E_TIMEOUT}
    SOURCES ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${E2E_SOURCE}
            ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/e2e_support.cc
    LIBS protean_admin_storage gRPC::grpc++ nlohmann_json::nlohmann_json absl::strings ${E2E_LIBS})
  target_compile_definitions(${name} PRIVATE
    PROTEAN_ADMIND_BINARY="$<TARGET_FILE:protean-admind>"
    PROTEAN_ADMIN_CLI_BINARY="$<TARGET_FILE:protean-admin>" ${E2E_DEFINITIONS})
  add_dependencies(${name} protean-admind protean-admin)
endfunction()

protean_add_e2e_test(daemon_cli_e2e_test TIMEOUT 900 SOURCE daemon_cli_e2e_test.cc
  LIBS protean_admin_e2e_protos)

# A cache-backed projection (Redis) rebuilt through the daemon and the CLI (issue 7).
protean_add_e2e_test(cache_e2e_test TIMEOUT 300 SOURCE cache_e2e_test.cc)

# TLS, mutual TLS, tokens, the listen policy and the audit trail (issue 8).
protean_add_e2e_test(security_e2e_test TIMEOUT 600 SOURCE security_e2e_test.cc
  LIBS protean_admin_e2e_protos
  DEFINITIONS MAKE_CERTS_SCRIPT="${PROJECT_SOURCE_DIR}/tests/harness/make_certs.sh")

# Locks, the audit trail and partial results under faults (issue 14); one test restarts a
# PostgreSQL of its own.
protean_add_e2e_test(state_e2e_test TIMEOUT 600 SOURCE state_e2e_test.cc)

# Hardening at the edges (issue 14): request bounds, the health-only listener, declared column
# types, echoes in errors and logs, an emptied token file.
protean_add_e2e_test(edges_e2e_test TIMEOUT 300 SOURCE edges_e2e_test.cc
  LIBS protean_admin_e2e_protos protean_admin_proto_names)

# Lua-form handlers through the daemon and the CLI (issue 16): database- and cache-backed
# projections, sandbox escapes skipped per event, a syntax error failing before truncation.
protean_add_e2e_test(lua_e2e_test TIMEOUT 300 SOURCE lua_e2e_test.cc)

# The shadow strategy (issue 17): a fake event server started and stopped, a concurrent writer.
protean_add_e2e_test(shadow_e2e_test TIMEOUT 600 SOURCE shadow_e2e_test.cc)

# `protean-admin status` (issue 18.4-18.6): lag and rows after a rebuild and after new events,
# the --json envelope, stream-subscription projectors, URIs built from a default.
protean_add_e2e_test(status_e2e_test TIMEOUT 300 SOURCE status_e2e_test.cc)

# `ir import` (issue 18.1): an IR-imported domain rebuilt through the daemon and the CLI.
protean_add_e2e_test(ir_e2e_test TIMEOUT 300 SOURCE ir_e2e_test.cc
  DEFINITIONS IR_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/unit/ir/data")
