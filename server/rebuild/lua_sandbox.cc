#include "server/rebuild/lua_sandbox.h"

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"
#include "server/rebuild/lua_context.h"

namespace protean_admin::rebuild {
namespace {

// tostring without addresses: __tostring or __name when the value has one, else its type.
void PushText(lua_State* L, int index) {
  index = lua_absindex(L, index);
  if (luaL_getmetafield(L, index, "__tostring") != LUA_TNIL) {
    lua_pop(L, 1);
    luaL_tolstring(L, index, nullptr);
    return;
  }
  switch (lua_type(L, index)) {
    case LUA_TNIL:
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
    case LUA_TSTRING:
      luaL_tolstring(L, index, nullptr);
      return;
    case LUA_TLIGHTUSERDATA:
      if (IsNull(L, index)) {
        lua_pushliteral(L, "null");
        return;
      }
      break;
    default:
      break;
  }
  int name = luaL_getmetafield(L, index, "__name");
  if (name == LUA_TSTRING) return;
  if (name != LUA_TNIL) lua_pop(L, 1);
  lua_pushstring(L, luaL_typename(L, index));
}

int ToString(lua_State* L) {
  luaL_checkany(L, 1);
  PushText(L, 1);
  return 1;
}

bool IsAddressed(int type) {
  return type == LUA_TTABLE || type == LUA_TFUNCTION || type == LUA_TUSERDATA ||
         type == LUA_TLIGHTUSERDATA || type == LUA_TTHREAD;
}

int Format(lua_State* L) {
  size_t size = 0;
  const char* format = luaL_checklstring(L, 1, &size);
  for (size_t i = 0; i + 1 < size; ++i) {
    if (format[i] != '%') continue;
    ++i;
    while (i < size && (std::string_view("-+ #0.").find(format[i]) != std::string_view::npos ||
                        (format[i] >= '0' && format[i] <= '9'))) {
      ++i;
    }
    if (i < size && format[i] == 'p') {
      return luaL_error(L,
                        "string.format: '%%p' is not available (addresses are not deterministic)");
    }
  }
  int top = lua_gettop(L);
  for (int i = 2; i <= top; ++i) {
    if (!IsAddressed(lua_type(L, i))) continue;
    PushText(L, i);
    lua_replace(L, i);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, top, 1);
  return 1;
}

int ProtectedCall(lua_State* L) {
  luaL_checkany(L, 1);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  LuaContext& ctx = Context(L);
  if (status == LUA_ERRMEM && ctx.fatal == LuaContext::Fatal::kNone) {
    ctx.fatal = LuaContext::Fatal::kMemory;
  }
  if (ctx.fatal != LuaContext::Fatal::kNone) return lua_error(L);
  luaL_checkstack(L, 1, nullptr);
  lua_pushboolean(L, status == LUA_OK);
  lua_insert(L, 1);
  return lua_gettop(L);
}

int SetMetatable(lua_State* L) {
  int type = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
  if (type == LUA_TTABLE) {
    for (const char* field : {"__gc", "__mode"}) {
      lua_pushstring(L, field);
      if (lua_rawget(L, 2) != LUA_TNIL) {
        return luaL_error(L,
                          "setmetatable: %s is not available (it depends on when the "
                          "garbage collector runs)",
                          field);
      }
      lua_pop(L, 1);
    }
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
    return luaL_error(L, "cannot change a protected metatable");
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// Collects the keys of the table at 1 into the table at 2 (in traversal order) and
// ctx.sort_keys. False for a key type without a deterministic order.
bool CollectSortKeys(lua_State* L, LuaContext& ctx) {
  ctx.sort_keys.clear();
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    lua_pop(L, 1);
    LuaSortKey key;
    key.type = lua_type(L, -1);
    if (key.type == LUA_TNUMBER) {
      key.is_integer = lua_isinteger(L, -1);
      key.integer = lua_tointeger(L, -1);
      key.number = lua_tonumber(L, -1);
    } else if (key.type == LUA_TSTRING) {
      size_t size = 0;
      const char* text = lua_tolstring(L, -1, &size);
      key.string = std::string_view(text, size);
    } else if (key.type == LUA_TBOOLEAN) {
      key.integer = lua_toboolean(L, -1);
    } else {
      ctx.error = absl::StrCat("pairs: ", luaL_typename(L, -1),
                               " keys have no deterministic order (use ipairs, or keep a list "
                               "of keys)");
      lua_pop(L, 1);
      return false;
    }
    key.position = static_cast<int>(ctx.sort_keys.size()) + 1;
    ctx.sort_keys.push_back(key);
    lua_pushvalue(L, -1);
    lua_rawseti(L, 2, key.position);
  }
  return true;
}

int Rank(int type) { return type == LUA_TNUMBER ? 0 : type == LUA_TSTRING ? 1 : 2; }

bool KeyLess(const LuaSortKey& a, const LuaSortKey& b) {
  if (a.type != b.type) return Rank(a.type) < Rank(b.type);
  if (a.type == LUA_TSTRING) return a.string < b.string;
  if (a.type == LUA_TBOOLEAN) return a.integer < b.integer;
  if (a.is_integer && b.is_integer) return a.integer < b.integer;
  // Integer and non-integral float keys are never equal; long double holds both exactly.
  long double x = a.is_integer ? static_cast<long double>(a.integer) : a.number;
  long double y = b.is_integer ? static_cast<long double>(b.integer) : b.number;
  return x < y;
}

void SortKeys(LuaContext& ctx) { std::sort(ctx.sort_keys.begin(), ctx.sort_keys.end(), KeyLess); }

int PairsNext(lua_State* L) {
  lua_Integer position = lua_tointeger(L, lua_upvalueindex(2));
  while (true) {
    if (lua_rawgeti(L, lua_upvalueindex(1), ++position) == LUA_TNIL) return 1;
    lua_pushvalue(L, -1);
    if (lua_rawget(L, 1) != LUA_TNIL) break;  // skips keys removed while traversing
    lua_pop(L, 2);
  }
  lua_pushinteger(L, position);
  lua_replace(L, lua_upvalueindex(2));
  return 2;
}

int Pairs(lua_State* L) {
  luaL_checkany(L, 1);
  if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {
    lua_pushvalue(L, 1);
    lua_call(L, 1, 3);
    return 3;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L);  // 2: keys in traversal order
  LuaContext& ctx = Context(L);
  if (!CollectSortKeys(L, ctx)) return RaiseContextError(L);
  SortKeys(ctx);
  lua_createtable(L, static_cast<int>(ctx.sort_keys.size()), 0);  // 3: keys in order
  for (size_t i = 0; i < ctx.sort_keys.size(); ++i) {
    lua_rawgeti(L, 2, ctx.sort_keys[i].position);
    lua_rawseti(L, 3, static_cast<lua_Integer>(i) + 1);
  }
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, PairsNext, 2);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// Whether item `a` of the table at `table` sorts before item `b` (the comparator at 2, or <).
bool SortLess(lua_State* L, int table, lua_Integer a, lua_Integer b, bool comparator) {
  if (comparator) lua_pushvalue(L, 2);
  lua_rawgeti(L, table, a);
  lua_rawgeti(L, table, b);
  bool less = false;
  if (comparator) {
    lua_call(L, 2, 1);
    less = lua_toboolean(L, -1);
    lua_pop(L, 1);
  } else {
    less = lua_compare(L, -2, -1, LUA_OPLT);
    lua_pop(L, 2);
  }
  return less;
}

// Merges runs [lo, mid) and [mid, hi) of `from` into `to`, left items first among equals.
void Merge(lua_State* L, int from, int to, lua_Integer lo, lua_Integer mid, lua_Integer hi,
           bool comparator) {
  lua_Integer i = lo, j = mid;
  for (lua_Integer k = lo; k < hi; ++k) {
    bool right = j < hi && (i >= mid || SortLess(L, from, j, i, comparator));
    lua_rawgeti(L, from, right ? j++ : i++);
    lua_rawseti(L, to, k);
  }
}

int Sort(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  bool comparator = !lua_isnoneornil(L, 2);
  if (comparator) luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_argcheck(L, n < INT_MAX, 1, "array too big");
  lua_settop(L, 2);
  if (n < 2) return 0;
  luaL_checkstack(L, 6, nullptr);
  lua_createtable(L, static_cast<int>(n), 0);  // 3: the other buffer
  int from = 1, to = 3;
  for (lua_Integer width = 1; width < n; width *= 2) {
    for (lua_Integer lo = 1; lo <= n; lo += 2 * width) {
      Merge(L, from, to, lo, std::min(lo + width, n + 1), std::min(lo + 2 * width, n + 1),
            comparator);
    }
    std::swap(from, to);
  }
  if (from != 1) {
    for (lua_Integer k = 1; k <= n; ++k) {
      lua_rawgeti(L, from, k);
      lua_rawseti(L, 1, k);
    }
  }
  return 0;
}

int AssignGlobal(lua_State* L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    return luaL_error(L, "assignment to global '%s'", lua_tostring(L, 2));
  }
  return luaL_error(L, "assignment to a global");
}

int ModifyLibrary(lua_State* L) {
  return luaL_error(L, "attempt to modify read-only table '%s'",
                    lua_tostring(L, lua_upvalueindex(1)));
}

void TightenLibraries(lua_State* L, int string, int math, int table) {
  lua_pushnil(L);
  lua_setfield(L, string, "dump");
  lua_getfield(L, string, "format");
  lua_pushcclosure(L, Format, 1);
  lua_setfield(L, string, "format");
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
  lua_pushnil(L);
  lua_setfield(L, math, "random");
  lua_pushnil(L);
  lua_setfield(L, math, "randomseed");
  lua_pushcfunction(L, Sort);
  lua_setfield(L, table, "sort");
}

}  // namespace

void PushReadOnlyProxy(lua_State* L, int index, const char* name) {
  index = lua_absindex(L, index);
  lua_newtable(L);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, index);
  lua_setfield(L, -2, "__index");
  if (name == nullptr) {
    lua_pushcfunction(L, AssignGlobal);
  } else {
    lua_pushstring(L, name);
    lua_pushcclosure(L, ModifyLibrary, 1);
  }
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

void PushSandboxGlobals(lua_State* L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
  int base = lua_gettop(L);
  static const struct {
    const char* name;
    lua_CFunction open;
  } kLibraries[] = {{LUA_STRLIBNAME, luaopen_string},
                    {LUA_MATHLIBNAME, luaopen_math},
                    {LUA_TABLIBNAME, luaopen_table},
                    {LUA_UTF8LIBNAME, luaopen_utf8}};
  for (const auto& library : kLibraries) luaL_requiref(L, library.name, library.open, 0);
  TightenLibraries(L, base + 1, base + 2, base + 3);

  lua_newtable(L);
  int globals = lua_gettop(L);
  for (const char* name : {"assert", "error", "getmetatable", "ipairs", "rawequal", "rawget",
                           "rawlen", "select", "tonumber", "type", "_VERSION"}) {
    lua_getfield(L, base, name);
    lua_setfield(L, globals, name);
  }
  static const luaL_Reg kReplaced[] = {{"pcall", ProtectedCall},
                                       {"tostring", ToString},
                                       {"pairs", Pairs},
                                       {"setmetatable", SetMetatable},
                                       {nullptr, nullptr}};
  luaL_setfuncs(L, kReplaced, 0);
  for (int i = 0; i < 4; ++i) {
    PushReadOnlyProxy(L, base + 1 + i, kLibraries[i].name);
    lua_setfield(L, globals, kLibraries[i].name);
  }
  lua_copy(L, globals, base);
  lua_settop(L, base);
}

}  // namespace protean_admin::rebuild
