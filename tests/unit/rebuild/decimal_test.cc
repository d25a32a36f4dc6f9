#include "server/rebuild/decimal.h"

#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

std::string Sum(const std::string& a, const std::string& b) {
  auto x = Decimal::Parse(a);
  auto y = Decimal::Parse(b);
  EXPECT_TRUE(x.ok() && y.ok()) << a << " " << b;
  return Add(*x, *y).ToString();
}

std::string Typmod(const std::string& v, int precision, int scale) {
  auto d = Decimal::Parse(v);
  EXPECT_TRUE(d.ok()) << v;
  auto r = ApplyTypmod(*d, precision, scale);
  return r.ok() ? r->ToString() : "overflow";
}

TEST(DecimalTest, ParsesLikePostgres) {
  EXPECT_EQ(Decimal::Parse(" -12.50 ")->ToString(), "-12.50");
  EXPECT_EQ(Decimal::Parse("+.5")->ToString(), "0.5");
  EXPECT_EQ(Decimal::Parse("1e3")->ToString(), "1000");
  EXPECT_EQ(Decimal::Parse("1.5e-3")->ToString(), "0.0015");
  EXPECT_EQ(Decimal::Parse("12.345e1")->ToString(), "123.45");
  EXPECT_EQ(Decimal::Parse("-0.00")->ToString(), "0.00");
  EXPECT_EQ(Decimal::Parse("007")->ToString(), "7");
  EXPECT_FALSE(Decimal::Parse("abc").ok());
  EXPECT_FALSE(Decimal::Parse("1.2.3").ok());
  EXPECT_FALSE(Decimal::Parse("NaN").ok());
  EXPECT_FALSE(Decimal::Parse("").ok());
  EXPECT_FALSE(Decimal::Parse("1e").ok());
}

TEST(DecimalTest, AddsExactlyWithTheLargerScale) {
  EXPECT_EQ(Sum("0.1", "0.2"), "0.3");
  EXPECT_EQ(Sum("100.0", "25"), "125.0");
  EXPECT_EQ(Sum("1.05", "-1.05"), "0.00");
  EXPECT_EQ(Sum("-5", "3.25"), "-1.75");
  EXPECT_EQ(Sum("3.25", "-5"), "-1.75");
  EXPECT_EQ(Sum("-0.5", "-0.25"), "-0.75");
  EXPECT_EQ(Sum("99999999999999999999.99", "0.01"), "100000000000000000000.00");
  EXPECT_EQ(Sum("123456789012345678901234567890.123456789", "1"),
            "123456789012345678901234567891.123456789");
  EXPECT_EQ(Sum("0", "0.000"), "0.000");
}

TEST(DecimalTest, TypmodRoundsHalfAwayFromZeroAndChecksPrecision) {
  EXPECT_EQ(Typmod("1.005", 12, 2), "1.01");
  EXPECT_EQ(Typmod("-1.005", 12, 2), "-1.01");
  EXPECT_EQ(Typmod("1.004", 12, 2), "1.00");
  EXPECT_EQ(Typmod("0.5", 5, 0), "1");
  EXPECT_EQ(Typmod("0.004", 5, 2), "0.00");
  EXPECT_EQ(Typmod("-0.004", 5, 2), "0.00");
  EXPECT_EQ(Typmod("7", 5, 2), "7.00");
  EXPECT_EQ(Typmod("999.995", 5, 2), "overflow");
  EXPECT_EQ(Typmod("999.994", 5, 2), "999.99");
  EXPECT_EQ(Typmod("12345.6", -1, -1), "12345.6");
}

}  // namespace
}  // namespace protean_admin::rebuild
