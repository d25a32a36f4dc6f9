# The helpers over the contract shared by the daemon and the CLI (proto/).
protean_add_test(NAME proto_request_limits_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/request_limits_test.cc
  LIBS protean_admin_proto_names)
