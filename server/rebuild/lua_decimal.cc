#include "server/rebuild/lua_decimal.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "server/rebuild/column_ops.h"
#include "server/rebuild/lua_context.h"

namespace protean_admin::rebuild {
namespace {

// A decimal's userdata: this header, then its digits.
struct DecimalHeader {
  int32_t scale;
  uint32_t size;
  bool negative;
};

const char* Digits(const DecimalHeader* header) {
  return reinterpret_cast<const char*>(header + 1);
}

bool ParseDecimal(std::string_view text, Decimal& out, std::string& error) {
  absl::StatusOr<Decimal> parsed = Decimal::Parse(text);
  if (!parsed.ok()) {
    error = std::string(parsed.status().message());
    return false;
  }
  out = *std::move(parsed);
  return true;
}

void IntegerToDecimal(lua_Integer value, Decimal& out) {
  out.negative = value < 0;
  uint64_t magnitude = out.negative ? 0 - static_cast<uint64_t>(value) : value;
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), magnitude);
  out.digits.assign(buffer, end);
  out.scale = 0;
}

bool FloatToDecimal(double value, Decimal& out, std::string& error) {
  if (!std::isfinite(value)) {
    error = absl::StrCat("cannot convert ", std::isnan(value) ? "NaN" : "infinity", " to decimal");
    return false;
  }
  return ParseDecimal(FormatFloat8(value), out, error);
}

template <Decimal (*kOperation)(const Decimal&, const Decimal&)>
int Arithmetic(lua_State* L) {
  LuaContext& ctx = Context(L);
  if (!ToDecimal(L, 1, ctx.decimal_a) || !ToDecimal(L, 2, ctx.decimal_b)) {
    return RaiseContextError(L);
  }
  ctx.decimal_result = kOperation(ctx.decimal_a, ctx.decimal_b);
  PushDecimal(L, ctx.decimal_result);
  return 1;
}

// Compares the operands; pushes whether `accept(Compare(a, b))`.
template <bool (*kAccept)(int)>
int Comparison(lua_State* L) {
  LuaContext& ctx = Context(L);
  if (!ToDecimal(L, 1, ctx.decimal_a) || !ToDecimal(L, 2, ctx.decimal_b)) {
    return RaiseContextError(L);
  }
  lua_pushboolean(L, kAccept(Compare(ctx.decimal_a, ctx.decimal_b)));
  return 1;
}

bool Less(int c) { return c < 0; }
bool LessOrEqual(int c) { return c <= 0; }

int Equal(lua_State* L) {
  LuaContext& ctx = Context(L);
  if (!IsDecimal(L, 1) || !IsDecimal(L, 2)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  ReadDecimal(L, 1, ctx.decimal_a);
  ReadDecimal(L, 2, ctx.decimal_b);
  lua_pushboolean(L, Compare(ctx.decimal_a, ctx.decimal_b) == 0);
  return 1;
}

int Minus(lua_State* L) {
  LuaContext& ctx = Context(L);
  ReadDecimal(L, 1, ctx.decimal_a);
  ctx.decimal_result = Negate(ctx.decimal_a);
  PushDecimal(L, ctx.decimal_result);
  return 1;
}

// Replaces the decimal at `index` by its text.
void ToText(lua_State* L, int index) {
  LuaContext& ctx = Context(L);
  ReadDecimal(L, index, ctx.decimal_a);
  ctx.text = ctx.decimal_a.ToString();
  lua_pushlstring(L, ctx.text.data(), ctx.text.size());
  lua_replace(L, index);
}

int ToStringMeta(lua_State* L) {
  ToText(L, 1);
  lua_settop(L, 1);
  return 1;
}

int Concat(lua_State* L) {
  for (int i = 1; i <= 2; ++i) {
    if (IsDecimal(L, i)) ToText(L, i);
  }
  lua_concat(L, 2);
  return 1;
}

int Refuse(lua_State* L) { return luaL_error(L, "%s", lua_tostring(L, lua_upvalueindex(1))); }

int New(lua_State* L) {
  LuaContext& ctx = Context(L);
  if (!ToDecimal(L, 2, ctx.decimal_result)) return RaiseContextError(L);
  PushDecimal(L, ctx.decimal_result);
  return 1;
}

int ModifyConstructor(lua_State* L) {
  return luaL_error(L, "attempt to modify read-only table 'decimal'");
}

void SetRefusal(lua_State* L, const char* event, const char* message) {
  lua_pushstring(L, message);
  lua_pushcclosure(L, Refuse, 1);
  lua_setfield(L, -2, event);
}

}  // namespace

