# Tokens, TLS / mutual TLS, listen policy (issue 8). The tests compile the daemon's security
# sources directly (they depend only on gRPC, OpenSSL via gRPC, Abseil and transport/), so
# they do not need the rest of protean_admin_service; the client side is transport/.
set(PROTEAN_AUTH_SOURCES
  ${PROJECT_SOURCE_DIR}/server/service/auth.cc
  ${PROJECT_SOURCE_DIR}/server/service/tls_config.cc
  ${PROJECT_SOURCE_DIR}/server/service/listen_policy.cc)
set(PROTEAN_AUTH_LIBS protean_admin_transport gRPC::grpc++ gRPC::grpc++_reflection
  protean_admin_proto absl::status absl::statusor absl::strings)

protean_add_test(NAME token_store_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/token_store_test.cc ${PROTEAN_AUTH_SOURCES}
  LIBS ${PROTEAN_AUTH_LIBS})
protean_add_test(NAME listen_policy_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/listen_policy_test.cc ${PROTEAN_AUTH_SOURCES}
  LIBS ${PROTEAN_AUTH_LIBS})
# A real in-process gRPC server on loopback / a Unix socket, certificates from
# tests/harness/make_certs.sh.
protean_add_test(NAME auth_grpc_test LABEL unit TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/auth_grpc_test.cc ${PROTEAN_AUTH_SOURCES}
  LIBS ${PROTEAN_AUTH_LIBS})
target_compile_definitions(auth_grpc_test PRIVATE
  PROTEAN_ADMIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
