// SQL-form handlers as users write them: parameters typed without casts
// (docs/domain-toml.md "Parameter types"), and every handler checked against the real
// database before anything is truncated.

#include "absl/strings/str_cat.h"
#include "domain/parameters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::testing {
namespace {

using rebuild::RebuildOptions;
using ::testing::HasSubstr;

constexpr char kOrdersTable[] =
    "CREATE TABLE orders (id text PRIMARY KEY, qty integer, total numeric, doc json, "
    "items json[] DEFAULT '{}', tags varchar(20)[] DEFAULT '{}', data jsonb DEFAULT '{}', "
    "status text, note text)";

class SqlPlanningTest : public RebuildFixture {
 protected:
  void SetUp() override {
    RebuildFixture::SetUp();
    ASSERT_TRUE(conn_->Exec(kOrdersTable).ok());
    domain::Projection orders;
    orders.name = "Orders";
    orders.key = "id";
    orders.table = "orders";
    orders.database = "default";
    orders.cache_prefix = "orders";
    domain_.projections = {orders};
    projector_.name = "OrderProjector";
    projector_.projector_for = "Orders";
    projector_.categories = {"test::transaction"};
  }

  // A handler for a new event type `event` (of the Transaction aggregate) with `sql`
  // statements as a user writes them, rewritten as the loader does.
  void On(const std::string& event, const std::vector<std::string>& sql,
          const std::string& where = "") {
    if (domain_.FindEvent(event) == nullptr) AddEvent(domain_, event, "Transaction");
    std::vector<domain::SqlStatement> statements;
    for (const std::string& text : sql) {
      auto statement = domain::RewriteSql(text);
      ASSERT_TRUE(statement.ok()) << statement.status();
      statement->where = where;
      statements.push_back(*std::move(statement));
    }
    domain::Handler handler = SqlHandler(event, std::move(statements));
    handler.where = where;
    projector_.handlers.push_back(std::move(handler));
  }
  void Emit(const std::string& event, const nlohmann::json& data) {
    Write("test::transaction-" + data.value("id", std::string("x")), "Test." + event + ".v1", data);
  }
  absl::StatusOr<rebuild::RebuildResult> RebuildOrders(RebuildOptions options = {}) {
    domain_.projectors = {projector_};
    domain_.BuildTypeIndex();
    return Rebuild("Orders", options);
  }

