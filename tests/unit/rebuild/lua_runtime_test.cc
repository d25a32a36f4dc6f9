#include "server/rebuild/lua_runtime.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/unit/rebuild/lua_test_util.h"

namespace protean_admin::rebuild {
namespace {

using lua_testing::Column;
using lua_testing::LuaHarness;

// ---- Column types, Lua to cells ----

TEST(LuaRuntimeTest, IntegerColumnsAreRangeChecked) {
  LuaHarness h;
  EXPECT_EQ(h.Write("rows.a = {i2 = 32767}", "i2"), "32767");
  EXPECT_EQ(h.Write("rows.a = {i2 = -32768}", "i2"), "-32768");
  EXPECT_EQ(h.Write("rows.a = {i2 = 32768}", "i2"),
            "<error: domain.toml:10: smallint out of range (column i2)>");
  EXPECT_EQ(h.Write("rows.a = {i4 = 2147483648}", "i4"),
            "<error: domain.toml:10: integer out of range (column i4)>");
  EXPECT_EQ(h.Write("rows.a = {i8 = math.maxinteger}", "i8"), "9223372036854775807");
  EXPECT_EQ(h.Write("rows.a = {i4 = 5.0}", "i4"), "5");
  EXPECT_EQ(h.Write("rows.a = {i4 = 2.5}", "i4"),
            "<error: domain.toml:10: number has no integer representation (column i4)>");
  EXPECT_EQ(h.Write("rows.a = {i8 = ' 42'}", "i8"), "42");
  EXPECT_EQ(h.Write("rows.a = {i4 = 'x'}", "i4"),
            "<error: domain.toml:10: invalid input syntax for type integer (column i4): \"x\">");
  EXPECT_EQ(h.Write("rows.a = {i4 = decimal('12.00')}", "i4"), "12");
  EXPECT_EQ(h.Write("rows.a = {i4 = decimal('12.5')}", "i4"),
            "<error: domain.toml:10: decimal 12.5 has no integer representation (column i4)>");
  EXPECT_EQ(h.Write("rows.a = {i4 = true}", "i4"),
            "<error: domain.toml:10: cannot write a boolean into column i4 (integer)>");
}

TEST(LuaRuntimeTest, IntegerColumnsReadAsLuaIntegers) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"}, {"i8", "9007199254740993"}, {"i2", "-7"}});
  EXPECT_EQ(h.Write(R"(
    local r = rows.a
    assert(math.type(r.i8) == "integer" and math.type(r.i2) == "integer")
    r.i8 = r.i8 + 1 + r.i2 + 7
  )",
                    "i8"),
            "9007199254740994");
}

TEST(LuaRuntimeTest, Float8IsADoubleWithShortestRoundTripText) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"}, {"f8", "0.1"}, {"f4", "0.1"}});
  // What PostgreSQL gives for 0.1::float8 + 0.2.
  EXPECT_EQ(h.Write("local r = rows.a; r.f8 = r.f8 + 0.2", "f8"), "0.30000000000000004");
  EXPECT_EQ(h.Write("rows.b = {f8 = 1/3}", "f8"), "0.3333333333333333");
  EXPECT_EQ(h.Write("rows.b = {f8 = 1e300 * 1e10}", "f8"), "Infinity");
  EXPECT_EQ(h.Write("rows.b = {f8 = 7}", "f8"), "7");
  EXPECT_EQ(h.Write("rows.b = {f8 = '1.5e3'}", "f8"), "1500");
  EXPECT_EQ(h.Write("rows.b = {f8 = decimal('0.1')}", "f8"), "0.1");
  // float4 0.1 widened to double, as PostgreSQL's float4-to-float8 cast.
  EXPECT_EQ(h.Write("local r = rows.a; r.f8 = r.f4", "f8"), "0.10000000149011612");
  h.source_rows.rows["s"] = h.Row({{"id", "s"}, {"f8", "-Infinity"}, {"f4", "NaN"}});
  EXPECT_EQ(
      h.Write("local r = rows.s; assert(r.f8 == -math.huge and r.f4 ~= r.f4); r.f8 = -r.f8", "f8"),
      "Infinity");
  EXPECT_EQ(h.Write("local r = rows.s; r.f8 = r.f4", "f8"), "NaN");
  EXPECT_EQ(h.Write("rows.b = {f8 = {}}", "f8"),
            "<error: domain.toml:10: cannot write a table into column f8 (double precision)>");
}

TEST(LuaRuntimeTest, Float4IsRoundedToSinglePrecision) {
  LuaHarness h;
  EXPECT_EQ(h.Write("rows.a = {f4 = 0.1}", "f4"), "0.1");
  EXPECT_EQ(h.Write("rows.a = {f4 = 1/3}", "f4"), "0.33333334");
  EXPECT_EQ(h.Write("rows.a = {f4 = 16777217}", "f4"), "16777216");
  EXPECT_EQ(h.Write("rows.a = {f4 = '3.4e38'}", "f4"), "3.4e+38");
  EXPECT_EQ(h.Write("rows.a = {f4 = 1e39}", "f4"),
            "<error: domain.toml:10: value out of range: overflow (column f4)>");
  EXPECT_EQ(h.Write("rows.a = {f4 = 1e-50}", "f4"),
            "<error: domain.toml:10: value out of range: underflow (column f4)>");
}

