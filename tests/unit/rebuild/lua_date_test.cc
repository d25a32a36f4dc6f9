#include "server/rebuild/lua_date.h"

#include <string>

#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

std::string Format(const std::string& time, const std::string& format) {
  absl::StatusOr<absl::CivilSecond> parsed = ParseEventTime(time);
  if (!parsed.ok()) return std::string(parsed.status().message());
  std::string out;
  absl::Status status = FormatEventTime(*parsed, format, out);
  return status.ok() ? out : std::string(status.message());
}

TEST(LuaDateTest, ReadsMessageDbAndIsoTimesAsUtc) {
  EXPECT_EQ(Format("2024-05-01 12:34:56.789", "%F %T"), "2024-05-01 12:34:56");
  EXPECT_EQ(Format("2024-05-01 12:34:56", "%F %T"), "2024-05-01 12:34:56");
  EXPECT_EQ(Format("2024-05-01T12:34:56Z", "%F %T"), "2024-05-01 12:34:56");
  EXPECT_EQ(Format("2024-05-01T12:34:56.5+02:00", "%F %T"), "2024-05-01 10:34:56");
  EXPECT_EQ(Format("2024-05-01T00:30:00+0100", "%F %T"), "2024-04-30 23:30:00");
  EXPECT_EQ(Format("2024-12-31 23:30:00-01", "%F %T"), "2025-01-01 00:30:00");
  EXPECT_EQ(Format("2024-02-29T12:00", "%F %T"), "2024-02-29 12:00:00");
  EXPECT_EQ(Format("2024-05-01", "%F %T"), "2024-05-01 00:00:00");
}

TEST(LuaDateTest, FormatsTheSupportedConversions) {
  EXPECT_EQ(Format("2024-03-05 07:08:09", "%Y|%m|%d|%H|%M|%S|%j|%%"), "2024|03|05|07|08|09|065|%");
  EXPECT_EQ(Format("2024-05-01 12:34:56", "%Y-%m-%dT%H"), "2024-05-01T12");
  EXPECT_EQ(Format("2024-05-01 12:34:56", "%a"),
            "unsupported conversion \"%a\" in format \"%a\" (%Y %m %d %H %M %S %j %F %T %% are "
            "supported)");
}

TEST(LuaDateTest, RefusesInvalidTimes) {
  for (const char* text :
       {"", "2024-5-1", "2024-02-30", "2023-02-29 00:00:00", "2024-05-01 24:00:00",
        "2024-05-01 12:60", "2024-05-01X12:00", "2024-05-01 12:00:00+", "2024-05-01 12:00:00 UTC",
        "yesterday", "2024-05-01 12:00:00."}) {
    EXPECT_EQ(Format(text, "%F"), "invalid time \"" + std::string(text) + "\"") << text;
  }
}

}  // namespace
}  // namespace protean_admin::rebuild
