protean_add_test(NAME pg_connection_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/pg_connection_test.cc
  LIBS protean_admin_storage)
protean_add_test(NAME copy_format_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/copy_format_test.cc
  LIBS protean_admin_storage)