TEST(LuaRuntimeTest, NumericNeverGoesThroughADouble) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"}, {"n", "0.1"}, {"n2", "10.25"}});
  EXPECT_EQ(h.Write("local r = rows.a; r.n = r.n + decimal('0.2')", "n"), "0.3");
  EXPECT_EQ(h.Write("local r = rows.a; r.n = r.n + 0.2", "n"), "0.3");
  EXPECT_EQ(h.Write("local r = rows.a; r.n = r.n * 3 - decimal('0.05')", "n"), "0.25");
  EXPECT_EQ(h.Write("local r = rows.a; r.n = r.n * decimal('1.10')", "n"), "0.110");
  EXPECT_EQ(h.Write("local r = rows.a; r.n = -r.n", "n"), "-0.1");
  EXPECT_EQ(h.Write("rows.b = {n = '123456789012345678901234567890.123456789'}", "n"),
            "123456789012345678901234567890.123456789");
  EXPECT_EQ(h.Write("rows.b = {n = 10}", "n"), "10");
  EXPECT_EQ(h.Write("rows.b = {n = 0.1}", "n"), "0.1");
  // numeric(12,2): rounded half away from zero, checked against the precision.
  EXPECT_EQ(h.Write("rows.b = {n2 = decimal('1.005')}", "n2"), "1.01");
  EXPECT_EQ(h.Write("rows.b = {n2 = decimal('-1.005')}", "n2"), "-1.01");
  EXPECT_EQ(h.Write("rows.b = {n2 = 2}", "n2"), "2.00");
  EXPECT_EQ(h.Write("local r = rows.a; r.n2 = r.n2 * decimal('1.5')", "n2"), "15.38");
  EXPECT_EQ(h.Write("rows.b = {n2 = decimal('1e10')}", "n2"),
            "<error: domain.toml:10: numeric field overflow: a field with precision 12, scale 2 "
            "must round to an absolute value less than 10^10 (column n2)>");
  EXPECT_EQ(h.Write("rows.b = {n = 'abc'}", "n"),
            "<error: domain.toml:10: invalid input syntax for type numeric: \"abc\" (column n)>");
  EXPECT_EQ(h.Write("rows.b = {n = 0/0}", "n"),
            "<error: domain.toml:10: cannot convert NaN to decimal (column n)>");
}

TEST(LuaRuntimeTest, DecimalsCompareAndPrintExactly) {
  LuaHarness h;
  EXPECT_EQ(h.Write(R"(
    local a, b = decimal("0.1") + decimal("0.2"), decimal("0.30")
    assert(a == b and not (a ~= b) and a <= b and b >= a)
    assert(a < 1 and 0 < a and a > 0.25 and not (a < 0.3))
    assert(decimal(1) ~= 1)  -- Lua does not ask __eq for a decimal and a number
    assert(tostring(a) == "0.3" and tostring(b) == "0.30")
    rows.a = {t = "sum " .. a .. "/" .. b, n = decimal(0.1)}
  )",
                    "t"),
            "sum 0.3/0.30");
  EXPECT_EQ(h.Error("local x = decimal('1') / 2"),
            "domain.toml:10: decimal division is not supported (numeric division has no fixed "
            "result scale); tonumber(tostring(d)) gives a float");
  EXPECT_EQ(h.Error("local x = decimal('1') + {}"),
            "domain.toml:10: expected a number, a numeric string or a decimal, got table");
  EXPECT_EQ(h.Error("local d = decimal('1'); local x = d.x"),
            "domain.toml:10: attempt to index a decimal value (local 'd')");
  EXPECT_EQ(h.Error("local x = decimal(string.rep('9', 600)) * decimal(string.rep('9', 600))"),
            "domain.toml:10: decimal value with more than 1000 digits");
}

TEST(LuaRuntimeTest, TextBoolAndOtherTypes) {
  LuaHarness h;
  EXPECT_EQ(h.Write("rows.a = {t = 'héllo'}", "t"), "héllo");
  EXPECT_EQ(h.Write("rows.a = {t = 12}", "t"), "12");
  EXPECT_EQ(h.Write("rows.a = {t = 1.5}", "t"), "1.5");
  EXPECT_EQ(h.Write("rows.a = {t = true}", "t"), "true");
  EXPECT_EQ(h.Write("rows.a = {t = decimal('1.50')}", "t"), "1.50");
  EXPECT_EQ(h.Write("rows.a = {t = 'a\\0b'}", "t"),
            "<error: domain.toml:10: string contains a NUL character, which PostgreSQL text "
            "cannot hold (column t)>");
  EXPECT_EQ(h.Write("rows.a = {t = '\\xff'}", "t"),
            "<error: domain.toml:10: string is not valid UTF-8 (column t)>");
  EXPECT_EQ(h.Write("rows.a = {v = 'abcdé'}", "v"), "abcdé");
  EXPECT_EQ(h.Write("rows.a = {v = 'abc   '}", "v"), "abc  ");
  EXPECT_EQ(h.Write("rows.a = {v = 'abcdef'}", "v"),
            "<error: domain.toml:10: value too long for type character varying(5) (column v)>");
  EXPECT_EQ(h.Write("rows.a = {b = true}", "b"), "true");
  EXPECT_EQ(h.Write("rows.a = {b = 'off'}", "b"), "false");
  EXPECT_EQ(h.Write("rows.a = {b = 'maybe'}", "b"),
            "<error: domain.toml:10: invalid input syntax for type boolean: \"maybe\" (column b)>");
  EXPECT_EQ(h.Write("rows.a = {b = 1}", "b"),
            "<error: domain.toml:10: cannot write a number into column b (boolean)>");
  h.source_rows.rows["r"] = h.Row({{"id", "r"}, {"b", "t"}, {"t", "x"}});
  EXPECT_EQ(h.Write("local r = rows.r; assert(r.b == true); r.t = nil", "t"), "NULL");
}

