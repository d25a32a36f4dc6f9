#ifndef PROTEAN_ADMIN_TESTS_UNIT_REBUILD_LUA_TEST_UTIL_H_
#define PROTEAN_ADMIN_TESTS_UNIT_REBUILD_LUA_TEST_UTIL_H_

// Shared by the Lua runtime's unit tests: a projection table with every column kind, a row
// source over a map, and a harness that compiles and runs one handler.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/rebuild/lua_runtime.h"

namespace protean_admin::rebuild::lua_testing {

inline storage::ColumnInfo Column(std::string name, std::string type_sql, std::string type_name,
                                  int32_t typmod = -1, bool generated = false) {
  storage::ColumnInfo column;
  column.name = std::move(name);
  column.type_sql = std::move(type_sql);
  column.type_name = std::move(type_name);
  column.typmod = typmod;
  column.generated = generated;
  return column;
}

// numeric(p, s)'s typmod.
inline int32_t NumericTypmod(int precision, int scale) { return ((precision << 16) | scale) + 4; }

// Every column kind (key: id).
inline storage::TableInfo AllKindsTable() {
  storage::TableInfo table;
  table.schema = "public";
  table.table = "t";
  table.qualified = "\"public\".\"t\"";
  table.columns = {
      Column("id", "text", "text"),
      Column("i2", "smallint", "int2"),
      Column("i4", "integer", "int4"),
      Column("i8", "bigint", "int8"),
      Column("f4", "real", "float4"),
      Column("f8", "double precision", "float8"),
      Column("n", "numeric", "numeric"),
      Column("n2", "numeric(12,2)", "numeric", NumericTypmod(12, 2)),
      Column("t", "text", "text"),
      Column("v", "character varying(5)", "varchar", 5 + 4),
      Column("b", "boolean", "bool"),
      Column("j", "json", "json"),
      Column("jb", "jsonb", "jsonb"),
      Column("ja", "json[]", "_json"),
      Column("jba", "jsonb[]", "_jsonb"),
      Column("ta", "text[]", "_text"),
      Column("va", "character varying(3)[]", "_varchar", 3 + 4),
      Column("ia", "integer[]", "_int4"),
      Column("g", "text", "text", -1, /*generated=*/true),
  };
  return table;
}

class MapSource : public LuaRowSource {
 public:
  absl::StatusOr<bool> Get(std::string_view key, std::vector<storage::Cell>& cells) override {
    gets.emplace_back(key);
    if (!fail.ok()) return fail;
    auto it = rows.find(std::string(key));
    if (it == rows.end()) return false;
    cells = it->second;
    return true;
  }

  std::map<std::string, std::vector<storage::Cell>> rows;
  std::vector<std::string> gets;
  absl::Status fail;
};

class LuaHarness {
 public:
  explicit LuaHarness(storage::TableInfo table = AllKindsTable(), int key_index = 0,
                      LuaLimits limits = {})
      : table_(std::move(table)) {
    auto runtime = LuaRuntime::Create(table_, key_index, limits);
    EXPECT_TRUE(runtime.ok()) << runtime.status();
    if (runtime.ok()) runtime_ = *std::move(runtime);
    meta.global_position = 1234;
    meta.position = 7;
    meta.time = "2024-05-01 12:34:56.789";
    meta.stream_name = "bank::user-42-x";
    meta.type = "Bank.Registered.v1";
    meta.id = "bank::user-42-x-7.1";
    meta.version = 1;
  }

  // Compiles `source` as the handler at domain.toml line 10 and runs it once.
  absl::StatusOr<std::vector<LuaRowChange>> Run(const std::string& source,
                                                const std::string& payload = "{}") {
    absl::StatusOr<int> id = runtime_->Compile(source, "domain.toml", 10);
    if (!id.ok()) return id.status();
    return runtime_->Call(*id, payload, meta, source_rows);
  }

  // The error message of running `source` ("OK" when it succeeds).
  std::string Error(const std::string& source, const std::string& payload = "{}") {
    auto result = Run(source, payload);
    return result.ok() ? "OK" : std::string(result.status().message());
  }

  // A whole row: the given columns set, the others NULL.
  std::vector<storage::Cell> Row(const std::vector<std::pair<std::string, std::string>>& cells) {
    std::vector<storage::Cell> row(table_.columns.size());
    for (const auto& [name, value] : cells) row[Index(name)] = value;
    return row;
  }

  int Index(const std::string& name) const {
    int index = table_.ColumnIndex(name);
    EXPECT_GE(index, 0) << name;
    return index;
  }

  storage::Cell Cell(const LuaRowChange& change, const std::string& column) const {
    return change.cells.at(Index(column));
  }

  // The only change of a call that wrote one row.
  static const LuaRowChange& Only(const std::vector<LuaRowChange>& changes) {
    EXPECT_EQ(changes.size(), 1u);
    static const LuaRowChange kNone;
    return changes.empty() ? kNone : changes[0];
  }

  // The cell `column` of the only row the handler wrote ("<error: ...>" when it failed,
  // "NULL" for NULL).
  std::string Write(const std::string& source, const std::string& column,
                    const std::string& payload = "{}") {
    auto result = Run(source, payload);
    if (!result.ok()) return "<error: " + std::string(result.status().message()) + ">";
    if (result->size() != 1) return "<" + std::to_string(result->size()) + " rows>";
    storage::Cell cell = Cell((*result)[0], column);
    return cell ? *cell : "NULL";
  }

  LuaRuntime& runtime() { return *runtime_; }
  const storage::TableInfo& table() const { return table_; }

  LuaMeta meta;
  MapSource source_rows;

 private:
  storage::TableInfo table_;
  std::unique_ptr<LuaRuntime> runtime_;
};

}  // namespace protean_admin::rebuild::lua_testing

#endif  // PROTEAN_ADMIN_TESTS_UNIT_REBUILD_LUA_TEST_UTIL_H_
