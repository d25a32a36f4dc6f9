#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_COLUMNS_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_COLUMNS_H_

// How projection columns map to Lua values in handlers, both ways. The rules users rely on:
//
//  int2/int4/int8    integers. Written from integers, floats with an integral value,
//                    integral decimals or integer strings; out of range is the error
//                    PostgreSQL gives ("smallint out of range").
//  float8            floats (doubles), so that additions in event order give what
//                    PostgreSQL's per-event arithmetic gives; written from numbers, decimals
//                    (their text) or strings (float8in's spellings), stored as the shortest
//                    round-trip text (column_ops.h FormatFloat8).
//  float4            floats holding the single-precision value; a number is rounded to single
//                    precision as PostgreSQL's float8-to-float4 cast does (overflow and
//                    underflow are errors); strings and decimals go through float4in.
//  numeric, numeric(p,s)  decimals (lua_decimal.h): never a binary double. Written from
//                    decimals, integers and strings exactly, or from floats through their
//                    shortest round-trip text (0.1 is 0.1); then rounded half away from zero
//                    to s and checked against p as a numeric(p,s) column does
//                    (decimal.h ApplyTypmod): "numeric field overflow" beyond p.
//  bool              booleans; written from booleans or boolin's spellings ("t", "yes", ...).
//  json, jsonb       the JSON value (lua_json.h); written from tables, strings (a JSON string),
//                    numbers, decimals, booleans and `null` (JSON null).
//  arrays            (text[], varchar[], json[], jsonb[], int4[], numeric[], ...) tables of
//                    items, `null` for a NULL item, nested tables for more dimensions (json
//                    and jsonb items are JSON values instead). Each item is read and written
//                    as the element type; written as an array literal with every item quoted
//                    ("a \"b\"", backslashes escaped) and NULL for `null`.
//  anything else     (text, varchar(n), char(n), uuid, timestamp, date, ...) strings; written
//                    from strings, numbers and decimals (their text) or booleans ("true" /
//                    "false"). varchar(n) and char(n) lengths are checked as PostgreSQL does
//                    (characters beyond n must be spaces, which are dropped). Other types'
//                    syntax is PostgreSQL's to check when the row is written.
//  nil writes NULL, and so does `null` except into json/jsonb (JSON null). Every string
//  written must be valid UTF-8 without NUL, as PostgreSQL text requires.

#include <lua.hpp>
#include <string>
#include <string_view>

#include "server/rebuild/column_ops.h"
#include "storage/projection_table.h"

namespace protean_admin::rebuild {

enum class LuaValueKind { kInteger, kFloat4, kFloat8, kNumeric, kBool, kJson, kArray, kText };

struct LuaValueType {
  LuaValueKind kind = LuaValueKind::kText;
  ColumnSpec spec;     // name, SQL type, numeric(p,s)
  int max_chars = -1;  // varchar(n), char(n)
  bool blank_padded = false;
};

struct LuaColumn {
  LuaValueType type;
  LuaValueType element;  // kArray: the items' type
  bool generated = false;

  static LuaColumn From(const storage::ColumnInfo& info);
  // json/jsonb and arrays: values that are tables.
  bool holds_tables() const {
    return type.kind == LuaValueKind::kJson || type.kind == LuaValueKind::kArray;
  }
};

// Pushes the Lua value of a cell that is not NULL. False, with Context(L).error and nothing
// pushed, when `text` is not valid for the column's type. Raises only when memory runs out.
bool PushCell(lua_State* L, const LuaColumn& column, std::string_view text);

enum class CellResult { kNull, kValue, kError };

// The cell the Lua value at `index` writes: kNull, kValue (its text in `out`), or kError with
// Context(L).error naming the column. Never raises, except when memory runs out.
CellResult ToCell(lua_State* L, const LuaColumn& column, int index, std::string& out);

// Checks `text` for a text-like column (kText): valid UTF-8 without NUL, and at most n
// characters for varchar(n) and char(n) (beyond n only spaces, which are dropped). False with
// `error` otherwise.
bool CheckTextCell(const LuaValueType& type, std::string& text, std::string& error);

// PostgreSQL's boolean input ("t", "true", "yes", "on", "1", unique prefixes, any case).
bool ParseBool(std::string_view text, bool& value);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_COLUMNS_H_
