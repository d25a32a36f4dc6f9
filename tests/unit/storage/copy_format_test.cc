#include "gtest/gtest.h"
#include "storage/projection_store.h"

namespace protean_admin::storage {
namespace {

TEST(CopyFormatTest, ArrayLiteralQuotesEveryElement) {
  EXPECT_EQ(TextArrayLiteral({}), "{}");
  EXPECT_EQ(TextArrayLiteral({"a", "b c", "q\"uote", "back\\slash", "NULL", ""}),
            "{\"a\",\"b c\",\"q\\\"uote\",\"back\\\\slash\",\"NULL\",\"\"}");
}

TEST(CopyFormatTest, CopyFieldsEscapeSeparatorsAndNull) {
  std::string out;
  AppendCopyField(out, std::nullopt);
  out += '|';
  AppendCopyField(out, std::string("a\tb\nc\\d\re"));
  out += '|';
  AppendCopyField(out, std::string("\\N"));
  EXPECT_EQ(out, "\\N|a\\tb\\nc\\\\d\\re|\\\\N");
}

}  // namespace
}  // namespace protean_admin::storage
