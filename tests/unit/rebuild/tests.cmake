protean_add_test(NAME rebuild_decimal_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/decimal_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_column_ops_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/column_ops_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_action_fold_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/action_fold_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_sql_statements_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sql_statements_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_pg_array_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/pg_array_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_lua_date_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/lua_date_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_lua_runtime_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/lua_runtime_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_lua_sandbox_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/lua_sandbox_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_lua_fields_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/lua_fields_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_sql_waves_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sql_waves_test.cc
  LIBS protean_admin_rebuild)
protean_add_test(NAME rebuild_sql_lowering_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sql_lowering_test.cc
  LIBS protean_admin_rebuild)
