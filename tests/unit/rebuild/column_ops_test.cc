#include "server/rebuild/column_ops.h"

#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

ColumnSpec Column(const std::string& type_name, int32_t typmod = -1) {
  storage::ColumnInfo info;
  info.name = "c";
  info.type_sql = type_name;
  info.type_name = type_name;
  info.typmod = typmod;
  return ColumnSpec::From(info);
}

std::string Inc(const ColumnSpec& c, std::optional<std::string> current, const std::string& d) {
  auto r = IncrementValue(c, current, d);
  return r.ok() ? *r : "error";
}

TEST(ColumnOpsTest, KindsAndTypmods) {
  EXPECT_EQ(Column("int4").kind, ColumnKind::kInt32);
  EXPECT_EQ(Column("float8").kind, ColumnKind::kFloat8);
  ColumnSpec n = Column("numeric", ((12 << 16) | 2) + 4);
  EXPECT_EQ(n.kind, ColumnKind::kNumeric);
  EXPECT_EQ(n.precision, 12);
  EXPECT_EQ(n.scale, 2);
  EXPECT_EQ(Column("varchar").kind, ColumnKind::kOther);
}

TEST(ColumnOpsTest, IntegerIncrementsAreCheckedLikePostgres) {
  ColumnSpec i4 = Column("int4");
  EXPECT_EQ(Inc(i4, std::nullopt, "5"), "5");
  EXPECT_EQ(Inc(i4, "2", " -7 "), "-5");
  EXPECT_EQ(Inc(i4, "2147483647", "1"), "error");
  EXPECT_EQ(Inc(i4, "1", "1.5"), "error");
  EXPECT_EQ(Inc(i4, "1", "abc"), "error");
  EXPECT_EQ(Inc(Column("int8"), "9223372036854775807", "1"), "error");
  EXPECT_EQ(Inc(Column("int2"), "32767", "0"), "32767");
}

TEST(ColumnOpsTest, DoublesAddInOrder) {
  ColumnSpec f8 = Column("float8");
  std::optional<std::string> v = "1e16";
  for (int i = 0; i < 3; ++i) v = Inc(f8, v, "1");
  EXPECT_EQ(*v, "1e+16");  // each +1 is lost, as one by one in PostgreSQL
  EXPECT_EQ(Inc(f8, "0.1", "0.2"), "0.30000000000000004");
  EXPECT_EQ(Inc(f8, std::nullopt, "Infinity"), "Infinity");
  EXPECT_EQ(Inc(f8, "1.7976931348623157e308", "1.7976931348623157e308"), "error");
  EXPECT_EQ(Inc(f8, "1", "x"), "error");
  EXPECT_EQ(*CoerceValue(f8, "0.10"), "0.1");
}

TEST(ColumnOpsTest, NumericIsExactAndRoundedToItsScale) {
  ColumnSpec n = Column("numeric");
  EXPECT_EQ(Inc(n, "0.1", "0.2"), "0.3");
  EXPECT_EQ(Inc(n, std::nullopt, "1.50"), "1.50");
  ColumnSpec money = Column("numeric", ((12 << 16) | 2) + 4);
  EXPECT_EQ(*CoerceValue(money, "1.005"), "1.01");
  EXPECT_EQ(Inc(money, "1.01", "0.005"), "1.02");
  EXPECT_EQ(Inc(money, "9999999999.99", "1"), "error");
  EXPECT_EQ(Inc(Column("text"), "1", "1"), "error");
  EXPECT_EQ(*CoerceValue(Column("text"), " x "), " x ");
}

std::string Sub(const ColumnSpec& c, std::optional<std::string> current, const std::string& d) {
  auto r = IncrementValue(c, current, d, /*subtract=*/true);
  return r.ok() ? *r : "error";
}

// Negated increments are `coalesce(col, 0) - delta`: exact where -delta would not fit.
TEST(ColumnOpsTest, SubtractionIsExactForEveryKind) {
  ColumnSpec i8 = Column("int8");
  EXPECT_EQ(Sub(i8, std::nullopt, "5"), "-5");
  EXPECT_EQ(Sub(i8, "-1", "-9223372036854775808"), "9223372036854775807");
  EXPECT_EQ(Sub(i8, "0", "-9223372036854775808"), "error");
  EXPECT_EQ(Sub(i8, "-9223372036854775808", "1"), "error");
  EXPECT_EQ(Sub(Column("int4"), "-1", "-2147483648"), "2147483647");
  EXPECT_EQ(Sub(Column("int2"), "-32768", "1"), "error");
  ColumnSpec f8 = Column("float8");
  EXPECT_EQ(Sub(f8, "0.3", "0.1"), "0.19999999999999998");
  EXPECT_EQ(Sub(f8, "-1.7976931348623157e308", "1.7976931348623157e308"), "error");
  EXPECT_EQ(*AddFloat8(f8, 0.3, "0.1", /*subtract=*/true), 0.3 - 0.1);
  EXPECT_EQ(Sub(Column("float4"), "1", "0.5"), "0.5");
  ColumnSpec money = Column("numeric", ((5 << 16) | 2) + 4);
  EXPECT_EQ(Sub(money, "1.00", "0.005"), "1.00");  // 0.995 rounded half away from zero
  EXPECT_EQ(Sub(money, "-999.99", "0.01"), "error");
  EXPECT_EQ(Sub(Column("numeric"), "0.1", "0.25"), "-0.15");
}

TEST(ColumnOpsTest, ShapesOfJsonAndArrayColumns) {
  EXPECT_EQ(Column("json").shape, ValueShape::kJson);
  EXPECT_EQ(Column("jsonb").shape, ValueShape::kJson);
  EXPECT_EQ(Column("_json").shape, ValueShape::kJsonArray);
  EXPECT_EQ(Column("_jsonb").shape, ValueShape::kJsonArray);
  EXPECT_EQ(Column("_varchar").shape, ValueShape::kArray);
  EXPECT_EQ(Column("_int4").shape, ValueShape::kArray);
  EXPECT_EQ(Column("_int4").kind, ColumnKind::kOther);  // never incremented
  EXPECT_EQ(Column("text").shape, ValueShape::kScalar);
}

}  // namespace
}  // namespace protean_admin::rebuild