TEST(LuaRuntimeTest, JsonColumnsTakeLuaValues) {
  LuaHarness h;
  EXPECT_EQ(h.Write("rows.a = {j = {b = 1, a = {1, 2.5, 'x\"y'}, c = null, d = {}}}", "j"),
            R"({"a":[1,2.5,"x\"y"],"b":1,"c":null,"d":{}})");
  EXPECT_EQ(h.Write("rows.a = {jb = array()}", "jb"), "[]");
  EXPECT_EQ(h.Write("rows.a = {jb = {decimal('1.50'), true, null}}", "jb"), "[1.50,true,null]");
  EXPECT_EQ(h.Write("rows.a = {jb = 'text\\n'}", "jb"), R"("text\n")");
  EXPECT_EQ(h.Write("rows.a = {jb = 3}", "jb"), "3");
  EXPECT_EQ(h.Write("rows.a = {jb = null}", "jb"), "null");
  EXPECT_EQ(h.Write("local r = {}; rows.a = {j = {[1] = 1, [3] = 3}}", "j"), "[1,null,3]");
  EXPECT_EQ(h.Write("rows.a = {j = {1, x = 2}}", "j"),
            "<error: domain.toml:10: row 'a': cannot encode a table with both array items and "
            "named fields as JSON (column j)>");
  EXPECT_EQ(h.Write("local t = {}; t.self = t; rows.a = {j = t}", "j"),
            "<error: domain.toml:10: row 'a': tables nested more than 64 deep (a table that "
            "contains itself?) (column j)>");
  EXPECT_EQ(h.Write("rows.a = {j = {f = print or math.floor}}", "j"),
            "<error: domain.toml:10: row 'a': cannot encode a function value as JSON (column j)>");
  EXPECT_EQ(h.Write("rows.a = {j = {[1000] = 1}}", "j"),
            "<error: domain.toml:10: row 'a': cannot encode a sparse array as JSON (1 items up to "
            "index 1000) (column j)>");
}

TEST(LuaRuntimeTest, JsonColumnsReadAsTablesAndInPlaceChangesAreWritten) {
  LuaHarness h;
  h.source_rows.rows["a"] =
      h.Row({{"id", "a"}, {"jb", R"({"items": [1, 2], "s": "x", "e": []})"}, {"j", "[]"}});
  auto unchanged = h.Run(R"(
    local r = rows.a
    assert(r.jb.items[2] == 2 and r.jb.s == "x" and #r.jb.e == 0 and r.jb == r.jb)
  )");
  ASSERT_TRUE(unchanged.ok()) << unchanged.status();
  EXPECT_TRUE(unchanged->empty());
  EXPECT_EQ(h.Write("table.insert(rows.a.jb.items, 3)", "jb"),
            R"({"e":[],"items":[1,2,3],"s":"x"})");
  EXPECT_EQ(h.Write("local r = rows.a; local items = r.j; items[1] = {k = 1}", "j"),
            R"([{"k":1}])");
  // A table assigned and changed afterwards is written as it is when the handler returns.
  EXPECT_EQ(h.Write("local t = {1}; rows.b = {jb = t}; t[2] = 2", "jb"), "[1,2]");
}

TEST(LuaRuntimeTest, ArrayColumnsQuoteTheirItems) {
  LuaHarness h;
  EXPECT_EQ(h.Write(R"(rows.a = {ta = {"a", 'b"c', "d\\e", null, "NULL", "", "x,y"}})", "ta"),
            R"({"a","b\"c","d\\e",NULL,"NULL","","x,y"})");
  EXPECT_EQ(h.Write("rows.a = {ta = {}}", "ta"), "{}");
  EXPECT_EQ(h.Write("rows.a = {ja = {{a = 1}, {2, 3}, 'x', null}}", "ja"),
            R"({"{\"a\":1}","[2,3]","\"x\"",NULL})");
  EXPECT_EQ(h.Write("rows.a = {jba = {{b = 'q\"'}}}", "jba"), R"({"{\"b\":\"q\\\"\"}"})");
  EXPECT_EQ(h.Write("rows.a = {va = {'abc', 'de'}}", "va"), R"({"abc","de"})");
  EXPECT_EQ(h.Write("rows.a = {va = {'abcd'}}", "va"),
            "<error: domain.toml:10: row 'a': value too long for type character varying(3) (column "
            "va)>");
  EXPECT_EQ(h.Write("rows.a = {ia = {{1, 2}, {3, 4}}}", "ia"), R"({{"1","2"},{"3","4"}})");
  EXPECT_EQ(h.Write("rows.a = {ia = {{1, 2}, {3}}}", "ia"),
            "<error: domain.toml:10: row 'a': multidimensional arrays must have sub-arrays of "
            "matching lengths (column ia)>");
  EXPECT_EQ(h.Write("rows.a = {ia = {1, {2}}}", "ia"),
            "<error: domain.toml:10: row 'a': multidimensional arrays must have sub-arrays of "
            "matching lengths (column ia)>");
  EXPECT_EQ(h.Write("rows.a = {ia = {1.5}}", "ia"),
            "<error: domain.toml:10: row 'a': number has no integer representation (column ia)>");
  EXPECT_EQ(h.Write("rows.a = {ta = 'x'}", "ta"),
            "<error: domain.toml:10: cannot write a string into column ta (text[])>");
  EXPECT_EQ(h.Write("rows.a = {ta = {x = 1}}", "ta"),
            "<error: domain.toml:10: row 'a': array column ta takes a table of items 1, 2, ... "
            "(no named fields)>");
}

TEST(LuaRuntimeTest, ArrayColumnsReadAsTables) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"},
                                   {"ta", R"({a,"b\"c",NULL,"NULL"})"},
                                   {"jba", R"({"{\"k\": [1, 2]}","3"})"},
                                   {"ia", "{{1,2},{3,4}}"}});
  EXPECT_EQ(h.Write(R"(
    local r = rows.a
    assert(r.ta[1] == "a" and r.ta[2] == 'b"c' and r.ta[3] == null and r.ta[4] == "NULL")
    assert(#r.ta == 4)
    assert(r.jba[1].k[2] == 2 and r.jba[2] == 3)
    assert(r.ia[2][1] == 3 and math.type(r.ia[2][1]) == "integer")
    table.insert(r.ta, "z")
  )",
                    "ta"),
            R"({"a","b\"c",NULL,"NULL","z"})");
}

