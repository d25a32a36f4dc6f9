#include "server/rebuild/lua_columns.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/rebuild/lua_context.h"
#include "server/rebuild/lua_decimal.h"
#include "server/rebuild/lua_json.h"

namespace protean_admin::rebuild {
namespace {

LuaValueType TypeOf(const storage::ColumnInfo& info) {
  LuaValueType type;
  type.spec = ColumnSpec::From(info);
  const std::string& name = info.type_name;
  if (name == "int2" || name == "int4" || name == "int8") {
    type.kind = LuaValueKind::kInteger;
  } else if (name == "float4") {
    type.kind = LuaValueKind::kFloat4;
  } else if (name == "float8") {
    type.kind = LuaValueKind::kFloat8;
  } else if (name == "numeric") {
    type.kind = LuaValueKind::kNumeric;
  } else if (name == "bool") {
    type.kind = LuaValueKind::kBool;
  } else if (name == "json" || name == "jsonb") {
    type.kind = LuaValueKind::kJson;
  } else if ((name == "varchar" || name == "bpchar") && info.typmod >= 4) {
    type.max_chars = info.typmod - 4;
    type.blank_padded = name == "bpchar";
  }
  return type;
}

bool Fail(std::string& error, std::string_view message) {
  error.assign(message.data(), message.size());
  return false;
}

bool WrongType(lua_State* L, const LuaValueType& type, int index, std::string& error) {
  error = absl::StrCat("cannot write a ", IsNull(L, index) ? "null" : luaL_typename(L, index),
                       " into column ", type.spec.name, " (", type.spec.type_sql, ")");
  return false;
}

bool FromStatus(const absl::Status& status, std::string& error) {
  if (status.ok()) return true;
  error = std::string(status.message());
  return false;
}

bool Coerce(const LuaValueType& type, std::string_view text, std::string& out, std::string& error) {
  absl::StatusOr<std::string> coerced = CoerceValue(type.spec, text);
  if (!coerced.ok()) return FromStatus(coerced.status(), error);
  out = *std::move(coerced);
  return true;
}

bool CheckIntegerRange(const LuaValueType& type, lua_Integer value, std::string& error) {
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  if (type.spec.kind == ColumnKind::kInt16) {
    lo = std::numeric_limits<int16_t>::min();
    hi = std::numeric_limits<int16_t>::max();
  } else if (type.spec.kind == ColumnKind::kInt32) {
    lo = std::numeric_limits<int32_t>::min();
    hi = std::numeric_limits<int32_t>::max();
  }
  if (value >= lo && value <= hi) return true;
  error = absl::StrCat(type.spec.type_sql, " out of range (column ", type.spec.name, ")");
  return false;
}

bool IntegerCell(lua_State* L, const LuaValueType& type, int index, std::string& out) {
  LuaContext& ctx = Context(L);
  int is_integer = 0;
  lua_Integer value = 0;
  switch (lua_type(L, index)) {
    case LUA_TNUMBER:
      value = lua_tointegerx(L, index, &is_integer);
      if (!is_integer) {
        return Fail(ctx.error, absl::StrCat("number has no integer representation (column ",
                                            type.spec.name, ")"));
      }
      break;
    case LUA_TSTRING:
      return Coerce(type, lua_tostring(L, index), out, ctx.error);
    case LUA_TUSERDATA: {
      if (!IsDecimal(L, index)) return WrongType(L, type, index, ctx.error);
      ReadDecimal(L, index, ctx.decimal_a);
      absl::StatusOr<Decimal> whole = ApplyTypmod(ctx.decimal_a, -1, 0);
      if (!whole.ok() || Compare(*whole, ctx.decimal_a) != 0) {
        return Fail(ctx.error,
                    absl::StrCat("decimal ", ctx.decimal_a.ToString(),
                                 " has no integer representation (column ", type.spec.name, ")"));
      }
      return Coerce(type, whole->ToString(), out, ctx.error);
    }
    default:
      return WrongType(L, type, index, ctx.error);
  }
  if (!CheckIntegerRange(type, value, ctx.error)) return false;
  out.clear();
  absl::StrAppend(&out, value);
  return true;
}

// The double a number, decimal or float8in string at `index` gives.
bool DoubleOf(lua_State* L, const LuaValueType& type, int index, double& value) {
  LuaContext& ctx = Context(L);
  std::string_view text;
  if (lua_type(L, index) == LUA_TNUMBER) {
    value = lua_tonumber(L, index);
    return true;
  }
  if (lua_type(L, index) == LUA_TSTRING) {
    size_t size = 0;
    const char* s = lua_tolstring(L, index, &size);
    text = std::string_view(s, size);
  } else if (IsDecimal(L, index)) {
    ReadDecimal(L, index, ctx.decimal_a);
    ctx.item = ctx.decimal_a.ToString();
    text = ctx.item;
  } else {
    return WrongType(L, type, index, ctx.error);
  }
  absl::StatusOr<double> parsed = ParseFloat8(type.spec, text);
  if (!parsed.ok()) return FromStatus(parsed.status(), ctx.error);
  value = *parsed;
  return true;
}

bool Float8Cell(lua_State* L, const LuaValueType& type, int index, std::string& out) {
  double value = 0;
  if (!DoubleOf(L, type, index, value)) return false;
  if (!std::isfinite(value)) {
    out = FormatFloat8(value);
    return true;
  }
  char buffer[32];  // what FormatFloat8 gives, without a temporary string
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.assign(buffer, end);
  return true;
}

bool Float4Cell(lua_State* L, const LuaValueType& type, int index, std::string& out) {
  LuaContext& ctx = Context(L);
  if (lua_type(L, index) != LUA_TNUMBER) {
    if (lua_type(L, index) == LUA_TSTRING) {
      return Coerce(type, lua_tostring(L, index), out, ctx.error);
    }
    if (!IsDecimal(L, index)) return WrongType(L, type, index, ctx.error);
    ReadDecimal(L, index, ctx.decimal_a);
    return Coerce(type, ctx.decimal_a.ToString(), out, ctx.error);
  }
  double value = lua_tonumber(L, index);
  auto single = static_cast<float>(value);
  if (std::isinf(single) && !std::isinf(value)) {
    return Fail(ctx.error, "value out of range: overflow (column " + type.spec.name + ")");
  }
  if (single == 0 && value != 0) {
    return Fail(ctx.error, "value out of range: underflow (column " + type.spec.name + ")");
  }
  return Coerce(type, FormatFloat8(single), out, ctx.error);
}

bool NumericCell(lua_State* L, const LuaValueType& type, int index, std::string& out) {
  LuaContext& ctx = Context(L);
  if (lua_type(L, index) != LUA_TNUMBER && lua_type(L, index) != LUA_TSTRING &&
      !IsDecimal(L, index)) {
    return WrongType(L, type, index, ctx.error);
  }
  if (!ToDecimal(L, index, ctx.decimal_result)) return false;
  if (type.spec.kind == ColumnKind::kNumeric) {
    absl::StatusOr<Decimal> rounded =
        ApplyTypmod(ctx.decimal_result, type.spec.precision, type.spec.scale);
    if (!rounded.ok()) return FromStatus(rounded.status(), ctx.error);
    out = rounded->ToString();
  } else {
    out = ctx.decimal_result.ToString();
  }
  return true;
}

bool BoolCell(lua_State* L, const LuaValueType& type, int index, std::string& out) {
  LuaContext& ctx = Context(L);
  bool value = false;
  if (lua_type(L, index) == LUA_TBOOLEAN) {
    value = lua_toboolean(L, index);
  } else if (lua_type(L, index) == LUA_TSTRING) {
    if (!ParseBool(lua_tostring(L, index), value)) {
      return Fail(ctx.error, absl::StrCat("invalid input syntax for type boolean: \"",
                                          lua_tostring(L, index), "\""));
    }
  } else {
    return WrongType(L, type, index, ctx.error);
  }
  out = value ? "true" : "false";
  return true;
}

// varchar(n), char(n): at most n characters, or more whose excess is spaces (dropped).
bool CheckLength(const LuaValueType& type, std::string& out, std::string& error) {
  // A character takes at least a byte: no more bytes than allowed characters is short enough.
  if (type.max_chars < 0 || out.size() <= static_cast<size_t>(type.max_chars)) return true;
  int chars = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if ((static_cast<unsigned char>(out[i]) & 0xC0) == 0x80) continue;
    if (++chars > type.max_chars) {
      if (out.find_first_not_of(' ', i) != std::string::npos) {
        error = absl::StrCat("value too long for type ",
                             type.blank_padded ? "character" : "character varying", "(",
                             type.max_chars, ") (column ", type.spec.name, ")");
        return false;
      }
      out.resize(i);
      break;
    }
  }
  return true;
}

bool TextCell(lua_State* L, const LuaValueType& type, int index, std::string& out) {
  LuaContext& ctx = Context(L);
  switch (lua_type(L, index)) {
    case LUA_TSTRING: {
      size_t size = 0;
      const char* text = lua_tolstring(L, index, &size);
      out.assign(text, size);
      return CheckTextCell(type, out, ctx.error);
    }
    case LUA_TNUMBER:
      out.clear();
      if (lua_isinteger(L, index)) {
        absl::StrAppend(&out, lua_tointeger(L, index));
      } else {
        out = FormatFloat8(lua_tonumber(L, index));
      }
      return CheckLength(type, out, ctx.error);
    case LUA_TBOOLEAN:
      out = lua_toboolean(L, index) ? "true" : "false";
      return CheckLength(type, out, ctx.error);
    case LUA_TUSERDATA:
      if (!IsDecimal(L, index)) break;
      ReadDecimal(L, index, ctx.decimal_a);
      out = ctx.decimal_a.ToString();
      return CheckLength(type, out, ctx.error);
    default:
      break;
  }
  return WrongType(L, type, index, ctx.error);
}

// The text of a non-nil, non-null scalar value for `type` (not an array).
bool ScalarCell(lua_State* L, const LuaValueType& type, int index, std::string& out) {
  switch (type.kind) {
    case LuaValueKind::kInteger:
      return IntegerCell(L, type, index, out);
    case LuaValueKind::kFloat4:
      return Float4Cell(L, type, index, out);
    case LuaValueKind::kFloat8:
      return Float8Cell(L, type, index, out);
    case LuaValueKind::kNumeric:
      return NumericCell(L, type, index, out);
    case LuaValueKind::kBool:
      return BoolCell(L, type, index, out);
    case LuaValueKind::kJson:
      out.clear();
      return EncodeJson(L, index, out);
    case LuaValueKind::kArray:
    case LuaValueKind::kText:
      return TextCell(L, type, index, out);
  }
  return false;
}

// The shape of an array being written: every sub-array at one depth has one length, and
// every item sits at the same depth.
struct ArrayShape {
  lua_Integer lengths[LuaContext::kMaxNesting + 1];
  int item_depth = -1;
};

bool EncodePgArray(lua_State* L, const LuaColumn& column, int index, std::string& out, int depth,
                   ArrayShape& shape) {
  LuaContext& ctx = Context(L);
  std::string& error = ctx.error;
  if (depth >= LuaContext::kMaxNesting) return Fail(error, "array nested more than 64 deep");
  if (!lua_checkstack(L, 3)) return Fail(error, "array nested too deeply");
  index = lua_absindex(L, index);
  lua_Integer length = 0;
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
      lua_pop(L, 1);
      return Fail(error, absl::StrCat("array column ", column.type.spec.name,
                                      " takes a table of items 1, 2, ... (no named fields)"));
    }
    length = std::max(length, lua_tointeger(L, -1));
  }
  if (depth > 0 && length == 0) return Fail(error, "an array cannot hold an empty sub-array");
  if (depth > 0 && shape.lengths[depth] != length) {
    if (shape.lengths[depth] >= 0) {
      return Fail(error, "multidimensional arrays must have sub-arrays of matching lengths");
    }
    shape.lengths[depth] = length;
  }
  out.push_back('{');
  bool element_tables = column.element.kind == LuaValueKind::kJson;
  for (lua_Integer i = 1; i <= length; ++i) {
    if (i > 1) out.push_back(',');
    lua_rawgeti(L, index, i);
    bool ok = true;
    bool sub_array = lua_type(L, -1) == LUA_TTABLE && !element_tables;
    if (sub_array ? shape.item_depth >= 0 && shape.item_depth <= depth
                  : shape.item_depth >= 0 && shape.item_depth != depth) {
      ok = Fail(error, "multidimensional arrays must have sub-arrays of matching lengths");
    } else if (sub_array) {
      ok = EncodePgArray(L, column, -1, out, depth + 1, shape);
    } else if (lua_isnil(L, -1) || IsNull(L, -1)) {
      shape.item_depth = depth;
      out += "NULL";
    } else {
      shape.item_depth = depth;
      ok = ScalarCell(L, column.element, -1, ctx.item);
      if (ok) AppendPgArrayItem(out, ctx.item);
    }
    lua_pop(L, 1);
    if (!ok) return false;
  }
  out.push_back('}');
  return true;
}

