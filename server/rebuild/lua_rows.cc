#include "server/rebuild/lua_rows.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/rebuild/lua_context.h"
#include "server/rebuild/lua_decimal.h"
#include "server/rebuild/lua_json.h"

namespace protean_admin::rebuild {
namespace {

// Up to this many rows per call, keys are found by a linear scan.
constexpr int kIndexThreshold = 8;

LuaRowSet& Rows(lua_State* L) { return *Context(L).rows; }

void SetCell(storage::Cell& cell, const std::string& text) {
  if (cell) {
    cell->assign(text);
  } else {
    cell.emplace(text);
  }
}

void SetFunction(lua_State* L, const char* name, lua_CFunction function, int upvalue_ref) {
  if (upvalue_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, upvalue_ref);
    lua_pushcclosure(L, function, 1);
  } else {
    lua_pushcfunction(L, function);
  }
  lua_setfield(L, -2, name);
}

void Protect(lua_State* L, const char* name) {
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
}

}  // namespace

void LuaRowSet::Open(lua_State* L) {
  const int n = static_cast<int>(columns_.size());
  lua_createtable(L, n, 0);  // names
  lua_createtable(L, 0, n);  // name -> index
  for (int c = 0; c < n; ++c) {
    lua_pushstring(L, columns_[c].type.spec.name.c_str());
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, c + 1);
    lua_pushinteger(L, c);
    lua_rawset(L, -3);
  }
  columns_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  names_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  tables_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);

  lua_newtable(L);
  SetFunction(L, "__index", RowIndex, columns_ref_);
  SetFunction(L, "__newindex", RowNewIndex, columns_ref_);
  SetFunction(L, "__pairs", RowPairs, columns_ref_);
  SetFunction(L, "__eq", RowEqual, LUA_NOREF);
  SetFunction(L, "__tostring", RowToString, LUA_NOREF);
  Protect(L, "row");
  row_metatable_ = luaL_ref(L, LUA_REGISTRYINDEX);

  lua_newuserdatauv(L, 0, 0);
  lua_newtable(L);
  SetFunction(L, "__index", RowsIndex, LUA_NOREF);
  SetFunction(L, "__newindex", RowsNewIndex, LUA_NOREF);
  Protect(L, "rows");
  lua_setmetatable(L, -2);
}

void LuaRowSet::Begin(LuaRowSource* source) {
  source_ = source;
  source_error_ = absl::OkStatus();
  ++call_;
  count_ = 0;
  write_order_.clear();
  index_.clear();
}

void LuaRowSet::BeginLua(lua_State* L) {
  if (!tables_used_) return;
  lua_newtable(L);
  lua_rawseti(L, LUA_REGISTRYINDEX, tables_ref_);
  tables_used_ = false;
}

bool LuaRowSet::KeyText(lua_State* L, int index, std::string& key) {
  LuaContext& ctx = Context(L);
  switch (lua_type(L, index)) {
    case LUA_TSTRING: {
      size_t size = 0;
      const char* text = lua_tolstring(L, index, &size);
      key.assign(text, size);
      if (!CheckTextCell(columns_[key_index_].type, key, ctx.error)) {
        ctx.error = absl::StrCat("row key: ", ctx.error);
        return false;
      }
      break;
    }
    case LUA_TNUMBER: {
      int is_integer = 0;
      lua_Integer value = lua_tointegerx(L, index, &is_integer);
      if (!is_integer) {
        ctx.error = absl::StrCat("row keys are strings or integers, got ", lua_tonumber(L, index));
        return false;
      }
      key.clear();
      absl::StrAppend(&key, value);
      break;
    }
    case LUA_TUSERDATA:
      if (IsDecimal(L, index)) {
        ReadDecimal(L, index, ctx.decimal_a);
        key = ctx.decimal_a.ToString();
        break;
      }
      [[fallthrough]];
    default:
      ctx.error = lua_isnil(L, index) ? "row key is nil"
                                      : absl::StrCat("row keys are strings or integers, got ",
                                                     luaL_typename(L, index));
      return false;
  }
  const ColumnSpec& spec = columns_[key_index_].type.spec;
  if (!spec.numeric_kind()) return true;
  absl::StatusOr<std::string> canonical = CoerceValue(spec, key);
  if (!canonical.ok()) {
    ctx.error = absl::StrCat("row key: ", canonical.status().message());
    return false;
  }
  key = *std::move(canonical);
  return true;
}