// Every kind read into Lua and written back unchanged (cells in the form the runtime writes).
TEST(LuaRuntimeTest, EveryKindRoundTrips) {
  LuaHarness h;
  const std::vector<std::pair<std::string, std::string>> cells = {
      {"id", "src"},
      {"i2", "-5"},
      {"i4", "7"},
      {"i8", "9007199254740993"},
      {"f4", "0.1"},
      {"f8", "0.30000000000000004"},
      {"n", "123.4500"},
      {"n2", "1.50"},
      {"t", "héllo"},
      {"v", "abc"},
      {"b", "true"},
      {"j", R"({"a":[1,"x",null],"b":{}})"},
      {"jb", R"([{"k":true},[]])"},
      {"ja", R"({"{\"a\":1}","[1,2]",NULL})"},
      {"jba", R"({"\"s\"","3.5"})"},
      {"ta", R"({"a","b\"c","d\\e",NULL,"NULL"})"},
      {"va", R"({"ab","c"})"},
      {"ia", R"({{"1","2"},{"3","4"}})"},
      {"g", "generated"},
  };
  h.source_rows.rows["src"] = h.Row(cells);
  auto changes = h.Run(R"(
    local r = rows.src
    assert(math.type(r.i2) == "integer" and math.type(r.i8) == "integer")
    assert(math.type(r.f4) == "float" and math.type(r.f8) == "float")
    assert(tostring(r.n) == "123.4500" and tostring(r.n2) == "1.50" and r.b == true)
    assert(type(r.j) == "table" and type(r.ja[1]) == "table" and r.ja[3] == null)
    assert(r.jba[1] == "s" and r.jba[2] == 3.5 and r.g == "generated")
    local copy = {}
    for name, value in pairs(r) do
      if name ~= "id" and name ~= "g" then copy[name] = value end
    end
    rows.dst = copy
  )");
  ASSERT_TRUE(changes.ok()) << changes.status();
  const LuaRowChange& change = LuaHarness::Only(*changes);
  EXPECT_EQ(change.key, "dst");
  for (const auto& [column, value] : cells) {
    if (column == "id") {
      EXPECT_EQ(h.Cell(change, column), "dst");
    } else if (column == "g") {
      EXPECT_EQ(h.Cell(change, column), std::nullopt);
    } else {
      EXPECT_EQ(h.Cell(change, column), value) << column;
    }
  }
}

// ---- Event payload and message ----

TEST(LuaRuntimeTest, EventIsTheNestedPayload) {
  LuaHarness h;
  const std::string payload =
      R"({"user": "u1", "amount": 12.5, "qty": 3, "big": 18446744073709551615, "ok": true,
          "gone": null, "price": "19.99",
          "lines": [{"sku": "A", "n": 1}, null, [true]], "empty": {}, "list": []})";
  EXPECT_EQ(h.Write(R"(
    assert(event.user == "u1" and event.amount == 12.5 and math.type(event.qty) == "integer")
    assert(math.type(event.big) == "float" and event.ok == true and event.gone == nil)
    assert(event.lines[1].sku == "A" and event.lines[2] == null and event.lines[3][1] == true)
    assert(#event.lines == 3 and next == nil)
    rows[event.user] = {n = decimal(event.price) * event.qty, j = event.empty, jb = event.list}
  )",
                    "n", payload),
            "59.97");
  auto changes = h.Run("rows.x = {j = event.empty, jb = event.list}", payload);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(h.Cell(LuaHarness::Only(*changes), "j"), "{}");
  EXPECT_EQ(h.Cell(LuaHarness::Only(*changes), "jb"), "[]");
  EXPECT_EQ(h.Write("rows.x = {i4 = #event}", "i4", ""), "0");
  EXPECT_EQ(h.Error("local x = 1", "{oops"),
            "domain.toml:10: event payload: invalid JSON: The JSON document has an improper "
            "structure: missing or superfluous commas, braces, missing keys, etc.");
}

