// SQL-form upserts lowered to the action form (server/rebuild/sql_lowering.h): the handler
// each accepted shape becomes, refused shapes and why, and the per-event semantics
// FinishLoweredItem adds (NULL increments, text lengths, insert values read every time).

#include "server/rebuild/sql_lowering.h"

#include <string>
#include <vector>

#include "domain/parameters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

storage::ColumnInfo Column(const char* name, const char* type_sql, const char* type_name,
                           int32_t typmod = -1) {
  storage::ColumnInfo c;
  c.name = name;
  c.type_sql = type_sql;
  c.type_name = type_name;
  c.typmod = typmod;
  return c;
}

storage::TableInfo Balances() {
  storage::TableInfo t;
  t.schema = "public";
  t.table = "balances";
  t.qualified = "\"public\".\"balances\"";
  t.columns = {Column("user_id", "character varying(8)", "varchar", 8 + 4),
               Column("name", "character varying(4)", "varchar", 4 + 4),
               Column("balance", "double precision", "float8"),
               Column("hits", "integer", "int4"),
               Column("total", "numeric(6,2)", "numeric", ((6 << 16) | 2) + 4),
               Column("seen", "timestamp with time zone", "timestamptz")};
  return t;
}

absl::StatusOr<LoweredHandler> Lower(const char* sql) {
  absl::StatusOr<domain::SqlStatement> statement = domain::RewriteSql(sql);
  EXPECT_TRUE(statement.ok()) << statement.status();
  domain::Handler h;
  h.event = "Transacted";
  h.form = domain::Handler::Form::kSql;
  h.where = "domain.toml:9";
  h.sql.push_back(*std::move(statement));
  return LowerSqlHandler(h, Balances(), "user_id");
}

// column = value, each value a parameter's text (":amount") or its literal's dump.
std::vector<std::pair<std::string, std::string>> Listed(
    const std::vector<std::pair<std::string, domain::Value>>& list) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [column, value] : list) {
    out.emplace_back(column, value.parameter ? value.parameter->text : value.literal.dump());
  }
  return out;
}

TEST(LowerSqlHandlerTest, TheBenchmarksUpsertsBecomeSetInsertAndIncrement) {
  absl::StatusOr<LoweredHandler> registered = Lower(
      "INSERT INTO balances (user_id, name, balance) VALUES (:user_id, :name, 0) "
      "ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, balance = 0");
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->action.form, domain::Handler::Form::kAction);
  EXPECT_EQ(registered->action.key.parameter->text, ":user_id");
  EXPECT_THAT(Listed(registered->action.set),
              ElementsAre(Pair("name", ":name"), Pair("balance", "\"0\"")));
  EXPECT_TRUE(registered->action.insert.empty());
  EXPECT_THAT(registered->columns.set, ElementsAre(1, 2));

  absl::StatusOr<LoweredHandler> transacted = Lower(
      "INSERT INTO balances AS b (user_id, name, balance) VALUES (:user_id, '', "
      "CAST(:amount AS double precision)) ON CONFLICT (user_id) DO UPDATE SET balance = "
      "coalesce(b.balance, 0) + EXCLUDED.balance");
  ASSERT_TRUE(transacted.ok()) << transacted.status();
  EXPECT_THAT(Listed(transacted->action.insert),
              ElementsAre(Pair("name", "\"\""), Pair("balance", ":amount")));
  EXPECT_THAT(Listed(transacted->action.increment), ElementsAre(Pair("balance", ":amount")));
  // The increment reads :amount for every event; the literal was checked while lowering.
  EXPECT_THAT(transacted->check_insert, ElementsAre(false, false));
}

TEST(LowerSqlHandlerTest, OtherAcceptedShapes) {
  // DO NOTHING: insert only, each parameter read for every event; ::casts; the table's name
  // in coalesce; a literal update of a column not inserted.
  absl::StatusOr<LoweredHandler> h = Lower(
      "INSERT INTO balances (user_id, name, hits) VALUES (:user_id, :name, :n::int) "
      "ON CONFLICT (user_id) DO NOTHING");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(Listed(h->action.insert), ElementsAre(Pair("name", ":name"), Pair("hits", ":n")));
  EXPECT_THAT(h->check_insert, ElementsAre(true, true));
  h = Lower(
      "INSERT INTO balances (user_id, hits, balance) VALUES (:user_id, 1, :a) ON CONFLICT "
      "(user_id) DO UPDATE SET hits = coalesce(balances.hits, 0) + EXCLUDED.hits, balance = "
      "coalesce(balances.balance, 0) + EXCLUDED.balance, total = -1.5, name = 'it''s'");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(Listed(h->action.increment),
              ElementsAre(Pair("hits", "\"1\""), Pair("balance", ":a")));
  EXPECT_THAT(Listed(h->action.update),
              ElementsAre(Pair("total", "\"-1.5\""), Pair("name", "\"it's\"")));
  // A literal assigned differently from its inserted value: insert, then update.
  h = Lower(
      "INSERT INTO balances (user_id, hits) VALUES (:user_id, 0) ON CONFLICT (user_id) "
      "DO UPDATE SET hits = 7");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(Listed(h->action.insert), ElementsAre(Pair("hits", "\"0\"")));
  EXPECT_THAT(Listed(h->action.update), ElementsAre(Pair("hits", "\"7\"")));
}

