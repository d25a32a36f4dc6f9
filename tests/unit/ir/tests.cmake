# Protean's IR (ir/): parsing, import, drift; and the real `protean-admin ir` binary (no
# services needed). Data: tests/unit/ir/data (README.md there says where it comes from).
protean_add_test(NAME ir_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ir_test.cc
  LIBS protean_admin_ir)
target_compile_definitions(ir_test PRIVATE
  IR_TEST_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}/data")

protean_add_test(NAME ir_cli_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ir_cli_test.cc
  LIBS nlohmann_json::nlohmann_json absl::strings)
target_compile_definitions(ir_cli_test PRIVATE
  IR_TEST_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}/data"
  PROTEAN_ADMIN_CLI_BINARY="$<TARGET_FILE:protean-admin>")
add_dependencies(ir_cli_test protean-admin)
