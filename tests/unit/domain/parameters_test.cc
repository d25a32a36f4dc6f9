#include "domain/parameters.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace protean_admin::domain {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Msg(const absl::Status& status) { return std::string(status.message()); }

TEST(ParameterReferenceTest, PayloadPaths) {
  auto p = ParseParameterReference(":user_id");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->has_value());
  EXPECT_FALSE((*p)->attribute.has_value());
  EXPECT_THAT((*p)->path, ElementsAre("user_id"));
  EXPECT_EQ((*p)->text, ":user_id");

  p = ParseParameterReference(":a.b.c");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_THAT((*p)->path, ElementsAre("a", "b", "c"));

  p = ParseParameterReference(":items.0.price");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_THAT((*p)->path, ElementsAre("items", "0", "price"));
}

TEST(ParameterReferenceTest, EveryMessageAttribute) {
  const std::pair<const char*, MessageAttribute> cases[] = {
      {":$global_position", MessageAttribute::kGlobalPosition},
      {":$position", MessageAttribute::kPosition},
      {":$stream_name", MessageAttribute::kStreamName},
      {":$stream_id", MessageAttribute::kStreamId},
      {":$type", MessageAttribute::kType},
      {":$version", MessageAttribute::kVersion},
      {":$time", MessageAttribute::kTime},
      {":$message_id", MessageAttribute::kMessageId},
  };
  for (const auto& [text, attribute] : cases) {
    auto p = ParseParameterReference(text);
    ASSERT_TRUE(p.ok()) << text;
    ASSERT_TRUE(p->has_value()) << text;
    EXPECT_EQ((*p)->attribute, attribute) << text;
    EXPECT_TRUE((*p)->path.empty());
    EXPECT_EQ((*p)->text, text);
    EXPECT_EQ(std::string(":$") + std::string(MessageAttributeName(attribute)), text);
  }
}

TEST(ParameterReferenceTest, AnythingElseIsALiteral) {
  for (const char* text : {"", ":", "user_id", " :user_id", ":user_id ", "::text", ":1", ":a.",
                           ":a..b", ":a-b", "x:a", ":$", "hello world", ":a b"}) {
    auto p = ParseParameterReference(text);
    ASSERT_TRUE(p.ok()) << text;
    EXPECT_FALSE(p->has_value()) << text;
  }
}

TEST(ParameterReferenceTest, UnknownAttributeIsAnErrorNamingIt) {
  auto p = ParseParameterReference(":$nonsense");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Msg(p.status()), HasSubstr("unknown message attribute ':$nonsense'"));
}

TEST(RewriteSqlTest, NumbersEveryOccurrenceOnItsOwn) {
  // A parameter used twice is bound twice, so that each occurrence can take the type of
  // where it stands (docs/domain-toml.md "Parameter types").
  auto s = RewriteSql(
      "INSERT INTO t (a, b, c) VALUES (:user_id, :amount, :user_id) ON CONFLICT (a) DO "
      "UPDATE SET b = t.b + :amount, c = :$global_position");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->text,
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $3) ON CONFLICT (a) DO UPDATE SET b = t.b "
            "+ $4, c = $5");
  ASSERT_EQ(s->parameters.size(), 5u);
  EXPECT_EQ(s->parameters[0].text, ":user_id");
  EXPECT_EQ(s->parameters[1].text, ":amount");
  EXPECT_EQ(s->parameters[2].text, ":user_id");
  EXPECT_EQ(s->parameters[3].text, ":amount");
  EXPECT_EQ(s->parameters[4].attribute, MessageAttribute::kGlobalPosition);
  ASSERT_EQ(s->offsets.size(), 5u);
  for (size_t i = 0; i < s->offsets.size(); ++i) {
    EXPECT_EQ(s->text.substr(s->offsets[i], 2), "$" + std::to_string(i + 1)) << i;
  }
  EXPECT_EQ(s->original.substr(0, 11), "INSERT INTO");
}

TEST(RewriteSqlTest, NestedPathsAndCasts) {
  auto s = RewriteSql("SELECT :a.b.c::numeric, :a.b, :x::text, CAST(:y AS int), :z.");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->text, "SELECT $1::numeric, $2, $3::text, CAST($4 AS int), $5.");
  EXPECT_THAT(s->parameters[0].path, ElementsAre("a", "b", "c"));
  EXPECT_THAT(s->parameters[1].path, ElementsAre("a", "b"));
  EXPECT_THAT(s->parameters[4].path, ElementsAre("z"));
}

TEST(RewriteSqlTest, LeavesLiteralsIdentifiersCommentsAndDollarQuotesAlone) {
  const char* sql =
      "SELECT ':not_a', 'it''s :no', E'\\' :no', \"col:no\", \"a\"\"b:no\" -- :no\n"
      "/* :no /* nested :no */ still :no */ $$ :no $$, $tag$ :no $tag$, :yes, x$1";
  auto s = RewriteSql(sql);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->parameters.size(), 1u);
  EXPECT_EQ(s->parameters[0].text, ":yes");
  std::string expected = sql;
  expected.replace(expected.find(":yes"), 4, "$1");
  EXPECT_EQ(s->text, expected);
}

TEST(RewriteSqlTest, NoParameters) {
  auto s = RewriteSql("DELETE FROM t WHERE a::int = 1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->text, "DELETE FROM t WHERE a::int = 1");
  EXPECT_TRUE(s->parameters.empty());
}

TEST(RewriteSqlTest, Errors) {
  struct Case {
    const char* sql;
    const char* message;
  } cases[] = {
      {"SELECT :$bogus", "unknown message attribute ':$bogus'"},
      {"SELECT 'open", "unterminated string literal"},
      {"SELECT \"open", "unterminated quoted identifier"},
      {"SELECT /* open", "unterminated comment"},
      {"SELECT /* a /* b */", "unterminated comment"},
      {"SELECT $q$ open", "unterminated dollar-quoted string"},
      {"SELECT $1", "positional parameter '$1...'"},
  };
  for (const Case& c : cases) {
    auto s = RewriteSql(c.sql);
    ASSERT_FALSE(s.ok()) << c.sql;
    EXPECT_THAT(Msg(s.status()), HasSubstr(c.message)) << c.sql;
  }
}

}  // namespace
}  // namespace protean_admin::domain
