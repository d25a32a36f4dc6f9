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

Decimal D(const std::string& text) {
  auto d = Decimal::Parse(text);
  EXPECT_TRUE(d.ok()) << text;
  return d.ok() ? *d : Decimal();
}

TEST(DecimalTest, SubtractsWithTheLargerScale) {
  EXPECT_EQ(Subtract(D("0.3"), D("0.1")).ToString(), "0.2");
  EXPECT_EQ(Subtract(D("1"), D("0.25")).ToString(), "0.75");
  EXPECT_EQ(Subtract(D("0.25"), D("1")).ToString(), "-0.75");
  EXPECT_EQ(Subtract(D("-1.5"), D("-1.5")).ToString(), "0.0");
  EXPECT_EQ(Subtract(D("-1.5"), D("2")).ToString(), "-3.5");
  EXPECT_EQ(Subtract(D("100000000000000000000"), D("0.01")).ToString(), "99999999999999999999.99");
  EXPECT_EQ(Negate(D("12.50")).ToString(), "-12.50");
  EXPECT_EQ(Negate(D("-3")).ToString(), "3");
  EXPECT_EQ(Negate(D("0.00")).ToString(), "0.00");
}

TEST(DecimalTest, MultipliesWithTheSumOfScales) {
  EXPECT_EQ(Multiply(D("1.10"), D("2.5")).ToString(), "2.750");
  EXPECT_EQ(Multiply(D("0.1"), D("0.2")).ToString(), "0.02");
  EXPECT_EQ(Multiply(D("-3"), D("0.25")).ToString(), "-0.75");
  EXPECT_EQ(Multiply(D("-3"), D("-7")).ToString(), "21");
  EXPECT_EQ(Multiply(D("0.00"), D("-5.5")).ToString(), "0.000");
  EXPECT_EQ(Multiply(D("99999999999"), D("99999999999")).ToString(), "9999999999800000000001");
  EXPECT_EQ(Multiply(D("123456789.123456789"), D("1000")).ToString(), "123456789123.456789000");
  EXPECT_EQ(Multiply(D("0.001"), D("0.001")).ToString(), "0.000001");
}

TEST(DecimalTest, ComparesByValue) {
  EXPECT_EQ(Compare(D("1.0"), D("1.00")), 0);
  EXPECT_EQ(Compare(D("0"), D("-0.00")), 0);
  EXPECT_EQ(Compare(D("0.1"), D("0.09")), 1);
  EXPECT_EQ(Compare(D("0.09"), D("0.1")), -1);
  EXPECT_EQ(Compare(D("-2"), D("-10")), 1);
  EXPECT_EQ(Compare(D("-10"), D("-2")), -1);
  EXPECT_EQ(Compare(D("-0.5"), D("0")), -1);
  EXPECT_EQ(Compare(D("100"), D("99.999")), 1);
}

}  // namespace
}  // namespace protean_admin::rebuild
