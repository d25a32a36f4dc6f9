# Issue 18.5/18.6 in the domain layer: subscription types and the note on URIs built from a
# ${VAR|default}.
protean_add_test(NAME domain_subscription_env_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/subscription_env_test.cc
  LIBS protean_admin_domain)
# The status table and JSON envelope of `protean-admin status`.
protean_add_test(NAME client_status_output_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/status_output_test.cc
  LIBS protean_admin_client)