bool PushScalar(lua_State* L, const LuaValueType& type, std::string_view text);

bool PushArray(lua_State* L, const LuaColumn& column, std::string_view text) {
  LuaContext& ctx = Context(L);
  absl::Status parsed = ParsePgArray(text, ctx.array_tokens);
  if (!parsed.ok()) return FromStatus(parsed, ctx.error);
  lua_Integer counts[LuaContext::kMaxNesting + 1];
  int depth = -1;
  int top = lua_gettop(L);
  for (size_t i = 0; i < ctx.array_tokens.size(); ++i) {
    const PgArrayToken& token = ctx.array_tokens[i];
    luaL_checkstack(L, 2, "array nested too deeply");
    if (token.kind == PgArrayToken::Kind::kBegin) {
      lua_newtable(L);
      MarkArray(L, -1);
      counts[++depth] = 0;
      continue;
    }
    if (token.kind == PgArrayToken::Kind::kNull) {
      PushNull(L);
    } else if (token.kind == PgArrayToken::Kind::kItem) {
      if (!PushScalar(L, column.element, token.text)) {
        lua_settop(L, top);
        return false;
      }
    } else if (--depth < 0) {
      return true;  // the outermost table is pushed
    }
    lua_rawseti(L, -2, ++counts[depth]);
  }
  return true;
}

