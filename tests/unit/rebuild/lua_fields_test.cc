#include "server/rebuild/lua_fields.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

using Fields = std::optional<std::vector<std::string>>;

TEST(EventFieldsReadTest, FieldReadsAreCollectedInFirstUseOrder) {
  EXPECT_EQ(EventFieldsRead(R"(
local r = rows[event.user_id]
if r then r.balance = r.balance + event.amount
else rows[event.user_id] = { name = "", balance = event . amount } end
)"),
            Fields({"user_id", "amount"}));
  EXPECT_EQ(EventFieldsRead("local x = 1"), Fields(std::vector<std::string>{}));
  // Nested reads, calls and assignments go through the field.
  EXPECT_EQ(EventFieldsRead("local n = #event.items[1].tags; event.seen = true; event.f(1)"),
            Fields({"items", "seen", "f"}));
}

TEST(EventFieldsReadTest, OtherUsesOfEventDecodeEverything) {
  for (const char* source : {
           "for k, v in pairs(event) do end",
           "local n = #event",
           "local k = 'a'; local v = event[k]",
           "local v = event['a']",
           "local e = event; local v = e.a",
           "local s = 'x' ..event.a .. event",  // the last one is a concatenation
           "local s = event..'x'",
           "rows.a = { j = event }",
           "local function f(event) return event.a end",
           "local event = {}; local v = event.a",
           "for _, event in ipairs({}) do end",
           "local v = event:method()",
           "local v = event",
           "local v = _ENV.event.a",
           "local v = _G.event",
           "goto event; ::event::",
       }) {
    EXPECT_EQ(EventFieldsRead(source), std::nullopt) << source;
  }
}

TEST(EventFieldsReadTest, StringsCommentsAndFieldNamesAreNotUses) {
  EXPECT_EQ(EventFieldsRead(R"(
-- pairs(event)
--[==[ a long comment: f(event) ]] still ]==]
local s = "pairs(event) \" event" .. 'event' .. [[event]] .. [=[ ]] event ]=]
local t = { x = 1 }
local a = t.event, t:event(), meta.event
local n = 1 .. 2 .. 0x1p4 .. .5 .. 3e-2
local v = event.a
)"),
            Fields({"a"}));
  // A use after a string that ends with an escaped quote is still seen.
  EXPECT_EQ(EventFieldsRead(R"(local s = "a\"" .. f(event))"), std::nullopt);
  EXPECT_EQ(EventFieldsRead("local s = [==[ ]] ]==] .. f(event)"), std::nullopt);
  EXPECT_EQ(EventFieldsRead("--[[ ]] f(event)"), std::nullopt);
}

}  // namespace
}  // namespace protean_admin::rebuild