int LuaRowSet::Find(const std::string& key) const {
  if (count_ > kIndexThreshold) {
    auto it = index_.find(key);
    return it == index_.end() ? -1 : it->second;
  }
  for (int e = 0; e < count_; ++e) {
    if (entries_[e].key == key) return e;
  }
  return -1;
}

int LuaRowSet::Add(lua_State* L, const std::string& key) {
  if (count_ == static_cast<int>(entries_.size())) entries_.emplace_back();
  Entry& entry = entries_[count_];
  entry.key = key;
  entry.version = 0;
  entry.present = entry.fresh = entry.written = false;
  entry.cells.resize(columns_.size());
  entry.flags.assign(columns_.size(), 0);
  entry.baselines.clear();
  if (count_ == kIndexThreshold) {
    for (int e = 0; e < count_; ++e) index_.emplace(entries_[e].key, e);
  }
  if (count_ >= kIndexThreshold) index_.emplace(key, count_);
  if (!Account(L, sizeof(Entry) + key.size() + columns_.size() * (sizeof(storage::Cell) + 1))) {
    return -1;
  }
  return count_++;
}

bool LuaRowSet::Load(lua_State* L, int e) {
  LuaContext& ctx = Context(L);
  Entry& entry = entries_[e];
  absl::StatusOr<bool> found = source_->Get(entry.key, entry.cells);
  if (found.ok() && entry.cells.size() != columns_.size()) {
    found = absl::InternalError(absl::StrCat("the row source gave ", entry.cells.size(),
                                             " cells for ", columns_.size(), " columns"));
  }
  if (!found.ok()) {
    source_error_ = found.status();
    ctx.fatal = LuaContext::Fatal::kRowSource;
    ctx.error = absl::StrCat("reading row '", entry.key, "': ", found.status().message());
    return false;
  }
  entry.present = *found;
  size_t bytes = 0;
  for (const storage::Cell& cell : entry.cells) bytes += cell ? cell->size() : 0;
  return Account(L, bytes);
}

bool LuaRowSet::Account(lua_State* L, size_t bytes) {
  LuaContext& ctx = Context(L);
  ctx.extra_used += bytes;
  if (ctx.memory_used + ctx.extra_used <= ctx.memory_limit) return true;
  ctx.fatal = LuaContext::Fatal::kMemory;
  ctx.error = absl::StrCat("memory budget of ", ctx.memory_limit, " bytes exceeded");
  return false;
}

void LuaRowSet::MarkWritten(int e) {
  if (entries_[e].written) return;
  entries_[e].written = true;
  write_order_.push_back(e);
}

void LuaRowSet::PushTables(lua_State* L) { lua_rawgeti(L, LUA_REGISTRYINDEX, tables_ref_); }

void LuaRowSet::PushRow(lua_State* L, int e) {
  auto* ref = static_cast<RowRef*>(lua_newuserdatauv(L, sizeof(RowRef), 0));
  ref->entry = static_cast<uint32_t>(e);
  ref->version = entries_[e].version;
  ref->call = call_;
  lua_rawgeti(L, LUA_REGISTRYINDEX, row_metatable_);
  lua_setmetatable(L, -2);
}

int LuaRowSet::RowsIndex(lua_State* L) {
  LuaRowSet& set = Rows(L);
  if (!set.KeyText(L, 2, set.key_)) return RaiseContextError(L);
  int e = set.Find(set.key_);
  if (e < 0) {
    e = set.Add(L, set.key_);
    if (e < 0 || !set.Load(L, e)) return RaiseContextError(L);
  }
  if (!set.entries_[e].present) {
    lua_pushnil(L);
  } else {
    set.PushRow(L, e);
  }
  return 1;
}

int LuaRowSet::RowsNewIndex(lua_State* L) {
  LuaRowSet& set = Rows(L);
  if (!set.KeyText(L, 2, set.key_)) return RaiseContextError(L);
  int type = lua_type(L, 3);
  if (type != LUA_TNIL && type != LUA_TTABLE) {
    return luaL_error(L,
                      "rows[k] takes a table of column values, or nil to delete the row (got %s)",
                      luaL_typename(L, 3));
  }
  int first = lua_gettop(L) + 1;
  if (type == LUA_TTABLE && !set.StageRow(L, 3, first)) return RaiseContextError(L);
  int e = set.Find(set.key_);
  if (e < 0) e = set.Add(L, set.key_);
  if (e < 0) return RaiseContextError(L);
  if (type == LUA_TNIL) {
    set.Delete(e);
  } else if (!set.CommitRow(L, e, first)) {
    return RaiseContextError(L);
  }
  return 0;
}

