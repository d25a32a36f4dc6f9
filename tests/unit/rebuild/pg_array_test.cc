#include "server/rebuild/pg_array.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

// Tokens as a compact string: { } N for NULL, items in <>.
std::string Tokens(const std::string& text) {
  std::vector<PgArrayToken> tokens;
  absl::Status status = ParsePgArray(text, tokens);
  if (!status.ok()) return "error: " + std::string(status.message());
  std::string out;
  for (const PgArrayToken& token : tokens) {
    switch (token.kind) {
      case PgArrayToken::Kind::kBegin:
        out += "{";
        break;
      case PgArrayToken::Kind::kEnd:
        out += "}";
        break;
      case PgArrayToken::Kind::kNull:
        out += "N";
        break;
      case PgArrayToken::Kind::kItem:
        out += "<" + token.text + ">";
        break;
    }
  }
  return out;
}

TEST(PgArrayTest, ParsesQuotedUnquotedAndNullItems) {
  EXPECT_EQ(Tokens("{}"), "{}");
  EXPECT_EQ(Tokens("{a,b}"), "{<a><b>}");
  EXPECT_EQ(Tokens(R"({"a b","c\"d","e\\f",NULL,"NULL",null})"), R"({<a b><c"d><e\f>N<NULL>N})");
  EXPECT_EQ(Tokens("{ a b , c }"), "{<a b><c>}");
  EXPECT_EQ(Tokens(R"({a\,b,x\ })"), "{<a,b><x >}");
  EXPECT_EQ(Tokens(R"({"{\"k\": 1}","[1, 2]"})"), R"({<{"k": 1}><[1, 2]>})");
  EXPECT_EQ(Tokens("{{1,2},{3,4}}"), "{{<1><2>}{<3><4>}}");
  EXPECT_EQ(Tokens("[0:1]={7,8}"), "{<7><8>}");
  EXPECT_EQ(Tokens(R"({""})"), "{<>}");
}

TEST(PgArrayTest, RefusesMalformedText) {
  EXPECT_EQ(Tokens("a,b"),
            "error: malformed array literal: \"a,b\" (array value must start with \"{\")");
  EXPECT_EQ(Tokens("{a,b"), "error: malformed array literal: \"{a,b\" (unexpected end of input)");
  EXPECT_EQ(Tokens("{a}x"),
            "error: malformed array literal: \"{a}x\" (junk after closing right brace)");
  EXPECT_EQ(Tokens("{\"a}"),
            "error: malformed array literal: \"{\"a}\" (unterminated quoted item)");
  EXPECT_EQ(Tokens("{a,,b}"), "error: malformed array literal: \"{a,,b}\" (empty unquoted item)");
}

TEST(PgArrayTest, QuotesItems) {
  std::string out;
  AppendPgArrayItem(out, "plain");
  out += ',';
  AppendPgArrayItem(out, R"(q"b\)");
  out += ',';
  AppendPgArrayItem(out, "NULL");
  EXPECT_EQ(out, R"("plain","q\"b\\","NULL")");
  EXPECT_EQ(Tokens("{" + out + "}"), R"({<plain><q"b\><NULL>})");
}

}  // namespace
}  // namespace protean_admin::rebuild