// A handler that reads `event` only as event.<name> gets those fields decoded into a table
// reused by its calls: what it reads must be what the whole payload would give, call after
// call (lua_fields.h).
TEST(LuaRuntimeTest, EventFieldsReadByTheHandlerAreExactAcrossCalls) {
  LuaHarness h;
  absl::StatusOr<int> id = h.runtime().Compile(R"(
    local t = {}
    for _, name in ipairs({"a", "b", "c"}) do
      local v = ({a = event.a, b = event.b, c = event.c})[name]
      t[#t + 1] = name .. "=" .. (type(v) == "table" and "#" .. #v or tostring(v))
    end
    if event.b == nil then event.b = "set" end
    if event.a ~= nil and type(event.a) == "table" then table.insert(event.a, 9) end
    rows.x = {t = table.concat(t, ",")}
  )",
                                               "domain.toml", 10);
  ASSERT_TRUE(id.ok()) << id.status();
  auto text = [&](const std::string& payload) -> std::string {
    auto changes = h.runtime().Call(*id, payload, h.meta, h.source_rows);
    if (!changes.ok()) return std::string(changes.status().message());
    return h.Cell(LuaHarness::Only(*changes), "t").value_or("NULL");
  };
  EXPECT_EQ(text(R"({"a": [1, 2], "b": 1.5, "c": "x", "d": 1})"), "a=#2,b=1.5,c=x");
  // Fields absent now, or assigned or changed by the previous call, read as the payload says.
  EXPECT_EQ(text(R"({"a": [1, 2], "c": null})"), "a=#2,b=nil,c=nil");
  EXPECT_EQ(text(R"({"b": 2, "b": 3, "a": 1})"), "a=1,b=3,c=nil");
  EXPECT_EQ(text(""), "a=nil,b=nil,c=nil");
  EXPECT_EQ(text("null"), "a=nil,b=nil,c=nil");
  EXPECT_EQ(text("[1, 2]"), "a=nil,b=nil,c=nil");
  EXPECT_EQ(text(R"({"a": 7, "b": 8})"), "a=7,b=8,c=nil");
  EXPECT_EQ(text("{oops"),
            "domain.toml:10: event payload: invalid JSON: The JSON document has an improper "
            "structure: missing or superfluous commas, braces, missing keys, etc.");
  EXPECT_EQ(text(R"({"c": 5})"), "a=nil,b=nil,c=5");
}

TEST(LuaRuntimeTest, MetaFields) {
  LuaHarness h;
  auto changes = h.Run(R"(
    rows.a = {i8 = meta.global_position, i4 = meta.position, t = meta.time,
              ta = {meta.stream_name, meta.stream_id, meta.type, meta.id}, i2 = meta.version}
  )");
  ASSERT_TRUE(changes.ok()) << changes.status();
  const LuaRowChange& change = LuaHarness::Only(*changes);
  EXPECT_EQ(h.Cell(change, "i8"), "1234");
  EXPECT_EQ(h.Cell(change, "i4"), "7");
  EXPECT_EQ(h.Cell(change, "i2"), "1");
  EXPECT_EQ(h.Cell(change, "t"), "2024-05-01 12:34:56.789");
  EXPECT_EQ(h.Cell(change, "ta"),
            R"({"bank::user-42-x","42-x","Bank.Registered.v1","bank::user-42-x-7.1"})");
  EXPECT_EQ(h.Error("meta.position = 1"), "domain.toml:10: meta is read-only");
  EXPECT_EQ(h.Error("local x = meta.postion"), "domain.toml:10: meta has no field 'postion'");
  h.meta.stream_name = "bank:command";
  h.meta.time = "";
  EXPECT_EQ(h.Write("rows.a = {t = tostring(meta.stream_id) .. tostring(meta.time)}", "t"),
            "nilnil");
}

TEST(LuaRuntimeTest, DateHelper) {
  LuaHarness h;
  EXPECT_EQ(h.Write(R"(
    rows.a = {ta = {date.day(meta.time), date.month(meta.time),
                    date.format("2024-05-01T23:30:00-02:00", "%Y-%m-%dT%H")}}
  )",
                    "ta"),
            R"({"2024-05-01","2024-05","2024-05-02T01"})");
  EXPECT_EQ(h.Error("local x = date.day('05/01/2024')"),
            "domain.toml:10: date: invalid time \"05/01/2024\"");
  EXPECT_EQ(h.Error("date.day = nil"), "domain.toml:10: attempt to modify read-only table 'date'");
}

// ---- Rows ----

TEST(LuaRuntimeTest, ReadingAnAbsentRowGivesNilAndWritesNothing) {
  LuaHarness h;
  auto changes = h.Run("assert(rows.nope == nil); assert(rows.nope == nil)");
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_TRUE(changes->empty());
  EXPECT_EQ(h.source_rows.gets, std::vector<std::string>{"nope"});
}

TEST(LuaRuntimeTest, CreatingARowAssignsOnlyTheGivenColumns) {
  LuaHarness h;
  auto changes = h.Run("rows['k1'] = {t = 'x', i4 = 3}");
  ASSERT_TRUE(changes.ok()) << changes.status();
  const LuaRowChange& change = LuaHarness::Only(*changes);
  EXPECT_EQ(change.key, "k1");
  EXPECT_TRUE(change.present);
  EXPECT_TRUE(change.fresh);
  EXPECT_EQ(h.Cell(change, "id"), "k1");
  EXPECT_EQ(h.Cell(change, "t"), "x");
  EXPECT_EQ(h.Cell(change, "i4"), "3");
  EXPECT_EQ(h.Cell(change, "f8"), std::nullopt);
  std::vector<bool> assigned(h.table().columns.size(), false);
  assigned[h.Index("id")] = assigned[h.Index("t")] = assigned[h.Index("i4")] = true;
  EXPECT_EQ(change.assigned, assigned);
  EXPECT_TRUE(h.source_rows.gets.empty());  // written without reading
}

