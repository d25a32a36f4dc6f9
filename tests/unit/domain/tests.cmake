# Unit tests of the domain layer (domain/): no services needed.
foreach(t names parameters upcasters discovery env_substitution loader loader_errors model
    sql_type)
  protean_add_test(NAME domain_${t}_test LABEL unit
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}_test.cc
    LIBS protean_admin_domain)
endforeach()
target_compile_definitions(domain_loader_test PRIVATE
  PROTEAN_ADMIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_compile_definitions(domain_discovery_test PRIVATE
  PROTEAN_ADMIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
