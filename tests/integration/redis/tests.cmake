protean_add_test(NAME redis_client_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis_client_test.cc
  LIBS protean_admin_storage)
protean_add_test(NAME redis_fault_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis_fault_test.cc
  LIBS protean_admin_storage)
# The cache-backed projection store against Redis, driven by the engine's action fold.
protean_add_test(NAME cache_store_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/cache_store_test.cc
  LIBS protean_admin_rebuild)
# Cache-backed rebuilds through the engine: truncation by pattern, replay into Redis, faults.
protean_add_test(NAME cache_rebuild_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/cache_rebuild_test.cc
  LIBS protean_admin_rebuild)