bool PushScalar(lua_State* L, const LuaValueType& type, std::string_view text) {
  LuaContext& ctx = Context(L);
  switch (type.kind) {
    case LuaValueKind::kInteger: {
      lua_Integer value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size()) break;
      lua_pushinteger(L, value);
      return true;
    }
    case LuaValueKind::kFloat4: {
      float value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size()) break;
      lua_pushnumber(L, value);
      return true;
    }
    case LuaValueKind::kFloat8: {
      double value = 0;  // the shortest round-trip text PostgreSQL gives; else its spellings
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec == std::errc() && end == text.data() + text.size()) {
        lua_pushnumber(L, value);
        return true;
      }
      absl::StatusOr<double> parsed = ParseFloat8(type.spec, text);
      if (!parsed.ok()) return FromStatus(parsed.status(), ctx.error);
      lua_pushnumber(L, *parsed);
      return true;
    }
    case LuaValueKind::kNumeric: {
      absl::StatusOr<Decimal> parsed = Decimal::Parse(text);
      if (!parsed.ok()) return FromStatus(parsed.status(), ctx.error);
      ctx.decimal_result = *std::move(parsed);
      break;
    }
    case LuaValueKind::kBool: {
      bool value = false;
      if (!ParseBool(text, value)) break;
      lua_pushboolean(L, value);
      return true;
    }
    case LuaValueKind::kJson:
      return PushJsonText(L, text);
    case LuaValueKind::kArray:
    case LuaValueKind::kText:
      lua_pushlstring(L, text.data(), text.size());
      return true;
  }
  if (type.kind == LuaValueKind::kNumeric) {
    PushDecimal(L, ctx.decimal_result);
    return true;
  }
  ctx.error = absl::StrCat("invalid stored value \"", std::string(text), "\" for type ",
                           type.spec.type_sql);
  return false;
}

}  // namespace