TEST(LowerSqlHandlerTest, RefusedShapesSayWhy) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"UPDATE balances SET hits = 1 WHERE user_id = :user_id", "not an INSERT"},
      {"INSERT INTO balances (user_id, name) VALUES (:user_id, :name) ON CONFLICT (user_id) DO "
       "UPDATE SET name = EXCLUDED.name WHERE balances.name IS NULL",
       "WHERE"},
      {"INSERT INTO balances (user_id, balance) VALUES (:user_id, :a) ON CONFLICT (user_id) DO "
       "UPDATE SET balance = balances.balance + EXCLUDED.balance",
       "assignment to balance"},
      {"INSERT INTO balances (user_id, name) VALUES (:user_id, upper(:name)) ON CONFLICT "
       "(user_id) DO NOTHING",
       "not a parameter"},
      {"INSERT INTO balances (user_id, hits) VALUES (:user_id, CAST(:h AS bigint)) ON CONFLICT "
       "(user_id) DO NOTHING",
       "a cast to int8"},
      {"INSERT INTO balances (user_id, hits) VALUES (:user_id, 1.5) ON CONFLICT (user_id) DO "
       "NOTHING",
       "the number 1.5"},
      {"INSERT INTO balances (user_id, name) VALUES (:user_id, 'toolong') ON CONFLICT "
       "(user_id) DO NOTHING",
       "value too long"},
      {"INSERT INTO balances (user_id, total) VALUES (:user_id, :t) ON CONFLICT (user_id) DO "
       "UPDATE SET total = coalesce(balances.total, 0) + EXCLUDED.total",
       "an increment of column total"},
      {"INSERT INTO balances (user_id, seen) VALUES (:user_id, :t) ON CONFLICT (user_id) DO "
       "NOTHING",
       "column seen of type timestamp with time zone"},
      {"INSERT INTO balances (user_id) VALUES (:user_id) ON CONFLICT (user_id) DO NOTHING",
       "no column besides the key"},
      {"INSERT INTO balances (user_id, name) VALUES (:user_id, :name) ON CONFLICT (user_id) DO "
       "UPDATE SET hits = EXCLUDED.hits",
       "hits, which is not inserted"},
  };
  for (const auto& [sql, why] : cases) {
    absl::StatusOr<LoweredHandler> h = Lower(sql);
    ASSERT_FALSE(h.ok()) << sql;
    EXPECT_THAT(h.status().message(), HasSubstr(why)) << sql;
  }
}

Datum Text(const char* text, Datum::Kind kind = Datum::Kind::kString) {
  Datum d;
  d.kind = kind;
  d.text = text;
  return d;
}

TEST(FinishLoweredItemTest, GivesTheStatementsPerEventSemantics) {
  absl::StatusOr<LoweredHandler> h = Lower(
      "INSERT INTO balances (user_id, name, balance, hits) VALUES (:user_id, :name, :a, "
      ":h) ON CONFLICT (user_id) DO UPDATE SET balance = coalesce(balances.balance, 0) + "
      "EXCLUDED.balance");
  ASSERT_TRUE(h.ok()) << h.status();
  std::vector<ColumnSpec> specs;
  for (const storage::ColumnInfo& c : Balances().columns) specs.push_back(ColumnSpec::From(c));
  // coalesce(balance, 0) + NULL is NULL: an update to NULL, no increment.
  ActionItem item;
  item.insert = {{1, Text("ab  ")}, {2, Datum()}, {3, Text("5", Datum::Kind::kNumber)}};
  item.increment = {{2, Datum()}};
  ASSERT_TRUE(FinishLoweredItem(*h, specs, item).ok());
  EXPECT_TRUE(item.increment.empty());
  ASSERT_EQ(item.update.size(), 1u);
  EXPECT_EQ(item.update[0].first, 2);
  EXPECT_TRUE(item.update[0].second.is_null());
  // varchar(4): spaces beyond the length are dropped; other characters fail the event.
  item = ActionItem();
  item.insert = {{1, Text("abcd  ")}, {2, Text("1")}, {3, Text("5")}};
  item.increment = {{2, Text("1")}};
  ASSERT_TRUE(FinishLoweredItem(*h, specs, item).ok());
  EXPECT_EQ(item.insert[0].second.text, "abcd");
  item.insert[0].second = Text("abcde");
  absl::Status refused = FinishLoweredItem(*h, specs, item);
  EXPECT_THAT(refused.message(), HasSubstr("value too long for type character varying(4)"));
  // An insert value the column refuses fails the event even when the row would exist.
  item.insert[0].second = Text("ab");
  item.insert[2].second = Text("1.5");
  EXPECT_FALSE(FinishLoweredItem(*h, specs, item).ok());
}

}  // namespace
}  // namespace protean_admin::rebuild
