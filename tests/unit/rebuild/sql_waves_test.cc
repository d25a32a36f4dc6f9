// The recognizer of SQL-form statements that run set-based (server/rebuild/sql_waves.h):
// accepted shapes and their set-based text, refused shapes and why, canonical keys and the
// array literals the waves bind.

#include "server/rebuild/sql_waves.h"

#include <string>
#include <vector>

#include "domain/parameters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kColumns = {"user_id", "name", "balance", "tags"};

absl::StatusOr<WaveForm> Recognize(const char* sql) {
  absl::StatusOr<domain::SqlStatement> statement = domain::RewriteSql(sql);
  EXPECT_TRUE(statement.ok()) << statement.status();
  return RecognizeWaveStatement(*statement, "balances", "user_id", kColumns);
}

TEST(RecognizeWaveStatementTest, SetToExcludedBecomesOneInsertSelectOverArrays) {
  absl::StatusOr<WaveForm> form = Recognize(
      "INSERT INTO balances (user_id, name, balance) VALUES (:user_id, :name, 0) "
      "ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, balance = 0");
  ASSERT_TRUE(form.ok()) << form.status();
  EXPECT_EQ(form->key_parameter, 0);
  EXPECT_EQ(form->text,
            "INSERT INTO balances (user_id, name, balance) SELECT u.p1, u.p2, 0 FROM unnest($1, "
            "$2) AS u(p1, p2) ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, balance "
            "= 0");
}

TEST(RecognizeWaveStatementTest, AcceptedShapes) {
  // Increment with coalesce and a CAST, the table's own name as qualifier.
  EXPECT_TRUE(Recognize("INSERT INTO balances (user_id, name, balance) VALUES (:user_id, '', "
                        "CAST(:amount AS double precision)) ON CONFLICT (user_id) DO UPDATE SET "
                        "balance = coalesce(balances.balance, 0) + EXCLUDED.balance")
                  .ok());
  // An alias, a WHERE in DO UPDATE, :: casts with a typmod, the key not first.
  absl::StatusOr<WaveForm> aliased = Recognize(
      "insert into Balances as r (name, user_id, balance) values (upper(:name), :id, "
      ":b::numeric(12,2)) on conflict (user_id) do update set balance = r.balance + "
      "excluded.balance where r.balance is distinct from excluded.balance and r.name <> ''");
  ASSERT_TRUE(aliased.ok()) << aliased.status();
  EXPECT_EQ(aliased->key_parameter, 1);
  EXPECT_THAT(aliased->text, HasSubstr("SELECT upper(u.p1), u.p2, u.p3::numeric(12,2) FROM "
                                       "unnest($1, $2, $3) AS u(p1, p2, p3) on conflict"));
  // DO NOTHING; comments; CASE; the same parameter twice.
  EXPECT_TRUE(Recognize("INSERT INTO balances (user_id, name) VALUES (:user_id, :name) -- c\n"
                        "ON CONFLICT (user_id) DO NOTHING")
                  .ok());
  EXPECT_TRUE(Recognize("INSERT INTO balances (user_id, balance) VALUES (:user_id, CASE WHEN "
                        ":a > 0 THEN :a ELSE 0 END) ON CONFLICT (user_id) DO UPDATE SET "
                        "balance = /* keep */ greatest(balances.balance, EXCLUDED.balance)")
                  .ok());
}

