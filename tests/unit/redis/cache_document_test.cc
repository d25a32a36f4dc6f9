// CacheColumn, CacheTableInfo and the JSON documents of cache-backed projection rows.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/cache_store.h"
#include "server/rebuild/column_ops.h"

namespace protean_admin::rebuild {
namespace {

using storage::Cell;
using storage::ColumnInfo;
using storage::TableInfo;
using ::testing::ElementsAre;
using ::testing::Optional;

TEST(CacheColumnTest, MapsSqlTypesAsPostgresWould) {
  EXPECT_EQ(CacheColumn("a", "double precision").type_name, "float8");
  EXPECT_EQ(CacheColumn("a", "DOUBLE   PRECISION").type_name, "float8");
  EXPECT_EQ(CacheColumn("a", "float").type_name, "float8");
  EXPECT_EQ(CacheColumn("a", "float(10)").type_name, "float4");
  EXPECT_EQ(CacheColumn("a", "real").type_name, "float4");
  EXPECT_EQ(CacheColumn("a", "integer").type_name, "int4");
  EXPECT_EQ(CacheColumn("a", "bigint").type_name, "int8");
  EXPECT_EQ(CacheColumn("a", "smallint").type_name, "int2");
  EXPECT_EQ(CacheColumn("a", "boolean").type_name, "bool");
  EXPECT_EQ(CacheColumn("a", "jsonb").type_name, "jsonb");
  EXPECT_EQ(CacheColumn("a", "varchar(255)").type_name, "varchar");
  EXPECT_EQ(CacheColumn("a", "character varying(20)").type_name, "varchar");
  EXPECT_EQ(CacheColumn("a", "text").type_name, "text");
  EXPECT_EQ(CacheColumn("a", "integer[]").type_name, "_int4");
  EXPECT_EQ(CacheColumn("a", "jsonb[]").type_name, "_jsonb");
  EXPECT_EQ(CacheColumn("a", "TEXT []").type_name, "_text");
  ColumnInfo tags = CacheColumn("a", "varchar(20)[]");
  EXPECT_EQ(tags.type_name, "_varchar");
  EXPECT_EQ(tags.typmod, -1);  // as for varchar(20) itself here: lengths are not checked
  ColumnInfo money = CacheColumn("m", "numeric(12,2)");
  EXPECT_EQ(money.type_name, "numeric");
  EXPECT_EQ(money.type_sql, "numeric(12,2)");
  ColumnSpec spec = ColumnSpec::From(money);  // the engine reads precision/scale back
  EXPECT_EQ(spec.kind, ColumnKind::kNumeric);
  EXPECT_EQ(spec.precision, 12);
  EXPECT_EQ(spec.scale, 2);
  EXPECT_EQ(ColumnSpec::From(CacheColumn("n", "numeric")).precision, -1);
  EXPECT_EQ(ColumnSpec::From(CacheColumn("f", "double precision")).kind, ColumnKind::kFloat8);
}

TableInfo Table(const std::vector<std::pair<std::string, std::string>>& columns) {
  TableInfo table;
  for (const auto& [name, type] : columns) table.columns.push_back(CacheColumn(name, type));
  return table;
}

TEST(CacheDocumentTest, ColumnTypesDecideJsonTypes) {
  TableInfo table = Table({{"user_id", "varchar(255)"},
                           {"name", "text"},
                           {"balance", "double precision"},
                           {"total", "numeric(20,4)"},
                           {"count", "integer"},
                           {"active", "boolean"},
                           {"extra", "jsonb"},
                           {"missing", "text"},
                           {"odd", "double precision"}});
  std::vector<Cell> cells = {"42",      "Zoë \"Q\"\n", "10.5",         "12345678901234567.1234",
                             "7",       "t",           "{\"a\": [1]}", std::nullopt,
                             "Infinity"};
  std::string doc = RedisProjectionStore::ToDocument(table, cells);
  EXPECT_EQ(doc,
            "{\"user_id\":\"42\",\"name\":\"Zoë \\\"Q\\\"\\n\",\"balance\":10.5,"
            "\"total\":12345678901234567.1234,\"count\":7,\"active\":true,\"extra\":{\"a\": [1]},"
            "\"missing\":null,\"odd\":\"Infinity\"}");
  ASSERT_TRUE(nlohmann::json::accept(doc));

  // Back to cells: numbers keep their exact text, booleans read as true/false.
  auto back = RedisProjectionStore::FromDocument(table, doc);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(*back, ElementsAre(Optional(std::string("42")), Optional(std::string("Zoë \"Q\"\n")),
                                 Optional(std::string("10.5")),
                                 Optional(std::string("12345678901234567.1234")),
                                 Optional(std::string("7")), Optional(std::string("true")),
                                 Optional(std::string("{\"a\": [1]}")), std::nullopt,
                                 Optional(std::string("Infinity"))));
}

TEST(CacheDocumentTest, FromDocumentIgnoresUnknownFieldsAndRejectsNonObjects) {
  TableInfo table = Table({{"id", "text"}, {"n", "integer"}});
  auto cells = RedisProjectionStore::FromDocument(table, R"({"zzz": {"x": 1}, "n": -3})");
  ASSERT_TRUE(cells.ok()) << cells.status();
  EXPECT_THAT(*cells, ElementsAre(std::nullopt, Optional(std::string("-3"))));
  for (std::string_view bad : {"[1,2]", "\"text\"", "{\"n\": ", "not json", ""}) {
    auto result = RedisProjectionStore::FromDocument(table, bad);
    EXPECT_FALSE(result.ok()) << bad;
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

// Array columns are JSON arrays in the document, items typed by the element type, and read
// back into the array text a PostgreSQL table would hold.
TEST(CacheDocumentTest, ArrayColumnsAreJsonArrays) {
  TableInfo table = Table({{"id", "text"},
                           {"tags", "varchar(20)[]"},
                           {"items", "json[]"},
                           {"nums", "integer[]"},
                           {"grid", "numeric[][]"},
                           {"odd", "text[]"}});
  std::vector<Cell> cells = {
      "o1",     R"({"a","b c",NULL,"q\""})", R"({"{\"sku\": \"A\"}","\"s\"",2})",
      "{1,-2}", "{{1.50,2},{3,NULL}}",       "not an array"};
  std::string doc = RedisProjectionStore::ToDocument(table, cells);
  EXPECT_EQ(doc, R"({"id":"o1","tags":["a","b c",null,"q\""],"items":[{"sku": "A"},"s",2],)"
                 R"("nums":[1,-2],"grid":[[1.50,2],[3,null]],"odd":"not an array"})");
  ASSERT_TRUE(nlohmann::json::accept(doc));
  auto back = RedisProjectionStore::FromDocument(table, doc);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(
      *back,
      ElementsAre(Optional(std::string("o1")), Optional(std::string(R"({"a","b c",NULL,"q\""})")),
                  Optional(std::string(R"({"{\"sku\": \"A\"}","\"s\"",2})")),
                  Optional(std::string("{1,-2}")), Optional(std::string("{{1.50,2},{3,NULL}}")),
                  Optional(std::string("not an array"))));
  EXPECT_EQ(RedisProjectionStore::ToDocument(
                table, {"o2", "{}", std::nullopt, std::nullopt, std::nullopt, std::nullopt}),
            R"({"id":"o2","tags":[],"items":null,"nums":null,"grid":null,"odd":null})");
}

TEST(CacheDocumentTest, BooleansAndInvalidUtf8) {
  TableInfo table = Table({{"b", "bool"}, {"s", "text"}});
  EXPECT_EQ(RedisProjectionStore::ToDocument(table, {"false", std::string("a\xff", 2)}),
            "{\"b\":false,\"s\":\"a\xEF\xBF\xBD\"}");  // U+FFFD, never an exception
  EXPECT_EQ(RedisProjectionStore::ToDocument(table, {"maybe", "x"}),
            "{\"b\":\"maybe\",\"s\":\"x\"}");
}

domain::Domain BalancesDomain(bool declare_columns) {
  domain::Domain d;
  d.name = "Test";
  d.caches.push_back({"default", "redis", "redis://127.0.0.1:1/0", 300});
  domain::Projection p;
  p.name = "Balances";
  p.key = "user_id";
  p.cache = "default";
  p.cache_prefix = "balances";
  if (declare_columns) {
    p.columns = {{"name", "varchar(255)"}, {"balance", "double precision"}};
  }
  d.projections.push_back(p);
  domain::Projector projector;
  projector.name = "TransactionProjector";
  projector.projector_for = "Balances";
  domain::Handler registered;
  registered.form = domain::Handler::Form::kAction;
  registered.event = "Registered";
  registered.set = {{"name", {}}, {"balance", {}}};
  domain::Handler transacted;
  transacted.form = domain::Handler::Form::kAction;
  transacted.event = "Transacted";
  transacted.insert = {{"name", {}}, {"balance", {}}};
  transacted.increment = {{"balance", {}}};
  projector.handlers = {registered, transacted};
  d.projectors.push_back(projector);
  return d;
}

TEST(CacheTableInfoTest, DeclaredColumnsWithTheKeyAdded) {
  domain::Domain d = BalancesDomain(true);
  auto table = CacheTableInfo(d, d.projections[0]);
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->columns.size(), 3u);
  EXPECT_EQ(table->columns[0].name, "user_id");
  EXPECT_EQ(table->columns[0].type_name, "text");
  EXPECT_EQ(table->columns[1].name, "name");
  EXPECT_EQ(table->columns[1].type_name, "varchar");
  EXPECT_EQ(table->columns[2].type_name, "float8");
  EXPECT_EQ(table->qualified, "balances:::*");
}

TEST(CacheTableInfoTest, InferredFromHandlersIncrementedColumnsAreFloat8) {
  domain::Domain d = BalancesDomain(false);
  auto table = CacheTableInfo(d, d.projections[0]);
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->columns.size(), 3u);
  EXPECT_EQ(table->columns[0].name, "user_id");
  EXPECT_EQ(table->columns[1].name, "name");
  EXPECT_EQ(table->columns[1].type_name, "text");
  EXPECT_EQ(table->columns[2].name, "balance");
  EXPECT_EQ(table->columns[2].type_name, "float8");

  domain::Projection not_cached = d.projections[0];
  not_cached.cache.reset();
  EXPECT_EQ(CacheTableInfo(d, not_cached).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace protean_admin::rebuild
