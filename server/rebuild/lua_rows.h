#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_ROWS_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_ROWS_H_

// The rows of one call of a Lua handler (internal to lua_runtime.cc): the `rows` object and
// the row objects handlers use (lua_runtime.h), over the rows the call read and wrote.
// Writes stay here until the call succeeds; Emit then hands them out.
//
// Tables held by json/jsonb and array columns (assigned, or read and possibly changed in
// place) are encoded when the handler returns (Finish): a table read from a column and
// modified in place (table.insert(r.items, x)) updates the column.

#include <lua.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "server/rebuild/lua_columns.h"
#include "server/rebuild/lua_runtime.h"

namespace protean_admin::rebuild {

class LuaRowSet {
 public:
  // `table`: the projection table's name, for messages.
  LuaRowSet(const std::vector<LuaColumn>& columns, int key_index, std::string table)
      : columns_(columns), key_index_(key_index), table_(std::move(table)) {}

  // Creates the metatables and pushes the `rows` object.
  void Open(lua_State* L);
  // Starts a call that reads rows through `source` (no Lua calls).
  void Begin(LuaRowSource* source);
  // The Lua side of Begin, inside the call's protected run.
  void BeginLua(lua_State* L);
  // After the handler returned, inside the protected run: encodes the tables held for
  // json/jsonb and array columns. Raises when one cannot be written.
  void Finish(lua_State* L);
  // The rows the finished call wrote, in first-write order, into `changes` (their cells
  // are moved out: the call's rows are not used again).
  void Emit(std::vector<LuaRowChange>& changes);
  // Why the row source failed (after a failure with LuaContext::Fatal::kRowSource).
  const absl::Status& source_error() const { return source_error_; }

 private:
  static constexpr uint8_t kAssigned = 1;   // the call gave the column a value
  static constexpr uint8_t kTable = 2;      // a table for the column is held in tables_ref_
  static constexpr uint8_t kTableRead = 4;  // ... read from the cell (baseline: its encoding)

  struct Entry {
    std::string key;
    uint32_t version = 0;  // changes when the row is replaced or deleted
    bool present = false;
    bool fresh = false;
    bool written = false;
    std::vector<storage::Cell> cells;
    std::vector<uint8_t> flags;
    std::vector<std::pair<int, std::string>> baselines;
  };
  struct RowRef {
    uint32_t entry;
    uint32_t version;
    uint64_t call;
  };

  static int RowsIndex(lua_State* L);
  static int RowsNewIndex(lua_State* L);
  static int RowIndex(lua_State* L);
  static int RowNewIndex(lua_State* L);
  static int RowPairs(lua_State* L);
  static int RowNext(lua_State* L);
  static int RowEqual(lua_State* L);
  static int RowToString(lua_State* L);

  // Steps of the functions above; false with Context(L).error (never raising).
  bool KeyText(lua_State* L, int index, std::string& key);
  int Find(const std::string& key) const;
  int Add(lua_State* L, const std::string& key);  // -1: the memory budget is exceeded
  bool Load(lua_State* L, int entry);
  bool CheckRow(lua_State* L, int index, int& entry);
  bool ColumnOf(lua_State* L, int index, int& column);
  bool StageRow(lua_State* L, int table, int first_staged);
  bool CommitRow(lua_State* L, int entry, int first_staged);
  bool UnknownColumn(lua_State* L, int table);
  void Delete(int entry);
  bool AssignCell(lua_State* L, int entry, int column, int value);
  void PushRow(lua_State* L, int entry);
  void PushColumn(lua_State* L, int entry, int column);
  bool RememberBaseline(lua_State* L, int entry, int column);
  bool FinishColumn(lua_State* L, int entry, int column);
  void MarkWritten(int entry);
  bool Account(lua_State* L, size_t bytes);
  void PushTables(lua_State* L);
  lua_Integer Slot(int entry, int column) const {
    return static_cast<lua_Integer>(entry) * static_cast<lua_Integer>(columns_.size()) + column + 1;
  }

  const std::vector<LuaColumn>& columns_;
  int key_index_;
  std::string table_;
  LuaRowSource* source_ = nullptr;
  absl::Status source_error_;
  uint64_t call_ = 0;
  std::vector<Entry> entries_;  // [0, count_) are this call's; the rest are kept for reuse
  int count_ = 0;
  absl::flat_hash_map<std::string, int> index_;  // key -> entry, once there are many
  std::vector<int> write_order_;
  std::string key_, other_key_;
  std::vector<storage::Cell> staged_cells_;
  std::vector<uint8_t> staged_flags_;
  int tables_ref_ = LUA_NOREF;  // this call's tables of json and array columns, by Slot
  bool tables_used_ = false;
  int row_metatable_ = LUA_NOREF;
  int names_ref_ = LUA_NOREF;    // column index + 1 -> name
  int columns_ref_ = LUA_NOREF;  // name -> column index
};

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_ROWS_H_