bool LuaRowSet::StageRow(lua_State* L, int table, int first) {
  LuaContext& ctx = Context(L);
  const int n = static_cast<int>(columns_.size());
  if (!lua_checkstack(L, n + 4)) {
    ctx.error = "too many columns";
    return false;
  }
  staged_cells_.resize(n);
  staged_flags_.assign(n, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, names_ref_);  // at `first`
  int given = 0;
  for (int c = 0; c < n; ++c) {
    lua_rawgeti(L, first, c + 1);
    lua_rawget(L, table);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    ++given;
    const LuaColumn& column = columns_[c];
    if (c == key_index_) {
      if (!KeyText(L, -1, other_key_) || other_key_ != key_) {
        ctx.error = absl::StrCat("column ", column.type.spec.name, " is the row's key: rows['",
                                 key_, "'] cannot set it to another value");
        return false;
      }
      lua_pop(L, 1);
      continue;
    }
    if (column.generated) {
      ctx.error =
          absl::StrCat("column ", column.type.spec.name, " is generated: it cannot be written");
      return false;
    }
    staged_flags_[c] = kAssigned;
    if (lua_type(L, -1) == LUA_TTABLE && column.holds_tables()) {
      staged_flags_[c] |= kTable;  // stays on the stack for CommitRow
      continue;
    }
    CellResult result = ToCell(L, column, -1, ctx.text);
    if (result == CellResult::kError) return false;
    if (result == CellResult::kNull) {
      staged_cells_[c].reset();
    } else {
      SetCell(staged_cells_[c], ctx.text);
    }
    lua_pop(L, 1);
  }
  int keys = 0;
  lua_pushnil(L);
  while (lua_next(L, table) != 0) {
    lua_pop(L, 1);
    ++keys;
  }
  return keys == given || UnknownColumn(L, table);
}

// Names the first (bytewise) key of the table at `table` that is not a column. Always false.
bool LuaRowSet::UnknownColumn(lua_State* L, int table) {
  LuaContext& ctx = Context(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, columns_ref_);
  int columns = lua_gettop(L);
  std::string_view unknown;
  bool found = false;
  lua_pushnil(L);
  while (lua_next(L, table) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      ctx.error = absl::StrCat("rows[k] = {...} takes column names as keys, got a ",
                               luaL_typename(L, -1), " key");
      lua_pop(L, 2);
      return false;
    }
    lua_pushvalue(L, -1);
    bool is_column = lua_rawget(L, columns) != LUA_TNIL;
    lua_pop(L, 1);
    size_t size = 0;
    const char* name = lua_tolstring(L, -1, &size);
    if (!is_column && (!found || std::string_view(name, size) < unknown)) {
      unknown = std::string_view(name, size);
      found = true;
    }
  }
  ctx.error = absl::StrCat("table ", table_, " has no column '", std::string(unknown), "'");
  lua_pop(L, 1);
  return false;
}

bool LuaRowSet::CommitRow(lua_State* L, int e, int first) {
  Entry& entry = entries_[e];
  ++entry.version;
  entry.present = true;
  entry.fresh = true;
  entry.baselines.clear();
  int table_values = 0;
  size_t bytes = 0;
  for (size_t c = 0; c < columns_.size(); ++c) {
    entry.flags[c] = staged_flags_[c];
    if (static_cast<int>(c) == key_index_) {
      SetCell(entry.cells[c], entry.key);
      entry.flags[c] = kAssigned;
    } else if (staged_flags_[c] & kTable) {
      entry.cells[c].reset();
      PushTables(L);
      lua_pushvalue(L, first + 1 + table_values++);
      lua_rawseti(L, -2, Slot(e, static_cast<int>(c)));
      lua_pop(L, 1);
      tables_used_ = true;
    } else if (staged_flags_[c] & kAssigned) {
      entry.cells[c] = staged_cells_[c];
      bytes += entry.cells[c] ? entry.cells[c]->size() : 0;
    } else {
      entry.cells[c].reset();
    }
  }
  lua_settop(L, first - 1);
  MarkWritten(e);
  return Account(L, bytes);
}

void LuaRowSet::Delete(int e) {
  Entry& entry = entries_[e];
  ++entry.version;
  entry.present = false;
  entry.fresh = false;
  entry.flags.assign(columns_.size(), 0);
  entry.baselines.clear();
  MarkWritten(e);
}

