protean_add_test(NAME audit_store_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/audit_store_test.cc
  LIBS protean_admin_storage)
