#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_CONTEXT_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_CONTEXT_H_

// Internal to the Lua runtime (server/rebuild/lua_*.cc): what every C function of one Lua
// state reaches through the state's extra space, and the rule that keeps C++ safe from Lua
// errors.
//
// Lua 5.4 is a C library: it raises errors with longjmp, which skips C++ destructors. A C
// function called from Lua therefore never holds an object with a non-trivial destructor in
// a frame that calls a Lua function that may raise (luaL_error, luaL_check*, lua_call, or
// anything that pushes a string, table or userdata, which may run out of memory). C++ work
// happens in helpers that return before anything is raised, leaving their results and
// messages in this context's reusable buffers (which also spares an allocation per call).

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <lua.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "server/rebuild/decimal.h"
#include "server/rebuild/lua_runtime.h"
#include "server/rebuild/pg_array.h"

namespace protean_admin::rebuild {

class LuaRowSet;  // lua_rows.h

// A key of a table being traversed in a deterministic order (lua_sandbox.cc).
struct LuaSortKey {
  int type = 0;  // LUA_TNUMBER, LUA_TSTRING or LUA_TBOOLEAN
  bool is_integer = false;
  lua_Integer integer = 0;
  double number = 0;
  std::string_view string;
  int position = 0;  // where the key was collected
};

struct LuaContext {
  static constexpr int kMaxNesting = 64;  // tables inside tables, JSON and arrays

  // Budgets (lua_runtime.cc). The instruction count is per call, the memory per state.
  int64_t instruction_limit = 0;
  int64_t instructions_left = 0;
  int hook_interval = 0;
  size_t memory_limit = 0;
  size_t memory_used = 0;  // bytes Lua holds
  size_t extra_used = 0;   // bytes of row state (C++) held for the current call, counted too
  // Set when a budget is exceeded or the row source fails: the call fails whatever the
  // handler does (a pcall in the handler raises it again).
  enum class Fatal { kNone, kInstructions, kMemory, kRowSource };
  Fatal fatal = Fatal::kNone;

  std::string error;     // the message of the next raise (RaiseContextError)
  std::string text;      // a value converted to cell text
  std::string item;      // an array item converted to text
  std::string baseline;  // a table read from a column, encoded back
  Decimal decimal_a, decimal_b, decimal_result;
  std::vector<std::vector<std::string_view>> json_keys =
      std::vector<std::vector<std::string_view>>(kMaxNesting + 2);
  std::vector<PgArrayToken> array_tokens;
  std::vector<LuaSortKey> sort_keys;
  simdjson::dom::parser parser;
  std::string padded;  // JSON input with simdjson's padding

  // Registry references of the shared metatables.
  int decimal_metatable = LUA_NOREF;
  int array_metatable = LUA_NOREF;

  LuaRowSet* rows = nullptr;      // the current call's rows (lua_rows.h)
  const LuaMeta* meta = nullptr;  // the current call's message
};

inline LuaContext& Context(lua_State* L) {
  return **static_cast<LuaContext**>(lua_getextraspace(L));
}

// Raises Context(L).error as a Lua error, with the position of the calling Lua code.
inline int RaiseContextError(lua_State* L) { return luaL_error(L, "%s", Context(L).error.c_str()); }

// `null`: JSON null inside arrays and array NULL items (nil cannot be stored in a table).
inline void PushNull(lua_State* L) { lua_pushlightuserdata(L, nullptr); }
inline bool IsNull(lua_State* L, int index) {
  return lua_type(L, index) == LUA_TLIGHTUSERDATA && lua_touserdata(L, index) == nullptr;
}

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_CONTEXT_H_
