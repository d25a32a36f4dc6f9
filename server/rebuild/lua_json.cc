#include "server/rebuild/lua_json.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "server/rebuild/column_ops.h"
#include "server/rebuild/lua_context.h"
#include "server/rebuild/lua_decimal.h"

namespace protean_admin::rebuild {
namespace {

namespace dom = simdjson::dom;

// Lua errors may unwind through PushJsonElement's frames (lua_context.h).
static_assert(std::is_trivially_destructible_v<dom::element>);
static_assert(std::is_trivially_destructible_v<dom::array>);
static_assert(std::is_trivially_destructible_v<dom::object>);
static_assert(std::is_trivially_destructible_v<dom::array::iterator>);
static_assert(std::is_trivially_destructible_v<dom::object::iterator>);
static_assert(std::is_trivially_destructible_v<dom::key_value_pair>);

bool Fail(LuaContext& ctx, std::string_view message) {
  ctx.error.assign(message.data(), message.size());
  return false;
}

bool ParseElement(LuaContext& ctx, std::string_view text, dom::element& element) {
  ctx.padded.assign(text.data(), text.size());
  ctx.padded.resize(text.size() + simdjson::SIMDJSON_PADDING, '\0');
  auto result = ctx.parser.parse(ctx.padded.data(), text.size(), false);
  if (result.error()) {
    ctx.error = absl::StrCat("invalid JSON: ", simdjson::error_message(result.error()));
    return false;
  }
  element = result.value_unsafe();
  return true;
}

bool EncodeValue(lua_State* L, int index, std::string& out, int depth);

bool AppendNumber(lua_State* L, int index, std::string& out, LuaContext& ctx) {
  if (lua_isinteger(L, index)) {
    absl::StrAppend(&out, lua_tointeger(L, index));
    return true;
  }
  double value = lua_tonumber(L, index);
  if (!std::isfinite(value)) return Fail(ctx, "cannot encode NaN or infinity as JSON");
  out += FormatFloat8(value);
  return true;
}

// Collects the keys of the table at `index`: string keys into ctx.json_keys[depth], the
// largest positive integer key into `max_index`. False for any other key.
bool CollectKeys(lua_State* L, int index, int depth, lua_Integer& max_index, size_t& count) {
  LuaContext& ctx = Context(L);
  std::vector<std::string_view>& keys = ctx.json_keys[depth];
  keys.clear();
  max_index = 0;
  count = 0;
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    ++count;
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t size = 0;
      const char* key = lua_tolstring(L, -2, &size);
      keys.emplace_back(key, size);
    } else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
      max_index = std::max(max_index, lua_tointeger(L, -2));
    } else {
      ctx.error = absl::StrCat("cannot encode a table with a ", luaL_typename(L, -2),
                               " key as JSON (object keys are strings, array indexes 1, 2, ...)");
      lua_pop(L, 2);
      return false;
    }
    lua_pop(L, 1);
  }
  return true;
}

bool EncodeArray(lua_State* L, int index, std::string& out, int depth, lua_Integer length) {
  out.push_back('[');
  for (lua_Integer i = 1; i <= length; ++i) {
    if (i > 1) out.push_back(',');
    lua_rawgeti(L, index, i);
    bool ok = EncodeValue(L, -1, out, depth + 1);
    lua_pop(L, 1);
    if (!ok) return false;
  }
  out.push_back(']');
  return true;
}

bool EncodeObject(lua_State* L, int index, std::string& out, int depth) {
  LuaContext& ctx = Context(L);
  std::vector<std::string_view>& keys = ctx.json_keys[depth];
  std::sort(keys.begin(), keys.end());
  out.push_back('{');
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (!AppendJsonString(out, keys[i], ctx.error)) return false;
    out.push_back(':');
    lua_pushlstring(L, keys[i].data(), keys[i].size());
    lua_rawget(L, index);
    bool ok = EncodeValue(L, -1, out, depth + 1);
    lua_pop(L, 1);
    if (!ok) return false;
  }
  out.push_back('}');
  return true;
}

bool EncodeTable(lua_State* L, int index, std::string& out, int depth) {
  LuaContext& ctx = Context(L);
  if (depth >= LuaContext::kMaxNesting) {
    return Fail(ctx, "tables nested more than 64 deep (a table that contains itself?)");
  }
  if (!lua_checkstack(L, 4)) return Fail(ctx, "tables nested too deeply");
  lua_Integer max_index = 0;
  size_t count = 0;
  if (!CollectKeys(L, index, depth, max_index, count)) return false;
  bool has_names = !ctx.json_keys[depth].empty();
  bool marked = IsMarkedArray(L, index);
  if (has_names && (max_index > 0 || marked)) {
    return Fail(ctx, "cannot encode a table with both array items and named fields as JSON");
  }
  if (has_names || (count == 0 && !marked)) return EncodeObject(L, index, out, depth);
  if (max_index > 16 && static_cast<size_t>(max_index) / 2 > count) {
    ctx.error = absl::StrCat("cannot encode a sparse array as JSON (", count, " items up to index ",
                             max_index, ")");
    return false;
  }
  return EncodeArray(L, index, out, depth, max_index);
}

