# transport/: the file reading and client credentials both the daemon and the CLI link.
protean_add_test(NAME transport_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/file_contents_test.cc
  LIBS protean_admin_transport)
