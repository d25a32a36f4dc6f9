# Build options, warnings and sanitizers shared by every target.
option(PROTEAN_ADMIN_BUILD_TESTS "Build the unit, integration and e2e tests" ON)
option(PROTEAN_ADMIN_BUILD_BENCH "Build the benchmark" ON)
option(PROTEAN_ADMIN_BUILD_FUZZERS "Build libFuzzer targets (needs clang)" OFF)
option(PROTEAN_ADMIN_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(PROTEAN_ADMIN_COVERAGE "Build with coverage instrumentation" OFF)

add_compile_options(-Wall -Wextra -Werror)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false -Wrestrict positives inside libstdc++'s std::string at -O3
  # (GCC bug 105329); they are not about our code.
  add_compile_options(-Wno-restrict)
endif()

if(PROTEAN_ADMIN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(PROTEAN_ADMIN_COVERAGE)
  add_compile_options(--coverage)
  add_link_options(--coverage)
endif()
