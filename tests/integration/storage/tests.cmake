protean_add_test(NAME message_store_fixture_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/message_store_fixture_test.cc
  LIBS protean_admin_storage)
protean_add_test(NAME storage_reader_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/message_reader_test.cc
  LIBS protean_admin_storage TIMEOUT 60)
protean_add_test(NAME storage_prefetcher_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/message_prefetcher_test.cc
  LIBS protean_admin_storage TIMEOUT 120)
protean_add_test(NAME storage_parallel_reader_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/parallel_reader_test.cc
  LIBS protean_admin_storage TIMEOUT 120)
