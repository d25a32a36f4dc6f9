protean_add_test(NAME service_status_convert_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/status_convert_test.cc
  LIBS protean_admin_service)
protean_add_test(NAME service_job_registry_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/job_registry_test.cc
  LIBS protean_admin_service)
protean_add_test(NAME service_server_guard_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/server_guard_test.cc
  LIBS protean_admin_service)
protean_add_test(NAME service_logging_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/logging_test.cc
  LIBS protean_admin_service)
protean_add_test(NAME service_audit_trail_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/audit_trail_test.cc
  LIBS protean_admin_service)
protean_add_test(NAME service_daemon_test LABEL unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_test.cc
  LIBS protean_admin_service)
