protean_add_test(NAME client_output_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/output_test.cc
  LIBS protean_admin_client)