TEST(LuaRuntimeTest, ReplacingAnExistingRowDropsTheOtherColumns) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"}, {"t", "old"}, {"i4", "1"}});
  auto changes = h.Run(R"(
    local old = rows.a
    rows.a = {i4 = old.i4 + 1, id = "a"}
    local r = rows.a
    assert(r.t == nil and r.i4 == 2)
  )");
  ASSERT_TRUE(changes.ok()) << changes.status();
  const LuaRowChange& change = LuaHarness::Only(*changes);
  EXPECT_TRUE(change.present);
  EXPECT_TRUE(change.fresh);
  EXPECT_EQ(h.Cell(change, "t"), std::nullopt);
  EXPECT_EQ(h.Cell(change, "i4"), "2");
  EXPECT_FALSE(change.assigned[h.Index("t")]);
}

TEST(LuaRuntimeTest, UpdatingAFieldKeepsTheRowsOtherValues) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"}, {"t", "keep"}, {"i4", "1"}});
  auto changes = h.Run("local r = rows.a; r.i4 = r.i4 + 41; assert(rows.a.i4 == 42)");
  ASSERT_TRUE(changes.ok()) << changes.status();
  const LuaRowChange& change = LuaHarness::Only(*changes);
  EXPECT_TRUE(change.present);
  EXPECT_FALSE(change.fresh);
  EXPECT_EQ(h.Cell(change, "t"), "keep");
  EXPECT_EQ(h.Cell(change, "i4"), "42");
  std::vector<bool> assigned(h.table().columns.size(), false);
  assigned[h.Index("i4")] = true;
  EXPECT_EQ(change.assigned, assigned);
  EXPECT_EQ(h.source_rows.gets, std::vector<std::string>{"a"});
}

TEST(LuaRuntimeTest, DeletingARow) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"}});
  auto changes = h.Run("rows.a = nil; assert(rows.a == nil)");
  ASSERT_TRUE(changes.ok()) << changes.status();
  const LuaRowChange& change = LuaHarness::Only(*changes);
  EXPECT_EQ(change.key, "a");
  EXPECT_FALSE(change.present);
  EXPECT_TRUE(change.cells.empty());
  EXPECT_EQ(h.Error("local r = rows.a; rows.a = nil; r.t = 'x'"),
            "domain.toml:10: row 'a' was replaced or deleted since it was read: read rows[k] "
            "again");
}

TEST(LuaRuntimeTest, SeveralRowsWithComputedKeysInFirstWriteOrder) {
  LuaHarness h;
  h.source_rows.rows["7"] = h.Row({{"id", "7"}, {"i4", "70"}});
  auto changes = h.Run(R"(
    local seven = rows[7]
    for i = 1, 3 do rows[i] = {i4 = i * 10} end
    rows[event.user .. "-x"] = {t = "y"}
    rows[2.0] = nil
    seven.i4 = seven.i4 + 1
    rows[1].t = "one"
  )",
                       R"({"user": "u"})");
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 5u);
  EXPECT_EQ((*changes)[0].key, "1");
  EXPECT_EQ(h.Cell((*changes)[0], "t"), "one");
  EXPECT_EQ((*changes)[1].key, "2");
  EXPECT_FALSE((*changes)[1].present);
  EXPECT_EQ((*changes)[2].key, "3");
  EXPECT_EQ((*changes)[3].key, "u-x");
  EXPECT_EQ((*changes)[4].key, "7");
  EXPECT_EQ(h.Cell((*changes)[4], "i4"), "71");
  EXPECT_EQ(h.Error("rows[2.5] = {}"), "domain.toml:10: row keys are strings or integers, got 2.5");
  EXPECT_EQ(h.Error("rows[nil] = {}"), "domain.toml:10: row key is nil");
  EXPECT_EQ(h.Error("rows[{}] = {}"),
            "domain.toml:10: row keys are strings or integers, got table");
}

TEST(LuaRuntimeTest, ManyRowsInOneCall) {
  LuaHarness h;
  auto changes = h.Run(R"(
    for i = 1, 200 do rows[i] = {i4 = i} end
    for i = 1, 200 do local r = rows[i]; r.i4 = r.i4 * 2 end
  )");
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 200u);
  EXPECT_EQ((*changes)[199].key, "200");
  EXPECT_EQ(h.Cell((*changes)[199], "i4"), "400");
  EXPECT_TRUE(h.source_rows.gets.empty());
}

TEST(LuaRuntimeTest, IntegerKeysAreCanonical) {
  storage::TableInfo table;
  table.table = "counts";
  table.columns = {Column("k", "bigint", "int8"), Column("n", "integer", "int4")};
  LuaHarness h(table);
  auto changes = h.Run("local a = rows['007']; local b = rows[7]; rows[' 7'] = {n = 1}");
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(LuaHarness::Only(*changes).key, "7");
  EXPECT_EQ(h.Cell(LuaHarness::Only(*changes), "k"), "7");
  EXPECT_EQ(h.source_rows.gets, std::vector<std::string>{"7"});
  EXPECT_EQ(h.Error("rows.x = {n = 1}"),
            "domain.toml:10: row key: invalid input syntax for type bigint (column k): \"x\"");
}