bool LuaRowSet::CheckRow(lua_State* L, int index, int& e) {
  LuaContext& ctx = Context(L);
  const auto* ref = static_cast<const RowRef*>(lua_touserdata(L, index));
  if (ref->call != call_) {
    ctx.error = "a row can only be used while handling the event that read it";
    return false;
  }
  e = static_cast<int>(ref->entry);
  const Entry& entry = entries_[e];
  if (entry.version != ref->version || !entry.present) {
    ctx.error = absl::StrCat("row '", entry.key,
                             "' was replaced or deleted since it was read: read rows[k] again");
    return false;
  }
  return true;
}

bool LuaRowSet::ColumnOf(lua_State* L, int index, int& column) {
  lua_pushvalue(L, index);
  if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNUMBER) {
    column = static_cast<int>(lua_tointeger(L, -1));
    lua_pop(L, 1);
    return true;
  }
  lua_pop(L, 1);
  LuaContext& ctx = Context(L);
  if (lua_type(L, index) == LUA_TSTRING) {
    ctx.error = absl::StrCat("table ", table_, " has no column '", lua_tostring(L, index), "'");
  } else {
    ctx.error = absl::StrCat("columns are named by strings, got ", luaL_typename(L, index));
  }
  return false;
}

void LuaRowSet::PushColumn(lua_State* L, int e, int c) {
  if (entries_[e].flags[c] & kTable) {
    PushTables(L);
    lua_rawgeti(L, -1, Slot(e, c));
    lua_remove(L, -2);
    return;
  }
  const storage::Cell& cell = entries_[e].cells[c];
  if (!cell) {
    lua_pushnil(L);
    return;
  }
  if (!PushCell(L, columns_[c], *cell)) {
    luaL_error(L, "column %s: %s", columns_[c].type.spec.name.c_str(), Context(L).error.c_str());
    return;
  }
  if (columns_[c].holds_tables() && lua_type(L, -1) == LUA_TTABLE && RememberBaseline(L, e, c)) {
    PushTables(L);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, Slot(e, c));
    lua_pop(L, 1);
    entries_[e].flags[c] |= kTable | kTableRead;
    tables_used_ = true;
  }
}

// The encoding of the table just read for column `c`, to tell in Finish whether the handler
// changed it in place. False when it cannot be encoded back (it is then not tracked).
bool LuaRowSet::RememberBaseline(lua_State* L, int e, int c) {
  LuaContext& ctx = Context(L);
  if (ToCell(L, columns_[c], -1, ctx.baseline) != CellResult::kValue) return false;
  entries_[e].baselines.emplace_back(c, ctx.baseline);
  return true;
}

int LuaRowSet::RowIndex(lua_State* L) {
  LuaRowSet& set = Rows(L);
  int e = 0, c = 0;
  if (!set.CheckRow(L, 1, e) || !set.ColumnOf(L, 2, c)) return RaiseContextError(L);
  set.PushColumn(L, e, c);
  return 1;
}

int LuaRowSet::RowNewIndex(lua_State* L) {
  LuaRowSet& set = Rows(L);
  int e = 0, c = 0;
  if (!set.CheckRow(L, 1, e) || !set.ColumnOf(L, 2, c)) return RaiseContextError(L);
  const LuaColumn& column = set.columns_[c];
  if (c == set.key_index_) {
    if (set.KeyText(L, 3, set.other_key_) && set.other_key_ == set.entries_[e].key) return 0;
    return luaL_error(L, "column %s is the row's key: write rows[new_key] = {...} to move a row",
                      column.type.spec.name.c_str());
  }
  if (column.generated) {
    return luaL_error(L, "column %s is generated: it cannot be written",
                      column.type.spec.name.c_str());
  }
  if (!set.AssignCell(L, e, c, 3)) return RaiseContextError(L);
  return 0;
}

bool LuaRowSet::AssignCell(lua_State* L, int e, int c, int value) {
  LuaContext& ctx = Context(L);
  const LuaColumn& column = columns_[c];
  if (lua_type(L, value) == LUA_TTABLE && column.holds_tables()) {
    PushTables(L);
    lua_pushvalue(L, value);
    lua_rawseti(L, -2, Slot(e, c));
    lua_pop(L, 1);
    tables_used_ = true;
    entries_[e].flags[c] = kAssigned | kTable;
    entries_[e].cells[c].reset();
    MarkWritten(e);
    return true;
  }
  CellResult result = ToCell(L, column, value, ctx.text);
  if (result == CellResult::kError) return false;
  storage::Cell& cell = entries_[e].cells[c];
  if (result == CellResult::kNull) {
    cell.reset();
  } else {
    SetCell(cell, ctx.text);
  }
  entries_[e].flags[c] = kAssigned;
  MarkWritten(e);
  return Account(L, result == CellResult::kNull ? 0 : ctx.text.size());
}

