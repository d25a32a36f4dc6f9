protean_add_test(NAME redis_uri_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis_uri_test.cc
  LIBS protean_admin_storage)
# The cache-backed projection store's documents (server/rebuild/cache_store.h).
protean_add_test(NAME cache_document_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/cache_document_test.cc
  LIBS protean_admin_rebuild)