TEST(LuaRuntimeTest, TextKeysAreCheckedLikeTheirColumn) {
  storage::TableInfo table;
  table.table = "codes";
  table.columns = {Column("code", "character varying(3)", "varchar", 3 + 4),
                   Column("n", "integer", "int4")};
  LuaHarness h(table);
  auto changes = h.Run("rows['ab  '] = {n = 1}");
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(LuaHarness::Only(*changes).key, "ab ");
  EXPECT_EQ(h.Error("rows.abcd = {n = 1}"),
            "domain.toml:10: row key: value too long for type character varying(3) (column "
            "code)");
  EXPECT_EQ(h.Error("local r = rows['a\\0']"),
            "domain.toml:10: row key: string contains a NUL character, which PostgreSQL text "
            "cannot hold");
}

TEST(LuaRuntimeTest, RowObjects) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"}, {"t", "x"}, {"i4", "1"}, {"b", "f"}});
  EXPECT_EQ(h.Write(R"(
    local names = {}
    for name, value in pairs(rows.a) do names[#names + 1] = name .. "=" .. tostring(value) end
    assert(rows.a == rows.a and tostring(rows.a) == "row a")
    rows.b = {t = table.concat(names, ",")}
  )",
                    "t"),
            "id=a,i4=1,t=x,b=false");
  EXPECT_EQ(h.Error("local x = rows.a.nope"),
            "domain.toml:10: table \"public\".\"t\" has no column 'nope'");
  EXPECT_EQ(h.Error("rows.b = {t = 1, zz = 2, nope = 3}"),
            "domain.toml:10: table \"public\".\"t\" has no column 'nope'");
  EXPECT_EQ(h.Error("rows.b = {t = 1, [1] = 2}"),
            "domain.toml:10: rows[k] = {...} takes column names as keys, got a number key");
  EXPECT_EQ(
      h.Error("rows.a.id = 'b'"),
      "domain.toml:10: column id is the row's key: write rows[new_key] = {...} to move a row");
  EXPECT_EQ(h.Error("rows.b = {id = 'c'}"),
            "domain.toml:10: column id is the row's key: rows['b'] cannot set it to another value");
  EXPECT_EQ(h.Error("rows.a.g = 'x'"),
            "domain.toml:10: column g is generated: it cannot be written");
  EXPECT_EQ(h.Error("rows.b = 5"),
            "domain.toml:10: rows[k] takes a table of column values, or nil to delete the row "
            "(got number)");
}

// ---- Errors and budgets ----

TEST(LuaRuntimeTest, ErrorsNameTheHandlersPlace) {
  LuaHarness h;
  EXPECT_EQ(h.Error("local r = rows[event.id or 'none']\nr.t = 'x'"),
            "domain.toml:11: attempt to index a nil value (local 'r')");
  EXPECT_EQ(h.Error("error('boom')"), "domain.toml:10: boom");
  EXPECT_EQ(h.Error("local r = rows[event.id]"), "domain.toml:10: row key is nil");
  EXPECT_EQ(h.Error("\n\nerror('boom', 0)"), "domain.toml:10: boom");
  EXPECT_EQ(h.Error("error({})"), "domain.toml:10: error object is a table value");
  absl::StatusOr<int> syntax = h.runtime().Compile("local x = 1\nlocal y = = 2", "domain.toml", 31);
  EXPECT_EQ(syntax.status(),
            absl::InvalidArgumentError("domain.toml:32: unexpected symbol near '='"));
  absl::StatusOr<int> unfinished = h.runtime().Compile("if x then", "other.toml", 5);
  EXPECT_EQ(unfinished.status(),
            absl::InvalidArgumentError("other.toml:5: 'end' expected near <eof>"));
}

TEST(LuaRuntimeTest, AFailingCallWritesNothing) {
  LuaHarness h;
  h.source_rows.rows["a"] = h.Row({{"id", "a"}, {"i4", "1"}});
  auto failed = h.Run("rows.a.i4 = 2; rows.b = {t = 'x'}; rows.c = nil; error('late')");
  EXPECT_EQ(failed.status(), absl::InvalidArgumentError("domain.toml:10: late"));
  auto next = h.Run("assert(rows.a.i4 == 1 and rows.b == nil)");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->empty());
}

TEST(LuaRuntimeTest, RowSourceErrorsFailTheEventWithTheirCode) {
  LuaHarness h;
  h.source_rows.fail = absl::UnavailableError("connection lost");
  auto failed = h.Run("local ok = pcall(function() return rows.a end); rows.b = {t = 'x'}");
  EXPECT_EQ(failed.status(),
            absl::UnavailableError("domain.toml:10: reading row 'a': connection lost"));
  h.source_rows.fail = absl::OkStatus();
  EXPECT_EQ(h.Error("rows.b = {t = tostring(rows.a)}"), "OK");
}

absl::Status RunWithLimits(LuaLimits limits, const std::string& source) {
  LuaHarness h(lua_testing::AllKindsTable(), 0, limits);
  auto result = h.Run(source);
  // The state stays usable: a normal call afterwards succeeds and writes.
  auto next = h.Run("rows.ok = {t = string.rep('y', 3)}");
  EXPECT_TRUE(next.ok()) << next.status();
  if (next.ok()) {
    EXPECT_EQ(h.Cell(LuaHarness::Only(*next), "t"), "yyy");
  }
  return result.status();
}