bool EncodeValue(lua_State* L, int index, std::string& out, int depth) {
  LuaContext& ctx = Context(L);
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      out += "null";
      return true;
    case LUA_TBOOLEAN:
      out += lua_toboolean(L, index) ? "true" : "false";
      return true;
    case LUA_TNUMBER:
      return AppendNumber(L, index, out, ctx);
    case LUA_TSTRING: {
      size_t size = 0;
      const char* text = lua_tolstring(L, index, &size);
      return AppendJsonString(out, std::string_view(text, size), ctx.error);
    }
    case LUA_TTABLE:
      return EncodeTable(L, index, out, depth);
    case LUA_TLIGHTUSERDATA:
      if (IsNull(L, index)) {
        out += "null";
        return true;
      }
      break;
    case LUA_TUSERDATA:
      if (IsDecimal(L, index)) {
        ReadDecimal(L, index, ctx.decimal_a);
        out += ctx.decimal_a.ToString();
        return true;
      }
      break;
    default:
      break;
  }
  ctx.error = absl::StrCat("cannot encode a ", luaL_typename(L, index), " value as JSON");
  return false;
}

int ArrayFunction(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (!IsMarkedArray(L, 1) && lua_getmetatable(L, 1)) {
      return luaL_error(L, "array(t): t already has a metatable");
    }
  }
  MarkArray(L, 1);
  return 1;
}

}  // namespace

void OpenJsonLibrary(lua_State* L) {
  lua_newtable(L);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  Context(L).array_metatable = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushcfunction(L, ArrayFunction);
}

bool PushJsonText(lua_State* L, std::string_view text) {
  dom::element element;
  if (!ParseElement(Context(L), text, element)) return false;
  PushJsonElement(L, element, true);
  return true;
}

bool PushJsonFields(lua_State* L, std::string_view text, const std::vector<std::string>& fields,
                    int table) {
  table = lua_absindex(L, table);
  dom::element element;
  if (!ParseElement(Context(L), text, element)) return false;
  if (element.type() != dom::element_type::OBJECT) {
    PushJsonElement(L, element, true);
    return true;
  }
  dom::object object = element.get_object().value_unsafe();
  for (const std::string& name : fields) {
    lua_pushlstring(L, name.data(), name.size());
    // The last of duplicate keys wins, as in PushJsonElement.
    dom::element value;
    bool found = false;
    for (dom::key_value_pair field : object) {
      if (field.key == name) {
        value = field.value;
        found = true;
      }
    }
    if (found && !value.is_null()) {
      PushJsonElement(L, value, false);
    } else {
      lua_pushnil(L);
    }
    lua_rawset(L, table);
  }
  lua_pushvalue(L, table);
  return true;
}

void PushJsonElement(lua_State* L, dom::element element, bool in_array) {
  luaL_checkstack(L, 3, "JSON nested too deeply");
  switch (element.type()) {
    case dom::element_type::ARRAY: {
      dom::array array = element.get_array().value_unsafe();
      lua_createtable(L, static_cast<int>(array.size()), 0);
      MarkArray(L, -1);
      lua_Integer i = 0;
      for (dom::element item : array) {
        PushJsonElement(L, item, true);
        lua_rawseti(L, -2, ++i);
      }
      return;
    }
    case dom::element_type::OBJECT: {
      dom::object object = element.get_object().value_unsafe();
      lua_createtable(L, 0, static_cast<int>(object.size()));
      for (dom::key_value_pair field : object) {
        if (field.value.is_null()) continue;
        lua_pushlstring(L, field.key.data(), field.key.size());
        PushJsonElement(L, field.value, false);
        lua_rawset(L, -3);
      }
      return;
    }
    case dom::element_type::INT64:
      lua_pushinteger(L, element.get_int64().value_unsafe());
      return;
    case dom::element_type::UINT64:
      lua_pushnumber(L, static_cast<double>(element.get_uint64().value_unsafe()));
      return;
    case dom::element_type::DOUBLE:
      lua_pushnumber(L, element.get_double().value_unsafe());
      return;
    case dom::element_type::STRING: {
      std::string_view text = element.get_string().value_unsafe();
      lua_pushlstring(L, text.data(), text.size());
      return;
    }
    case dom::element_type::BOOL:
      lua_pushboolean(L, element.get_bool().value_unsafe());
      return;
    case dom::element_type::NULL_VALUE:
      if (in_array) {
        PushNull(L);
      } else {
        lua_pushnil(L);
      }
      return;
  }
  lua_pushnil(L);
}

bool EncodeJson(lua_State* L, int index, std::string& out) { return EncodeValue(L, index, out, 0); }

bool CheckText(std::string_view text, std::string& error) {
  if (std::memchr(text.data(), '\0', text.size()) != nullptr) {
    error = "string contains a NUL character, which PostgreSQL text cannot hold";
    return false;
  }
  if (!simdjson::validate_utf8(text.data(), text.size())) {
    error = "string is not valid UTF-8";
    return false;
  }
  return true;
}

bool AppendJsonString(std::string& out, std::string_view text, std::string& error) {
  if (!CheckText(text, error)) return false;
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u >= 0x20) {
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  out.push_back('"');
  return true;
}

void MarkArray(lua_State* L, int index) {
  index = lua_absindex(L, index);
  lua_rawgeti(L, LUA_REGISTRYINDEX, Context(L).array_metatable);
  lua_setmetatable(L, index);
}

bool IsMarkedArray(lua_State* L, int index) {
  if (!lua_getmetatable(L, index)) return false;
  lua_rawgeti(L, LUA_REGISTRYINDEX, Context(L).array_metatable);
  bool same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

}  // namespace protean_admin::rebuild
