#include "server/rebuild/lua_sandbox.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/rebuild/lua_test_util.h"

namespace protean_admin::rebuild {
namespace {

using lua_testing::LuaHarness;

// Each escape attempt fails its call with exactly this message, writes nothing, and the next
// call runs normally.
TEST(LuaSandboxTest, EscapesFailTheirCallOnly) {
  const std::vector<std::pair<std::string, std::string>> kCases = {
      {"os.execute('touch /tmp/pwned')", "attempt to index a nil value (global 'os')"},
      {"local f = io.open('/etc/passwd')", "attempt to index a nil value (global 'io')"},
      {"require('os')", "attempt to call a nil value (global 'require')"},
      {"local p = package.loaded", "attempt to index a nil value (global 'package')"},
      {"load('return 1')()", "attempt to call a nil value (global 'load')"},
      {"loadstring('return 1')()", "attempt to call a nil value (global 'loadstring')"},
      {"loadfile('/etc/passwd')", "attempt to call a nil value (global 'loadfile')"},
      {"dofile('/etc/passwd')", "attempt to call a nil value (global 'dofile')"},
      {"debug.getinfo(1)", "attempt to index a nil value (global 'debug')"},
      {"collectgarbage()", "attempt to call a nil value (global 'collectgarbage')"},
      {"string.dump(function() end)", "attempt to call a nil value (field 'dump')"},
      {"local s = ('x'):dump()", "attempt to call a nil value (method 'dump')"},
      {"local x = math.random()", "attempt to call a nil value (field 'random')"},
      {"math.randomseed(1)", "attempt to call a nil value (field 'randomseed')"},
      {"print('x')", "attempt to call a nil value (global 'print')"},
      {"coroutine.wrap(function() end)", "attempt to index a nil value (global 'coroutine')"},
      {"rawset(_ENV, 'x', 1)", "attempt to call a nil value (global 'rawset')"},
      {"xpcall(error, error)", "attempt to call a nil value (global 'xpcall')"},
      {"local k = next({})", "attempt to call a nil value (global 'next')"},
      {"counter = 1", "assignment to global 'counter'"},
      {"rows = {}", "assignment to global 'rows'"},
      {"_ENV.x = 1", "assignment to global 'x'"},
      {"string.upper = nil", "attempt to modify read-only table 'string'"},
      {"string.format = function() end", "attempt to modify read-only table 'string'"},
      {"math.pi = 3", "attempt to modify read-only table 'math'"},
      {"table.insert = nil", "attempt to modify read-only table 'table'"},
      {"utf8.char = nil", "attempt to modify read-only table 'utf8'"},
      {"decimal.x = 1", "attempt to modify read-only table 'decimal'"},
      {"getmetatable('').__index = {}", "attempt to index a boolean value"},
      {"getmetatable('').__index.upper = nil", "attempt to index a boolean value"},
      {"setmetatable(string, {})", "cannot change a protected metatable"},
      {"setmetatable(_ENV, {})", "cannot change a protected metatable"},
      {"setmetatable({}, {__gc = function() end})",
       "setmetatable: __gc is not available (it depends on when the garbage collector runs)"},
      {"setmetatable({}, {__mode = 'k'})",
       "setmetatable: __mode is not available (it depends on when the garbage collector runs)"},
      {"local s = string.format('%p', {})",
       "string.format: '%p' is not available (addresses are not deterministic)"},
      {"local s = string.format('%-10p', {})",
       "string.format: '%p' is not available (addresses are not deterministic)"},
      {"local m = getmetatable(rows); m.__index = nil",
       "attempt to index a boolean value (local 'm')"},
      {"for k in pairs({[{}] = 1}) do end",
       "pairs: table keys have no deterministic order (use ipairs, or keep a list of keys)"},
  };
  LuaHarness h;
  for (const auto& [source, message] : kCases) {
    auto result = h.Run("rows.a = {t = 'written'}\n" + source);
    EXPECT_EQ(result.status(), absl::InvalidArgumentError("domain.toml:11: " + message)) << source;
    auto next = h.Run("rows.b = {t = string.upper('ok')}");
    ASSERT_TRUE(next.ok()) << source << ": " << next.status();
    ASSERT_EQ(next->size(), 1u) << source;
    EXPECT_EQ((*next)[0].key, "b");
    EXPECT_EQ(h.Cell((*next)[0], "t"), "OK");
  }
}

TEST(LuaSandboxTest, GlobalsDoNotSurviveACall) {
  LuaHarness h;
  auto id = h.runtime().Compile(R"(
    _ENV = setmetatable({}, {__index = _ENV})
    counter = (counter or 0) + 1
    rows.a = {i4 = counter}
  )",
                                "domain.toml", 10);
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 3; ++i) {
    auto changes = h.runtime().Call(*id, "{}", h.meta, h.source_rows);
    ASSERT_TRUE(changes.ok()) << changes.status();
    EXPECT_EQ(h.Cell(LuaHarness::Only(*changes), "i4"), "1");
  }
  // event is new for every call, and a table assigned to it is not seen by the next.
  auto marker = h.runtime().Compile("rows.a = {t = tostring(event.mark)}; event.mark = 'x'",
                                    "domain.toml", 10);
  ASSERT_TRUE(marker.ok());
  for (int i = 0; i < 2; ++i) {
    auto changes = h.runtime().Call(*marker, "{}", h.meta, h.source_rows);
    ASSERT_TRUE(changes.ok()) << changes.status();
    EXPECT_EQ(h.Cell(LuaHarness::Only(*changes), "t"), "nil");
  }
}

TEST(LuaSandboxTest, DeterministicHelpers) {
  LuaHarness h;
  EXPECT_EQ(h.Write(R"(
    local keys = {}
    for k, v in pairs({b = 1, a = 2, [2] = 3, [1] = 4, [1.5] = 5, [-3] = 6, c = 7, [true] = 8}) do
      keys[#keys + 1] = tostring(k)
    end
    rows.a = {t = table.concat(keys, ",")}
  )",
                    "t"),
            "-3,1,1.5,2,a,b,c,true");
  EXPECT_EQ(h.Write(R"(
    local items = {}
    for i = 1, 300 do items[i] = {k = i % 3, i = i} end
    table.sort(items, function(a, b) return a.k < b.k end)
    local ok = true
    for i = 2, 300 do
      local a, b = items[i - 1], items[i]
      if a.k > b.k or (a.k == b.k and a.i > b.i) then ok = false end
    end
    local plain = {5, 3, 9, 1}
    table.sort(plain)
    rows.a = {t = tostring(ok) .. " " .. table.concat(plain, ",")}
  )",
                    "t"),
            "true 1,3,5,9");
  EXPECT_EQ(h.Write(R"(
    rows.a = {t = table.concat({tostring({}), tostring(print), tostring(rows), tostring(null),
                                tostring(decimal("1.0")), string.format("%s|%s", {}, 1.5)}, " ")}
  )",
                    "t"),
            "table nil rows null 1.0 table|1.5");
  EXPECT_EQ(h.Write(R"(
    local ok, message = pcall(error, "caught", 0)
    local ok2 = pcall(function() local x = nil; return x.y end)
    rows.a = {t = tostring(ok) .. " " .. message .. " " .. tostring(ok2)}
  )",
                    "t"),
            "false caught false");
  EXPECT_EQ(h.Write("rows.a = {t = ('%d-%s'):format(3, 'x') .. utf8.char(233)}", "t"), "3-xé");
}

}  // namespace
}  // namespace protean_admin::rebuild