TEST(LuaRuntimeTest, InstructionBudget) {
  LuaLimits limits;
  limits.instructions_per_call = 100'000;
  EXPECT_EQ(RunWithLimits(limits, "rows.a = {t = 'x'}\nwhile true do end"),
            absl::ResourceExhaustedError("domain.toml:11: instruction budget of 100000 exceeded"));
  // A handler's pcall cannot catch it.
  EXPECT_EQ(RunWithLimits(limits, "for i = 1, 10 do pcall(function() while true do end end) end"),
            absl::ResourceExhaustedError("domain.toml:10: instruction budget of 100000 exceeded"));
  // Nor can a comparator's place in table.sort hide it.
  EXPECT_EQ(RunWithLimits(
                limits, "local t = {3, 2, 1}\ntable.sort(t, function(a, b) while true do end end)"),
            absl::ResourceExhaustedError("domain.toml:11: instruction budget of 100000 exceeded"));
  EXPECT_TRUE(RunWithLimits(limits, "for i = 1, 1000 do end").ok());
}

TEST(LuaRuntimeTest, MemoryBudget) {
  LuaLimits limits;
  limits.memory_bytes = 8 << 20;
  const absl::Status exceeded =
      absl::ResourceExhaustedError("domain.toml:10: memory budget of 8388608 bytes exceeded");
  EXPECT_EQ(RunWithLimits(limits, "local s = string.rep('x', 1e9)"), exceeded);
  EXPECT_EQ(RunWithLimits(limits, "local t = {} for i = 1, 1e9 do t[i] = i end"), exceeded);
  EXPECT_EQ(RunWithLimits(limits, "local t = {} for i = 1, 1e9 do t[#t + 1] = {i} end"), exceeded);
  EXPECT_EQ(RunWithLimits(limits, "local ok = pcall(string.rep, 'x', 1e9); rows.a = {t = 'x'}"),
            exceeded);
  // Row state held by the call counts too.
  EXPECT_EQ(RunWithLimits(limits, "for i = 1, 1e7 do rows[i] = {t = 'xxxxxxxxxxxxxxxx'} end"),
            exceeded);
}

TEST(LuaRuntimeTest, DeepRecursion) {
  EXPECT_EQ(RunWithLimits(LuaLimits{}, "local function f(n) return 1 + f(n + 1) end\nf(1)"),
            absl::InvalidArgumentError("domain.toml:10: stack overflow"));
}

TEST(LuaRuntimeTest, CreateChecksItsArguments) {
  storage::TableInfo table = lua_testing::AllKindsTable();
  EXPECT_EQ(LuaRuntime::Create(table, 99).status(), absl::InvalidArgumentError("no key column 99"));
  EXPECT_EQ(LuaRuntime::Create(table, 0, LuaLimits{0, 1 << 20}).status(),
            absl::InvalidArgumentError("Lua budgets must be positive"));
  EXPECT_EQ(LuaRuntime::Create(table, 0, LuaLimits{1000, 1000}).status(),
            absl::ResourceExhaustedError("memory budget of 1000 bytes cannot hold a Lua state"));
  auto runtime = LuaRuntime::Create(table, 0);
  ASSERT_TRUE(runtime.ok());
  lua_testing::MapSource source;
  EXPECT_EQ((*runtime)->Call(3, "{}", LuaMeta{}, source).status(),
            absl::InvalidArgumentError("no Lua handler 3"));
}

// ---- Concurrency ----

TEST(LuaRuntimeTest, TwoRuntimesRunInTwoThreadsAtOnce) {
  auto work = [](int seed, std::string* result) {
    storage::TableInfo table;
    table.table = "balances";
    table.columns = {Column("user_id", "text", "text"), Column("n", "numeric", "numeric"),
                     Column("f", "double precision", "float8")};
    auto runtime = LuaRuntime::Create(table, 0);
    ASSERT_TRUE(runtime.ok());
    auto id = (*runtime)->Compile(R"(
      local r = rows[event.user]
      if r then r.n = r.n + decimal(event.amount); r.f = r.f + event.x
      else rows[event.user] = {n = decimal(event.amount), f = event.x} end
    )",
                                  "domain.toml", 1);
    ASSERT_TRUE(id.ok());
    lua_testing::MapSource source;
    std::vector<LuaRowChange> changes;
    for (int i = 0; i < 20000; ++i) {
      std::string payload = absl::StrCat(R"({"user": "u)", (i + seed) % 7, R"(", "amount": "0.)",
                                         i % 10, R"(", "x": 0.1})");
      ASSERT_TRUE((*runtime)->Call(*id, payload, LuaMeta{}, source, changes).ok());
      for (const LuaRowChange& change : changes) source.rows[change.key] = change.cells;
    }
    for (const auto& [key, cells] : source.rows) absl::StrAppend(result, key, "=", *cells[1], ";");
  };
  std::string a, b, alone;
  std::thread first(work, 0, &a);
  std::thread second(work, 0, &b);
  first.join();
  second.join();
  work(0, &alone);
  EXPECT_EQ(a, alone);
  EXPECT_EQ(b, alone);
  EXPECT_EQ(alone, "u0=1286.1;u1=1285.9;u2=1285.6;u3=1285.3;u4=1286.0;u5=1285.7;u6=1285.4;");
}

}  // namespace
}  // namespace protean_admin::rebuild
