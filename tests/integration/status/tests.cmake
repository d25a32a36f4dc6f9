# Projection status (issue 18.4) and stream-subscription hand-off notes (18.5) against a
# scratch PostgreSQL.
protean_add_test(NAME projection_status_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/projection_status_test.cc
  LIBS protean_admin_rebuild TIMEOUT 120)
