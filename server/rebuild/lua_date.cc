#include "server/rebuild/lua_date.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/rebuild/lua_context.h"

namespace protean_admin::rebuild {
namespace {

// Reads exactly `width` digits at `pos`.
bool Digits(std::string_view text, size_t& pos, int width, int& value) {
  if (pos + width > text.size()) return false;
  value = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return true;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

// [+-]HH, [+-]HHMM or [+-]HH:MM, or Z; at `pos` (after the time). Seconds east of UTC.
bool ParseOffset(std::string_view text, size_t& pos, int& seconds) {
  seconds = 0;
  if (pos == text.size()) return true;
  if (text[pos] == 'Z' || text[pos] == 'z') return ++pos == text.size();
  if (text[pos] != '+' && text[pos] != '-') return false;
  int sign = text[pos++] == '-' ? -1 : 1;
  int hours = 0, minutes = 0;
  if (!Digits(text, pos, 2, hours)) return false;
  if (pos < text.size()) {
    Expect(text, pos, ':');
    if (!Digits(text, pos, 2, minutes)) return false;
  }
  if (hours > 15 || minutes > 59) return false;
  seconds = sign * (hours * 3600 + minutes * 60);
  return pos == text.size();
}

// HH:MM[:SS[.fraction]] at `pos`.
bool ParseClock(std::string_view text, size_t& pos, int& hour, int& minute, int& second) {
  second = 0;
  if (!Digits(text, pos, 2, hour) || !Expect(text, pos, ':') || !Digits(text, pos, 2, minute)) {
    return false;
  }
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!Digits(text, pos, 2, second)) return false;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      size_t start = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      if (pos == start) return false;
    }
  }
  return hour <= 23 && minute <= 59 && second <= 59;
}

bool ParseTime(std::string_view text, absl::CivilSecond& out) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offset = 0;
  if (!Digits(text, pos, 4, year) || !Expect(text, pos, '-') || !Digits(text, pos, 2, month) ||
      !Expect(text, pos, '-') || !Digits(text, pos, 2, day)) {
    return false;
  }
  if (pos < text.size()) {
    if (text[pos] != ' ' && text[pos] != 'T' && text[pos] != 't') return false;
    ++pos;
    if (!ParseClock(text, pos, hour, minute, second) || !ParseOffset(text, pos, offset)) {
      return false;
    }
  }
  absl::CivilSecond local(year, month, day, hour, minute, second);
  if (local.year() != year || local.month() != month || local.day() != day) return false;
  out = local - offset;
  return true;
}

void AppendPadded(std::string& out, int64_t value, int width) {
  absl::StrAppendFormat(&out, "%0*d", width, value);
}

// The C++ part of the Lua functions: the formatted time into ctx.text, or ctx.error.
bool FormatInto(LuaContext& ctx, std::string_view time, std::string_view format) {
  absl::StatusOr<absl::CivilSecond> parsed = ParseEventTime(time);
  absl::Status status = parsed.status();
  ctx.text.clear();
  if (parsed.ok()) status = FormatEventTime(*parsed, format, ctx.text);
  if (!status.ok()) ctx.error = absl::StrCat("date: ", status.message());
  return status.ok();
}

int Format(lua_State* L, const char* format) {
  size_t size = 0;
  const char* time = luaL_checklstring(L, 1, &size);
  size_t format_size = 0;
  if (format == nullptr)
    format = luaL_checklstring(L, 2, &format_size);
  else
    format_size = std::char_traits<char>::length(format);
  LuaContext& ctx = Context(L);
  if (!FormatInto(ctx, std::string_view(time, size), std::string_view(format, format_size))) {
    return RaiseContextError(L);
  }
  lua_pushlstring(L, ctx.text.data(), ctx.text.size());
  return 1;
}

int Day(lua_State* L) { return Format(L, "%Y-%m-%d"); }
int Month(lua_State* L) { return Format(L, "%Y-%m"); }
int FormatWith(lua_State* L) { return Format(L, nullptr); }

int Modify(lua_State* L) { return luaL_error(L, "attempt to modify read-only table 'date'"); }

}  // namespace

absl::StatusOr<absl::CivilSecond> ParseEventTime(std::string_view text) {
  absl::CivilSecond time;
  if (!ParseTime(text, time)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid time \"", std::string(text), "\""));
  }
  return time;
}

absl::Status FormatEventTime(absl::CivilSecond time, std::string_view format, std::string& out) {
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    char c = ++i < format.size() ? format[i] : '\0';
    switch (c) {
      case 'Y':
        AppendPadded(out, time.year(), 4);
        break;
      case 'm':
        AppendPadded(out, time.month(), 2);
        break;
      case 'd':
        AppendPadded(out, time.day(), 2);
        break;
      case 'H':
        AppendPadded(out, time.hour(), 2);
        break;
      case 'M':
        AppendPadded(out, time.minute(), 2);
        break;
      case 'S':
        AppendPadded(out, time.second(), 2);
        break;
      case 'j':
        AppendPadded(out, absl::GetYearDay(absl::CivilDay(time)), 3);
        break;
      case 'F':
        FormatEventTime(time, "%Y-%m-%d", out).IgnoreError();
        break;
      case 'T':
        FormatEventTime(time, "%H:%M:%S", out).IgnoreError();
        break;
      case '%':
        out.push_back('%');
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            "unsupported conversion \"%", std::string(&format[i], c ? 1 : 0), "\" in format \"",
            std::string(format), "\" (%Y %m %d %H %M %S %j %F %T %% are supported)"));
    }
  }
  return absl::OkStatus();
}

void OpenDateLibrary(lua_State* L) {
  static const luaL_Reg kFunctions[] = {
      {"day", Day}, {"month", Month}, {"format", FormatWith}, {nullptr, nullptr}};
  lua_newtable(L);  // the proxy handlers see
  lua_newtable(L);  // its metatable
  luaL_newlib(L, kFunctions);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, Modify);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

}  // namespace protean_admin::rebuild
