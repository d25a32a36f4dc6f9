// The parts of SQL-form planning that need no database: JSON arrays as PostgreSQL array
// literals, and which parameters a typing error points at.

#include "server/rebuild/sql_statements.h"

#include "absl/strings/cord.h"
#include "domain/parameters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

TEST(PgArrayLiteralTest, ItemsKeepTheirTextAndAreQuotedWhereNeeded) {
  EXPECT_EQ(*PgArrayLiteral(R"(["a", "b c", "q\"uote", "back\\slash", null])", false),
            R"({"a","b c","q\"uote","back\\slash",NULL})");
  EXPECT_EQ(*PgArrayLiteral("[1, 2.50, -3e2, true]", false), "{1,2.50,-3e2,true}");
  EXPECT_EQ(*PgArrayLiteral("[]", false), "{}");
  EXPECT_EQ(*PgArrayLiteral("[[1, 2], [3, 4]]", false), "{{1,2},{3,4}}");
  // JSON elements: objects and nested arrays stay JSON texts.
  EXPECT_EQ(*PgArrayLiteral(R"([{"a": "x"}, [1, 2]])", true), R"({"{\"a\": \"x\"}","[1, 2]"})");
  EXPECT_FALSE(PgArrayLiteral(R"({"a": 1})", false).ok());
  EXPECT_FALSE(PgArrayLiteral("[1,", false).ok());
}

// A status as PgConnection reports a failed prepare.
absl::Status PrepareError(const char* state, const char* primary, int position) {
  absl::Status status = absl::FailedPreconditionError(primary);
  status.SetPayload("protean-admin/sqlstate", absl::Cord(state));
  status.SetPayload("protean-admin/pg-primary", absl::Cord(primary));
  if (position > 0)
    status.SetPayload("protean-admin/pg-position", absl::Cord(std::to_string(position)));
  return status;
}

std::vector<bool> Marked(const char* sql, const absl::Status& error) {
  auto statement = domain::RewriteSql(sql);
  EXPECT_TRUE(statement.ok());
  std::vector<bool> by_value(statement->parameters.size(), false);
  MarkUntypedParameters(*statement, error, by_value);
  return by_value;
}

TEST(MarkUntypedParametersTest, TheNamedParameter) {
  EXPECT_THAT(Marked("SELECT json_build_object('k', :a, 'v', :b) WHERE x = :c",
                     PrepareError("42P18", "could not determine data type of parameter $2", 0)),
              ::testing::ElementsAre(false, true, false));
}

TEST(MarkUntypedParametersTest, TheOperandsOfTheOperatorAtThePosition) {
  // "UPDATE t SET q = $1 - $2 WHERE id = $3": the '-' is character 21.
  EXPECT_THAT(Marked("UPDATE t SET q = :a - :b WHERE id = :id",
                     PrepareError("42725", "operator is not unique: unknown - unknown", 21)),
              ::testing::ElementsAre(true, true, false));
  EXPECT_TRUE(IsParameterTypingError(
      PrepareError("42725", "operator is not unique: unknown - unknown", 21)));
}

TEST(MarkUntypedParametersTest, TheArgumentsOfTheFunctionAtThePosition) {
  // "SELECT f($1, $2), $3": f is character 8.
  EXPECT_THAT(Marked("SELECT f(:a, :b), :c",
                     PrepareError("42725", "function f(unknown, unknown) is not unique", 8)),
              ::testing::ElementsAre(true, true, false));
}

TEST(MarkUntypedParametersTest, EveryUnmarkedOneWithoutAPosition) {
  EXPECT_THAT(Marked("SELECT :a || :b", PrepareError("42725", "operator is not unique", 0)),
              ::testing::ElementsAre(true, true));
}

TEST(IsParameterTypingErrorTest, OnlyErrorsAboutUntypedParameters) {
  EXPECT_TRUE(IsParameterTypingError(PrepareError("42P18", "could not determine", 0)));
  EXPECT_TRUE(IsParameterTypingError(PrepareError("42P08", "inconsistent types deduced", 0)));
  EXPECT_FALSE(IsParameterTypingError(PrepareError("42703", "column \"x\" does not exist", 0)));
  EXPECT_FALSE(
      IsParameterTypingError(PrepareError("42883", "operator does not exist: text - text", 0)));
  EXPECT_FALSE(IsParameterTypingError(absl::UnavailableError("connection lost")));
}

}  // namespace
}  // namespace protean_admin::rebuild
