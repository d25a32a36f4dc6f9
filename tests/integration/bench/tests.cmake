# The 20k-event smoke run of the benchmark (issue 6): correctness only, no timing assertions.
if(PROTEAN_ADMIN_BUILD_BENCH)
  protean_add_test(NAME bench_smoke_test LABEL integration TIMEOUT 600
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/bench_smoke_test.cc
    LIBS protean_admin_bench)
  target_compile_definitions(bench_smoke_test PRIVATE
    PROTEAN_BENCH_REBUILD_BIN="$<TARGET_FILE:rebuild_bench>"
    PROTEAN_BENCH_DAEMON_BIN="$<TARGET_FILE:protean-admind>"
    PROTEAN_BENCH_CLI_BIN="$<TARGET_FILE:protean-admin>"
    PROTEAN_BENCH_DOMAIN_FILE="${PROJECT_SOURCE_DIR}/bench/domain.toml")
  # bench/CMakeLists.txt (processed after tests/) adds the dependencies on the binaries.
endif()