LuaColumn LuaColumn::From(const storage::ColumnInfo& info) {
  LuaColumn column;
  column.generated = info.generated;
  if (info.type_name.size() > 1 && info.type_name[0] == '_') {
    storage::ColumnInfo element = info;
    element.type_name = info.type_name.substr(1);
    if (absl::EndsWith(element.type_sql, "[]")) {
      element.type_sql.resize(element.type_sql.size() - 2);
    }
    column.element = TypeOf(element);
    column.type.spec = ColumnSpec::From(info);
    column.type.spec.kind = ColumnKind::kOther;
    column.type.kind = LuaValueKind::kArray;
  } else {
    column.type = TypeOf(info);
  }
  return column;
}

bool CheckTextCell(const LuaValueType& type, std::string& text, std::string& error) {
  return CheckText(text, error) && CheckLength(type, text, error);
}

bool ParseBool(std::string_view text, bool& value) {
  absl::string_view s = absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  if (s.empty()) return false;
  auto prefix_of = [&](absl::string_view word) {
    return s.size() <= word.size() && absl::StartsWithIgnoreCase(word, s);
  };
  if (s == "1" || prefix_of("true") || prefix_of("yes") || absl::EqualsIgnoreCase(s, "on")) {
    value = true;
    return true;
  }
  if (s == "0" || prefix_of("false") || prefix_of("no") || (s.size() >= 2 && prefix_of("off"))) {
    value = false;
    return true;
  }
  return false;
}

bool PushCell(lua_State* L, const LuaColumn& column, std::string_view text) {
  if (column.type.kind == LuaValueKind::kArray) return PushArray(L, column, text);
  return PushScalar(L, column.type, text);
}

CellResult ToCell(lua_State* L, const LuaColumn& column, int index, std::string& out) {
  LuaContext& ctx = Context(L);
  index = lua_absindex(L, index);
  if (lua_isnil(L, index)) return CellResult::kNull;
  if (IsNull(L, index) && column.type.kind != LuaValueKind::kJson) return CellResult::kNull;
  bool ok = false;
  if (column.type.kind == LuaValueKind::kArray) {
    if (lua_type(L, index) != LUA_TTABLE) {
      ok = WrongType(L, column.type, index, ctx.error);
    } else {
      ArrayShape shape;
      std::fill(std::begin(shape.lengths), std::end(shape.lengths), -1);
      out.clear();
      ok = EncodePgArray(L, column, index, out, 0, shape);
    }
  } else {
    ok = ScalarCell(L, column.type, index, out);
  }
  if (ok) return CellResult::kValue;
  if (!absl::StrContains(ctx.error, absl::StrCat("column ", column.type.spec.name))) {
    absl::StrAppend(&ctx.error, " (column ", column.type.spec.name, ")");
  }
  return CellResult::kError;
}

}  // namespace protean_admin::rebuild