int LuaRowSet::RowPairs(lua_State* L) {
  int e = 0;
  if (!Rows(L).CheckRow(L, 1, e)) return RaiseContextError(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, RowNext, 1);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

int LuaRowSet::RowNext(lua_State* L) {
  LuaRowSet& set = Rows(L);
  int e = 0, start = 0;
  if (!set.CheckRow(L, 1, e)) return RaiseContextError(L);
  if (!lua_isnoneornil(L, 2)) {
    if (!set.ColumnOf(L, 2, start)) return RaiseContextError(L);
    ++start;
  }
  for (int c = start; c < static_cast<int>(set.columns_.size()); ++c) {
    if (!(set.entries_[e].flags[c] & kTable) && !set.entries_[e].cells[c]) continue;
    lua_rawgeti(L, LUA_REGISTRYINDEX, set.names_ref_);
    lua_rawgeti(L, -1, c + 1);
    lua_remove(L, -2);
    set.PushColumn(L, e, c);
    return 2;
  }
  lua_pushnil(L);
  return 1;
}

int LuaRowSet::RowEqual(lua_State* L) {
  LuaRowSet& set = Rows(L);
  bool equal = false;
  if (lua_getmetatable(L, 1) && lua_getmetatable(L, 2)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, set.row_metatable_);
    if (lua_rawequal(L, -1, -2) && lua_rawequal(L, -1, -3)) {
      const auto* a = static_cast<const RowRef*>(lua_touserdata(L, 1));
      const auto* b = static_cast<const RowRef*>(lua_touserdata(L, 2));
      equal = a->entry == b->entry && a->version == b->version && a->call == b->call;
    }
  }
  lua_pushboolean(L, equal);
  return 1;
}

int LuaRowSet::RowToString(lua_State* L) {
  LuaRowSet& set = Rows(L);
  const auto* ref = static_cast<const RowRef*>(lua_touserdata(L, 1));
  if (ref->call != set.call_ || ref->entry >= set.entries_.size()) {
    lua_pushliteral(L, "row");
  } else {
    lua_pushfstring(L, "row %s", set.entries_[ref->entry].key.c_str());
  }
  return 1;
}

void LuaRowSet::Finish(lua_State* L) {
  for (int e = 0; e < count_; ++e) {
    if (!entries_[e].present) continue;
    for (int c = 0; c < static_cast<int>(columns_.size()); ++c) {
      if ((entries_[e].flags[c] & kTable) && !FinishColumn(L, e, c)) {
        RaiseContextError(L);
        return;
      }
    }
  }
}

bool LuaRowSet::FinishColumn(lua_State* L, int e, int c) {
  LuaContext& ctx = Context(L);
  Entry& entry = entries_[e];
  PushTables(L);
  lua_rawgeti(L, -1, Slot(e, c));
  CellResult result = ToCell(L, columns_[c], -1, ctx.text);
  lua_pop(L, 2);
  if (result == CellResult::kError) {
    ctx.error = absl::StrCat("row '", entry.key, "': ", ctx.error);
    return false;
  }
  if (entry.flags[c] & kTableRead) {
    for (const auto& [column, baseline] : entry.baselines) {
      if (column == c && result == CellResult::kValue && baseline == ctx.text) return true;
    }
  }
  if (result == CellResult::kNull) {
    entry.cells[c].reset();
  } else {
    SetCell(entry.cells[c], ctx.text);
  }
  entry.flags[c] = kAssigned;
  MarkWritten(e);
  return Account(L, ctx.text.size());
}

void LuaRowSet::Emit(std::vector<LuaRowChange>& changes) {
  changes.resize(write_order_.size());
  for (size_t i = 0; i < write_order_.size(); ++i) {
    Entry& entry = entries_[write_order_[i]];
    LuaRowChange& change = changes[i];
    change.key = entry.key;
    change.present = entry.present;
    change.fresh = entry.present && entry.fresh;
    if (!entry.present) {
      change.cells.clear();
      change.assigned.clear();
      continue;
    }
    // The call is over: its entries' cells are overwritten before they are read again (Add
    // is followed by Load or CommitRow), so their buffers are swapped out, not copied.
    change.cells.swap(entry.cells);
    change.assigned.resize(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
      change.assigned[c] = (entry.flags[c] & kAssigned) != 0;
    }
  }
}

}  // namespace protean_admin::rebuild