  domain::Projector projector_;
};

TEST_F(SqlPlanningTest, StatementsWrittenNaturallyNeedNoCasts) {
  On("Placed", {"INSERT INTO orders (id, qty, total, doc, status, note) VALUES (:id, :qty, :total, "
                "json_build_object('sku', :sku, 'qty', :qty), :status, :id || '-' || :sku) "
                "ON CONFLICT (id) DO UPDATE SET total = orders.total + EXCLUDED.total"});
  On("Reserved", {"UPDATE orders SET qty = qty - :quantity WHERE id = :id"});
  On("Adjusted", {"UPDATE orders SET qty = :a - :b WHERE id = :id"});
  On("ItemAdded", {"UPDATE orders SET items = items || :item, tags = tags || :tag, "
                   "data = data || :item WHERE id = :id"});
  On("ItemsReplaced", {"UPDATE orders SET items = :items, tags = :tags WHERE id = :id"});
  On("Paid", {"UPDATE orders SET status = 'settled' WHERE id = :id AND :status = 'paid'"});
  On("Noted", {"UPDATE orders SET note = :x, qty = :x WHERE id = :id"});  // one :x, two types
  Emit("Placed", {{"id", "o1"}, {"qty", 10}, {"total", "12.50"}, {"sku", "A1"}, {"status", "new"}});
  Emit("Placed", {{"id", "o1"}, {"qty", 10}, {"total", "0.25"}, {"sku", "A1"}, {"status", "new"}});
  Emit("Placed", {{"id", "o2"}, {"qty", 4}, {"total", 3}, {"sku", "B"}, {"status", "new"}});
  Emit("Reserved", {{"id", "o1"}, {"quantity", 3}});
  Emit("Adjusted", {{"id", "o2"}, {"a", 10}, {"b", 2.5}});
  Emit("ItemAdded", {{"id", "o1"}, {"item", {{"sku", "B"}, {"n", 2}}}, {"tag", "t1"}});
  Emit("ItemAdded", {{"id", "o1"}, {"item", {{"sku", "C"}}}, {"tag", "t2"}});
  Emit("ItemsReplaced",
       {{"id", "o2"}, {"items", {{{"a", 1}}, {{"b", "x\"y"}}}}, {"tags", {"p", "q r", nullptr}}});
  Emit("Paid", {{"id", "o1"}, {"status", "pending"}});
  Emit("Paid", {{"id", "o2"}, {"status", "paid"}});
  Emit("Noted", {{"id", "o2"}, {"x", "7"}});
  for (auto strategy : {rebuild::Strategy::kAtomic, rebuild::Strategy::kInplace}) {
    RebuildOptions options;
    options.strategy = strategy;
    auto result = RebuildOrders(options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->events_skipped, 0);
    EXPECT_EQ(result->events_dispatched, 11);
    EXPECT_EQ(Dump("SELECT id, qty, total, doc::text, status, note FROM orders ORDER BY id"),
              "o1|7|12.75|{\"sku\" : \"A1\", \"qty\" : 10}|new|o1-A1\n"
              "o2|7|3|{\"sku\" : \"B\", \"qty\" : 4}|settled|7\n");
    EXPECT_EQ(Dump("SELECT items::text, tags::text, data::text FROM orders ORDER BY id"),
              R"({"{\"n\": 2, \"sku\": \"B\"}","{\"sku\": \"C\"}"}|{t1,t2}|)"
              R"({"n": 2, "sku": "C"})"
              "\n"
              R"({"{\"a\": 1}","{\"b\": \"x\\\"y\"}"}|{p,"q r",NULL}|{})"
              "\n");
  }
}

// A value that is not a JSON array, bound to an array-typed parameter: one element where the
// statement takes one (`tags || :tag`), an array of that one item where only an array fits
// (`SET tags = :tags`), as the action form writes it.
TEST_F(SqlPlanningTest, ALoneValueIsOneElementOrAOneItemArray) {
  On("Placed", {"INSERT INTO orders (id) VALUES (:id)"});
  On("ItemsReplaced", {"UPDATE orders SET items = :items, tags = :tags WHERE id = :id"});
  On("Tagged", {"UPDATE orders SET tags = tags || :tag WHERE id = :id"});
  Emit("Placed", {{"id", "o1"}});
  Emit("ItemsReplaced", {{"id", "o1"}, {"items", {{"sku", "A"}}}, {"tags", "solo"}});
  Emit("Tagged", {{"id", "o1"}, {"tag", "t2"}});
  auto result = RebuildOrders();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_skipped, 0);
  EXPECT_EQ(Dump("SELECT items::text, tags::text FROM orders"), R"({"{\"sku\": \"A\"}"}|{solo,t2})"
                                                                "\n");
}

TEST_F(SqlPlanningTest, ValuesThatDoNotFitTheStatementSkipOnlyTheirEvent) {
  On("Adjusted", {"UPDATE orders SET qty = :a - :b WHERE id = :id"});
  On("Placed", {"INSERT INTO orders (id, qty) VALUES (:id, :qty)"});
  Emit("Placed", {{"id", "o1"}, {"qty", 1}});
  Emit("Adjusted", {{"id", "o1"}, {"a", "ten"}, {"b", 2}});  // text - numeric
  Emit("Placed", {{"id", "o2"}, {"qty", "many"}});           // not an integer
  Emit("Adjusted", {{"id", "o1"}, {"a", 5}, {"b", 2}});
  std::vector<std::string> warnings;
  RebuildOptions options;
  options.on_progress = [&](const rebuild::ProgressEvent& e) {
    if (e.kind == rebuild::ProgressEvent::Kind::kWarning) warnings.push_back(e.message);
  };
  auto result = RebuildOrders(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_dispatched, 2);
  EXPECT_EQ(result->events_skipped, 2);
  EXPECT_EQ(Dump("SELECT id, qty FROM orders ORDER BY id"), "o1|3\n");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_THAT(warnings[0], HasSubstr("operator does not exist: text - numeric"));
  EXPECT_THAT(warnings[1], HasSubstr("invalid input syntax for type integer"));
}