// Each refused shape with the reason given.
TEST(RecognizeWaveStatementTest, RefusedShapesSayWhy) {
  struct Case {
    const char* sql;
    const char* why;
  };
  const Case cases[] = {
      {"UPDATE balances SET balance = balance + :a WHERE user_id = :user_id", "not an INSERT"},
      {"INSERT INTO other (user_id) VALUES (:user_id) ON CONFLICT (user_id) DO NOTHING",
       "another table"},
      {"INSERT INTO public.balances (user_id) VALUES (:user_id) ON CONFLICT (user_id) DO NOTHING",
       "schema-qualified"},
      {"INSERT INTO balances (user_id) SELECT :user_id ON CONFLICT (user_id) DO NOTHING", "VALUES"},
      {"INSERT INTO balances (user_id) VALUES (:a), (:b) ON CONFLICT (user_id) DO NOTHING",
       "ON CONFLICT (user_id)"},
      {"INSERT INTO balances (user_id, name) VALUES (:id, :n) ON CONFLICT (name) DO NOTHING",
       "the projection's key"},
      {"INSERT INTO balances (user_id, name) VALUES (:id, :n) ON CONFLICT DO NOTHING",
       "the projection's key"},
      {"INSERT INTO balances (name) VALUES (:n) ON CONFLICT (user_id) DO NOTHING",
       "the key column is not inserted"},
      {"INSERT INTO balances (user_id) VALUES (lower(:id)) ON CONFLICT (user_id) DO NOTHING",
       "not a plain parameter"},
      {"INSERT INTO balances (user_id, balance) VALUES (:id, 1) ON CONFLICT (user_id) DO UPDATE "
       "SET balance = :b",
       "a parameter after ON CONFLICT"},
      {"INSERT INTO balances (user_id, balance) VALUES (:id, (SELECT max(x) FROM t)) ON CONFLICT "
       "(user_id) DO NOTHING",
       "the word select"},
      {"INSERT INTO balances (user_id, balance) VALUES (:id, 1) ON CONFLICT (user_id) DO UPDATE "
       "SET balance = (SELECT sum(balance) FROM balances)",
       "the word select"},
      {"INSERT INTO balances (user_id, balance) VALUES (:id, 1) ON CONFLICT (user_id) DO UPDATE "
       "SET balance = other.balance",
       "the reference to other."},
      {"INSERT INTO balances (user_id, balance) VALUES (:id, random()) ON CONFLICT (user_id) DO "
       "NOTHING",
       "the function random()"},
      {"INSERT INTO balances (user_id, balance) VALUES (:id, nextval('s')) ON CONFLICT "
       "(user_id) DO NOTHING",
       "the function nextval()"},
      {"INSERT INTO balances (user_id) VALUES (:id) ON CONFLICT (user_id) DO UPDATE SET "
       "balance = 1 RETURNING balance",
       "the word returning"},
      {"INSERT INTO balances (user_id, balance) VALUES (:id, DEFAULT) ON CONFLICT (user_id) DO "
       "NOTHING",
       "the word default"},
      {"INSERT INTO balances (user_id, name) VALUES (:id, E'x') ON CONFLICT (user_id) DO NOTHING",
       "prefixed string"},
      {"INSERT INTO \"balances\" (user_id) VALUES (:id) ON CONFLICT (user_id) DO NOTHING",
       "quoted identifier"},
      {"INSERT INTO balances (user_id, name) VALUES (:id, $$x$$) ON CONFLICT (user_id) DO "
       "NOTHING",
       "dollar-quoted"},
      {"INSERT INTO balances (user_id) VALUES (:id) ON CONFLICT (user_id) DO UPDATE SET "
       "balance = 1; DELETE FROM balances",
       "the character ';'"},
      {"INSERT INTO balances (user_id, name) VALUES (:id, :n) ON CONFLICT (user_id) DO UPDATE "
       "SET name = nosuch",
       "the word nosuch"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<WaveForm> form = Recognize(c.sql);
    ASSERT_FALSE(form.ok()) << c.sql;
    EXPECT_THAT(std::string(form.status().message()), HasSubstr(c.why)) << c.sql;
  }
}

TEST(IsCanonicalWaveKeyTest, IntegersOnlyInTheirOneSpelling) {
  EXPECT_TRUE(IsCanonicalWaveKey(WaveKeyKind::kText, std::string(" 01 ")));
  EXPECT_FALSE(IsCanonicalWaveKey(WaveKeyKind::kText, std::nullopt));
  EXPECT_TRUE(IsCanonicalWaveKey(WaveKeyKind::kVarchar, std::string(" a")));
  EXPECT_TRUE(IsCanonicalWaveKey(WaveKeyKind::kVarchar, std::string("")));
  EXPECT_FALSE(IsCanonicalWaveKey(WaveKeyKind::kVarchar, std::string("a ")));
  for (const char* ok : {"0", "7", "-12", "9223372036854775807"}) {
    EXPECT_TRUE(IsCanonicalWaveKey(WaveKeyKind::kInteger, std::string(ok))) << ok;
  }
  for (const char* bad : {"", "-", "-0", "01", "+1", " 1", "1.0", "1e3", "12a"}) {
    EXPECT_FALSE(IsCanonicalWaveKey(WaveKeyKind::kInteger, std::string(bad))) << bad;
  }
}

TEST(WaveArrayLiteralTest, QuotesEveryElementAndKeepsNulls) {
  const storage::PgParam a = std::string("a"), quote = std::string("q\"u\\o"),
                         empty = std::string(""), null = std::nullopt, word = std::string("NULL");
  EXPECT_EQ(WaveArrayLiteral({&a, &quote, &empty, &null, &word}),
            R"({"a","q\"u\\o","",NULL,"NULL"})");
  EXPECT_EQ(WaveArrayLiteral({}), "{}");
}

}  // namespace
}  // namespace protean_admin::rebuild
