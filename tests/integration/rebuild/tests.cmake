protean_add_test(NAME rebuild_scenarios_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rebuild_scenarios_test.cc
  LIBS protean_admin_rebuild TIMEOUT 120)
protean_add_test(NAME rebuild_behaviour_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rebuild_behaviour_test.cc
  LIBS protean_admin_rebuild TIMEOUT 120)
protean_add_test(NAME rebuild_scale_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rebuild_scale_test.cc
  LIBS protean_admin_rebuild TIMEOUT 240)
protean_add_test(NAME sql_planning_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sql_planning_test.cc
  LIBS protean_admin_rebuild TIMEOUT 120)
protean_add_test(NAME skips_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/skips_test.cc
  LIBS protean_admin_rebuild TIMEOUT 120)
# Three handler forms: about 1,000 rebuilds, ~2 min on an idle 2-core machine; the timeout
# leaves room for a busy one.
protean_add_test(NAME differential_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/differential_test.cc
  LIBS protean_admin_rebuild TIMEOUT 900)
protean_add_test(NAME lua_rebuild_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/lua_rebuild_test.cc
  LIBS protean_admin_rebuild TIMEOUT 120)
# The action form's basics (update, negated increments, NULL, json/jsonb and array columns)
# against PostgreSQL and Redis.
protean_add_test(NAME action_basics_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/action_basics_test.cc
  LIBS protean_admin_rebuild TIMEOUT 120)
# The shadow strategy (issue 17): shadow table, swap identity, wait/catch-up/swap, refusals.
protean_add_test(NAME shadow_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shadow_test.cc
  LIBS protean_admin_rebuild TIMEOUT 180)
# docs/domain-toml.md "Choosing a handler form": its SQL, Lua and action translations run
# against PostgreSQL give the same rows (issue 16).
protean_add_test(NAME handler_forms_doc_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/handler_forms_doc_test.cc
  LIBS protean_admin_rebuild protean_admin_domain TIMEOUT 120)
