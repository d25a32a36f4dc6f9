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

std::string Literal(std::string_view json, bool json_elements) {
  absl::StatusOr<std::string> literal = PgArrayLiteral(json, json_elements);
  return literal.ok() ? *literal : "error: " + std::string(literal.status().message());
}

// json[] and jsonb[] items are JSON values: a string item is a JSON string, not its bare text
// (which PostgreSQL would refuse as json, or read as another value).
TEST(PgArrayLiteralTest, JsonItemsAreJsonValues) {
  EXPECT_EQ(Literal(R"(["s", "{\"a\": 1}", 2, true, null])", true),
            R"({"\"s\"","\"{\\\"a\\\": 1}\"",2,true,NULL})");
  EXPECT_EQ(Literal(R"(["s"])", false), R"({"s"})");
}

TEST(PgArrayLiteralTest, NestedArraysMustBeRegular) {
  EXPECT_EQ(Literal("[[1, 2], [3, 4]]", false), "{{1,2},{3,4}}");
  EXPECT_EQ(Literal("[[1, 2], [3]]", false),
            "error: invalid array: multidimensional arrays must have sub-arrays of matching "
            "lengths");
  EXPECT_EQ(Literal("[[1], 2]", false),
            "error: invalid array: multidimensional arrays must have sub-arrays of matching "
            "lengths");
  EXPECT_EQ(Literal("[1, [2]]", false),
            "error: invalid array: multidimensional arrays must have sub-arrays of matching "
            "lengths");
  EXPECT_EQ(Literal("[[], []]", false),
            "error: invalid array: an array cannot hold an empty "
            "sub-array");
  EXPECT_EQ(Literal("[[1], 2]", true), R"({"[1]",2})");  // json items: no sub-arrays
  EXPECT_EQ(Literal(R"({"a": 1})", false), "error: expected a JSON array");
}

}  // namespace
}  // namespace protean_admin::rebuild
