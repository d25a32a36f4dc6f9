# The one-way layers of the repository (README.md, "Layout"): fails when a folder includes a
# folder it must not, or when the CLI's build names a daemon source or library.
protean_add_test(NAME layering_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/layering_test.cc
  LIBS absl::strings)
target_compile_definitions(layering_test PRIVATE
  PROTEAN_ADMIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