void OpenDecimalLibrary(lua_State* L) {
  static const luaL_Reg kMethods[] = {
      {"__add", Arithmetic<Add>},
      {"__sub", Arithmetic<Subtract>},
      {"__mul", Arithmetic<Multiply>},
      {"__unm", Minus},
      {"__eq", Equal},
      {"__lt", Comparison<Less>},
      {"__le", Comparison<LessOrEqual>},
      {"__tostring", ToStringMeta},
      {"__concat", Concat},
      {nullptr, nullptr},
  };
  lua_newtable(L);
  luaL_setfuncs(L, kMethods, 0);
  const char* division =
      "decimal division is not supported (numeric division has no fixed result scale); "
      "tonumber(tostring(d)) gives a float";
  SetRefusal(L, "__div", division);
  SetRefusal(L, "__idiv", division);
  SetRefusal(L, "__mod", division);
  SetRefusal(L, "__pow", "decimal exponentiation is not supported");
  lua_pushliteral(L, "decimal");
  lua_setfield(L, -2, "__name");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  Context(L).decimal_metatable = luaL_ref(L, LUA_REGISTRYINDEX);

  lua_newtable(L);  // the constructor
  lua_newtable(L);
  lua_pushcfunction(L, New);
  lua_setfield(L, -2, "__call");
  lua_pushcfunction(L, ModifyConstructor);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

bool IsDecimal(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TUSERDATA || !lua_getmetatable(L, index)) return false;
  lua_rawgeti(L, LUA_REGISTRYINDEX, Context(L).decimal_metatable);
  bool same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

void ReadDecimal(lua_State* L, int index, Decimal& out) {
  const auto* header = static_cast<const DecimalHeader*>(lua_touserdata(L, index));
  out.negative = header->negative;
  out.scale = header->scale;
  out.digits.assign(Digits(header), header->size);
}

bool ToDecimal(lua_State* L, int index, Decimal& out) {
  LuaContext& ctx = Context(L);
  switch (lua_type(L, index)) {
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        IntegerToDecimal(lua_tointeger(L, index), out);
        return true;
      }
      return FloatToDecimal(lua_tonumber(L, index), out, ctx.error);
    case LUA_TSTRING: {
      size_t size = 0;
      const char* text = lua_tolstring(L, index, &size);
      return ParseDecimal(std::string_view(text, size), out, ctx.error);
    }
    case LUA_TUSERDATA:
      if (IsDecimal(L, index)) {
        ReadDecimal(L, index, out);
        return true;
      }
      break;
    default:
      break;
  }
  ctx.error = "expected a number, a numeric string or a decimal, got ";
  ctx.error += IsNull(L, index) ? "null" : luaL_typename(L, index);
  return false;
}

void PushDecimal(lua_State* L, const Decimal& value) {
  if (value.digits.size() > kMaxDecimalDigits) {
    luaL_error(L, "decimal value with more than %d digits", static_cast<int>(kMaxDecimalDigits));
    return;
  }
  auto* header = static_cast<DecimalHeader*>(
      lua_newuserdatauv(L, sizeof(DecimalHeader) + value.digits.size(), 0));
  header->scale = value.scale;
  header->size = static_cast<uint32_t>(value.digits.size());
  header->negative = value.negative;
  std::memcpy(reinterpret_cast<char*>(header + 1), value.digits.data(), value.digits.size());
  lua_rawgeti(L, LUA_REGISTRYINDEX, Context(L).decimal_metatable);
  lua_setmetatable(L, -2);
}

}  // namespace protean_admin::rebuild
