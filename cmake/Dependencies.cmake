# All dependencies come from Debian 12 packages (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
# Debian ships no protobuf CONFIG package: module mode.
find_package(Protobuf 3.21 REQUIRED MODULE)
find_package(gRPC 1.51 REQUIRED CONFIG)
find_package(absl REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(PostgreSQL 15 REQUIRED)
find_package(GTest REQUIRED CONFIG)
find_package(tomlplusplus REQUIRED CONFIG)
find_package(simdjson REQUIRED CONFIG)
find_package(nlohmann_json 3.11 REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
# The Lua form of projector handlers (server/rebuild/lua_runtime.h).
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
