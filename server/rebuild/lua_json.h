#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_JSON_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_JSON_H_

// JSON values as Lua values, both ways, for event payloads and json/jsonb columns.
//
// JSON to Lua: objects are tables; arrays are tables marked as arrays (so that an empty one
// is written back as []); strings; numbers are integers when written without a fraction or
// exponent and within 64 bits, floats otherwise; booleans; null is nil in an object (the
// field is absent) and `null` in an array or alone (so that items keep their positions).
//
// Lua to JSON: a table marked as an array, or with positive integer keys only, is an array
// (length: its largest key; missing items are null; very sparse tables are refused); other
// tables need string keys and are objects, their keys sorted bytewise (Lua's traversal
// order is not deterministic). Integers, finite floats (shortest round-trip text), decimals
// (their text, scale kept), strings (valid UTF-8 without NUL, as PostgreSQL's text needs),
// booleans and `null`. Functions and other values, NaN and infinities are refused.

#include <simdjson.h>

#include <lua.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace protean_admin::rebuild {

// Creates the array metatable (Context(L).array_metatable) and pushes the global `array`
// function: array(t) marks and returns t, array() a new empty array.
void OpenJsonLibrary(lua_State* L);

// Parses `text` and pushes its value. False, with Context(L).error, when it is not valid JSON
// (nothing pushed). Raises only when memory runs out.
bool PushJsonText(lua_State* L, std::string_view text);

// Parses `text`. When it is an object, sets each of `fields` in the table at `table` to its
// value (nil when absent or null: the table then reads, for those fields, exactly as the
// table PushJsonText would push) and pushes that table; otherwise pushes its value as
// PushJsonText does. False, with Context(L).error, when it is not valid JSON.
bool PushJsonFields(lua_State* L, std::string_view text, const std::vector<std::string>& fields,
                    int table);

// Pushes the value of a parsed element (`in_array`: null is `null`, else nil).
void PushJsonElement(lua_State* L, simdjson::dom::element element, bool in_array);

// Appends the JSON text of the value at `index` to `out`. False with Context(L).error.
bool EncodeJson(lua_State* L, int index, std::string& out);

// Appends `text` as a JSON string literal. False with `error` when `text` is not valid UTF-8
// or holds a NUL character.
bool AppendJsonString(std::string& out, std::string_view text, std::string& error);

// Checks that `text` is valid UTF-8 without NUL (what PostgreSQL text accepts). False with
// `error` otherwise.
bool CheckText(std::string_view text, std::string& error);

void MarkArray(lua_State* L, int index);
bool IsMarkedArray(lua_State* L, int index);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_JSON_H_