// A statement that cannot work fails the rebuild while planning, naming its place, and the
// old rows stay: nothing was truncated.
TEST_F(SqlPlanningTest, UnpreparableStatementsFailBeforeAnythingIsTruncated) {
  struct Case {
    std::string sql;
    std::string message;
  } cases[] = {
      {"INSERT INTO orders (id, qty) VALUES (:id, ", "syntax error at end of input"},
      {"UPDATE orders SET qtyy = :qty WHERE id = :id",
       "column \"qtyy\" of relation \"orders\" does not exist"},
      {"UPDATE orders SET qty = no_such_function(:qty) WHERE id = :id",
       "function no_such_function(unknown) does not exist"},
      {"INSERT INTO missing_table (id) VALUES (:id)", "relation \"missing_table\" does not exist"},
  };
  ASSERT_TRUE(conn_->Exec("INSERT INTO orders (id, qty) VALUES ('old', 1)").ok());
  Emit("Placed", {{"id", "o1"}, {"qty", 1}});
  for (const Case& c : cases) {
    for (auto strategy : {rebuild::Strategy::kAtomic, rebuild::Strategy::kInplace}) {
      projector_.handlers.clear();
      On("Placed", {"INSERT INTO orders (id) VALUES (:id) ON CONFLICT DO NOTHING", c.sql},
         "domain.toml:42");
      RebuildOptions options;
      options.strategy = strategy;
      auto result = RebuildOrders(options);
      ASSERT_FALSE(result.ok()) << c.sql;
      EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_THAT(result.status().message(),
                  HasSubstr("domain.toml:42: projector OrderProjector, event Placed: " + c.message))
          << c.sql;
      EXPECT_EQ(Dump("SELECT id, qty FROM orders"), "old|1\n") << c.sql;
    }
  }
}

TEST_F(SqlPlanningTest, ActionFormColumnsAreCheckedWithTheirPlace) {
  AddEvent(domain_, "Placed", "Transaction");
  domain::Handler handler = ActionHandler("Placed", ":id", {{"qtyy", Ref(":qty")}});
  handler.where = "domain.toml:7";
  projector_.handlers.push_back(handler);
  ASSERT_TRUE(conn_->Exec("INSERT INTO orders (id, qty) VALUES ('old', 1)").ok());
  Emit("Placed", {{"id", "o1"}, {"qty", 1}});
  auto result = RebuildOrders();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(),
              HasSubstr("domain.toml:7: projector OrderProjector, event Placed: table "
                        "\"public\".\"orders\" has no column qtyy"));
  EXPECT_EQ(Count("orders"), 1);
}

TEST_F(SqlPlanningTest, AnExistingTableMustMatchTheDeclaredColumns) {
  On("Placed", {"INSERT INTO orders (id, qty) VALUES (:id, :qty)"});
  ASSERT_TRUE(conn_->Exec("INSERT INTO orders (id, qty) VALUES ('old', 1)").ok());
  Emit("Placed", {{"id", "o1"}, {"qty", 1}});
  domain_.projections[0].columns = {{"id", "text"},
                                    {"qty", "bigint"},
                                    {"total", "numeric"},
                                    {"tags", "varchar(20)[]"},
                                    {"extra", "text"}};
  auto result = RebuildOrders();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(),
              HasSubstr("column qty is integer in the table, declared bigint; column extra (text) "
                        "is missing from the table"));
  EXPECT_EQ(Count("orders"), 1);
  // The same types spelled differently match.
  domain_.projections[0].columns = {{"id", "TEXT"},
                                    {"qty", "int4"},
                                    {"total", "numeric"},
                                    {"tags", "character varying(20)[]"},
                                    {"note", "text"}};
  auto matched = RebuildOrders();
  ASSERT_TRUE(matched.ok()) << matched.status();
  EXPECT_EQ(Dump("SELECT id, qty FROM orders"), "o1|1\n");
}

}  // namespace
}  // namespace protean_admin::testing
