// The translations of docs/domain-toml.md "Choosing a handler form" run against the real
// PostgreSQL: each SQL-form statement below is copied verbatim from that section (the tables
// it names are the doc's), and each Lua and action handler too, in a projection of its own
// (tables suffixed _lua and _action); one history replayed by all of them must give the
// same rows in every form. Keep this file in step with that section.

#include <string>
#include <thread>

#include "absl/strings/str_replace.h"
#include "domain/loader.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/rebuild/rebuild.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::testing {
namespace {

// The doc's examples (E1..E7 in its order) over one aggregate. Rows are created by
// action-form handlers shared by every form ($S: the table suffix).
constexpr char kForm[] = R"toml(
[projections.Orders$S]
key = "order_id"
table = "orders$S"
columns = { order_id = "text", status = "text", shipped_at = "timestamptz", items = "json[]" }
[projectors.OrderProjector$S]
projector_for = "Orders$S"
aggregates = ["Shop"]
[projectors.OrderProjector$S.on.OrderPlaced]
key = ":order_id"
set = { status = "placed", items = [] }

[projections.Users$S]
key = "user_id"
table = "users$S"
columns = { user_id = "text", phone = "text" }
[projectors.UserProjector$S]
projector_for = "Users$S"
aggregates = ["Shop"]
[projectors.UserProjector$S.on.UserRegistered]
key = ":user_id"
set = { phone = ":phone" }

[projections.DailySales$S]
key = "id"
table = "daily_sales$S"
columns = { id = "text", product_id = "text", day = "date", units = "integer" }
[projectors.SalesProjector$S]
projector_for = "DailySales$S"
aggregates = ["Shop"]

[projections.Inventory$S]
key = "product_id"
table = "inventory$S"
columns = { product_id = "text", on_hand = "integer", reserved = "integer", available = "integer" }
[projectors.InventoryProjector$S]
projector_for = "Inventory$S"
aggregates = ["Shop"]
[projectors.InventoryProjector$S.on.StockReceived]
key = ":product_id"
set = { on_hand = ":quantity", reserved = 0, available = ":quantity" }

[projections.Customers$S]
key = "customer_id"
table = "customers$S"
columns = { customer_id = "text", open_orders = "integer" }
[projectors.CustomerProjector$S]
projector_for = "Customers$S"
aggregates = ["Shop"]
[projectors.CustomerProjector$S.on.CustomerCreated]
key = ":customer_id"
set = { open_orders = ":open_orders" }
)toml";

// docs/domain-toml.md "Choosing a handler form", SQL form, verbatim.
constexpr char kSqlHandlers[] = R"toml(
[projectors.OrderProjector.on.OrderShipped]
sql = "UPDATE orders SET status = 'shipped', shipped_at = :shipped_at WHERE order_id = :order_id"
[projectors.UserProjector.on.PhoneChanged]
sql = "UPDATE users SET phone = coalesce(:phone, phone) WHERE user_id = :user_id"
[projectors.OrderProjector.on.ItemAdded]
sql = "UPDATE orders SET items = items || :item WHERE order_id = :order_id"
[projectors.OrderProjector.on.ItemRemoved]
sql = "UPDATE orders SET items = ARRAY(SELECT i FROM unnest(items) AS i WHERE i->>'id' <> :item_id) WHERE order_id = :order_id"
[projectors.SalesProjector.on.SaleRecorded]
sql = "INSERT INTO daily_sales (id, product_id, day, units) VALUES (concat(:product_id, ':', left(:$time, 10)), :product_id, left(:$time, 10)::date, :quantity) ON CONFLICT (id) DO UPDATE SET units = daily_sales.units + EXCLUDED.units"
[projectors.InventoryProjector.on.StockReserved]
sql = "UPDATE inventory SET reserved = reserved + :quantity, available = on_hand - (reserved + :quantity) WHERE product_id = :product_id"
[projectors.CustomerProjector.on.OrderClosed]
sql = "UPDATE customers SET open_orders = greatest(coalesce(open_orders, 0) - 1, 0) WHERE customer_id = :customer_id"
)toml";

// The same section, Lua form, verbatim.
constexpr char kLuaHandlers[] = R"toml(
[projectors.OrderProjector_lua.on.OrderShipped]
lua = """
local r = rows[event.order_id]
if not r then return end
r.status = "shipped"
r.shipped_at = event.shipped_at
"""
[projectors.UserProjector_lua.on.PhoneChanged]
lua = """
local r = rows[event.user_id]
if r and event.phone then r.phone = event.phone end
"""
[projectors.OrderProjector_lua.on.ItemAdded]
lua = """
local r = rows[event.order_id]
if not r then return end
local items = r.items or array()         -- NULL: an empty list
table.insert(items, event.item)
r.items = items
"""
[projectors.OrderProjector_lua.on.ItemRemoved]
lua = """
local r = rows[event.order_id]
if not r or not r.items then return end
local items = r.items
for i = #items, 1, -1 do
  if items[i].id == event.item_id then table.remove(items, i) end
end
r.items = items
"""
[projectors.SalesProjector_lua.on.SaleRecorded]
lua = """
local day = date.day(meta.time)
local k = event.product_id .. ":" .. day
local r = rows[k]
if r then
  r.units = r.units + event.quantity
else
  rows[k] = { product_id = event.product_id, day = day, units = event.quantity }
end
"""
[projectors.InventoryProjector_lua.on.StockReserved]
lua = """
local r = rows[event.product_id]
if not r then return end
r.reserved = r.reserved + event.quantity
r.available = r.on_hand - r.reserved
"""
[projectors.CustomerProjector_lua.on.OrderClosed]
lua = """
local r = rows[event.customer_id]
if r then r.open_orders = math.max((r.open_orders or 0) - 1, 0) end
"""
)toml";

// The section's one action-form translation (E1), verbatim.
constexpr char kActionHandlers[] = R"toml(
[projectors.OrderProjector_action.on.OrderShipped]
key = ":order_id"
update = { status = "shipped", shipped_at = ":shipped_at" }
)toml";

constexpr char kHeader[] = R"toml(
[domain]
name = "Test"
[event_store]
database_uri = "$URI"
[databases.default]
database_uri = "$URI"
[aggregates.Shop]
)toml";

class HandlerFormsDocTest : public RebuildFixture {
 protected:
  void SetUp() override {
    RebuildFixture::SetUp();
    std::string text = absl::StrReplaceAll(kHeader, {{"$URI", uri_}});
    for (const char* event : {"OrderPlaced", "OrderShipped", "ItemAdded", "ItemRemoved",
                              "UserRegistered", "PhoneChanged", "SaleRecorded", "StockReceived",
                              "StockReserved", "CustomerCreated", "OrderClosed"}) {
      text += std::string("[events.") + event + "]\naggregate = \"Shop\"\n";
    }
    for (const char* suffix : {"", "_lua", "_action"}) {
      text += absl::StrReplaceAll(kForm, {{"$S", suffix}});
    }
    text += std::string(kSqlHandlers) + kLuaHandlers + kActionHandlers;
    auto domain = domain::ParseDomain(text, "domain.toml", "", domain::LoadOptions());
    ASSERT_TRUE(domain.ok()) << domain.status();
    domain_ = *std::move(domain);
  }
  void Emit(const std::string& event, const std::string& stream, const nlohmann::json& data) {
    Write("test::shop-" + stream, "Test." + event + ".v1", data);
  }
  void EmitHistory() {
    for (const char* o : {"o1", "o2", "o3"}) Emit("OrderPlaced", o, {{"order_id", o}});
    Emit("OrderShipped", "o1", {{"order_id", "o1"}, {"shipped_at", "2024-05-01T10:00:00+00:00"}});
    Emit("OrderShipped", "o9", {{"order_id", "o9"}, {"shipped_at", "2024-05-02T10:00:00+00:00"}});
    Emit("ItemAdded", "o2", {{"order_id", "o2"}, {"item", {{"id", "i1"}, {"sku", "A"}}}});
    Emit("ItemAdded", "o2", {{"order_id", "o2"}, {"item", {{"id", "i2"}, {"sku", "B"}}}});
    Emit("ItemAdded", "o2", {{"order_id", "o2"}, {"item", {{"id", "i3"}, {"sku", "C"}}}});
    Emit("ItemRemoved", "o2", {{"order_id", "o2"}, {"item_id", "i2"}});
    Emit("ItemAdded", "o9", {{"order_id", "o9"}, {"item", {{"id", "x"}}}});
    Emit("UserRegistered", "u1", {{"user_id", "u1"}, {"phone", "111"}});
    Emit("UserRegistered", "u2", {{"user_id", "u2"}, {"phone", "222"}});
    Emit("PhoneChanged", "u1", {{"user_id", "u1"}, {"phone", "333"}});
    Emit("PhoneChanged", "u2", {{"user_id", "u2"}});                      // no phone: kept
    Emit("PhoneChanged", "u2", {{"user_id", "u2"}, {"phone", nullptr}});  // null: kept
    for (int q : {2, 3, 4}) Emit("SaleRecorded", "p1", {{"product_id", "p1"}, {"quantity", q}});
    Emit("SaleRecorded", "p2", {{"product_id", "p2"}, {"quantity", 7}});
    Emit("StockReceived", "p1", {{"product_id", "p1"}, {"quantity", 10}});
    Emit("StockReserved", "p1", {{"product_id", "p1"}, {"quantity", 3}});
    Emit("StockReserved", "p1", {{"product_id", "p1"}, {"quantity", 4}});
    Emit("StockReserved", "p9", {{"product_id", "p9"}, {"quantity", 1}});
    Emit("CustomerCreated", "c1", {{"customer_id", "c1"}, {"open_orders", 2}});
    for (int i = 0; i < 3; ++i) Emit("OrderClosed", "c1", {{"customer_id", "c1"}});
  }
  void RebuildAll(const std::string& suffix) {
    for (const char* p : {"Orders", "Users", "DailySales", "Inventory", "Customers"}) {
      auto result = Rebuild(p + suffix);
      ASSERT_TRUE(result.ok()) << p << suffix << ": " << result.status();
      EXPECT_EQ(result->events_skipped, 0)
          << p << suffix << ": " << (result->errors.empty() ? "" : result->errors.front());
    }
  }
};

TEST_F(HandlerFormsDocTest, TheSqlLuaAndActionTranslationsGiveTheSameRows) {
  EmitHistory();
  RebuildAll("");
  RebuildAll("_lua");
  auto action = Rebuild("Orders_action");
  ASSERT_TRUE(action.ok()) << action.status();
  ASSERT_TRUE(conn_->Exec("SET TimeZone TO 'UTC'").ok());
  const auto rows = [this](const std::string& table, const std::string& columns) {
    return Dump("SELECT " + columns + " FROM " + table + " ORDER BY 1");
  };
  // json[] items compared as jsonb (the forms may spell the same JSON differently).
  const std::string order_columns =
      "order_id, status, shipped_at, (SELECT array_agg(i::jsonb) FROM unnest(items) i)::text, "
      "(SELECT string_agg(i->>'id', ',') FROM unnest(items) i)";
  // The expected rows, once, in the SQL form's tables.
  EXPECT_EQ(rows("orders",
                 "order_id, status, shipped_at, cardinality(items), "
                 "(SELECT string_agg(i->>'id', ',') FROM unnest(items) i)"),
            "o1|shipped|2024-05-01 10:00:00+00|0|NULL\n"
            "o2|placed|NULL|2|i1,i3\n"
            "o3|placed|NULL|0|NULL\n");
  EXPECT_EQ(rows("users", "*"), "u1|333\nu2|222\n");
  EXPECT_EQ(Count("daily_sales"), 2);
  EXPECT_EQ(rows("daily_sales",
                 "product_id, units, day = current_date, id = product_id || ':' "
                 "|| day"),
            "p1|9|t|t\np2|7|t|t\n");
  EXPECT_EQ(rows("inventory", "*"), "p1|10|7|3\n");
  EXPECT_EQ(rows("customers", "*"), "c1|0\n");
  // Every other form gives the same.
  EXPECT_EQ(rows("orders_lua", order_columns), rows("orders", order_columns));
  for (const char* table : {"users", "daily_sales", "inventory", "customers"}) {
    EXPECT_EQ(rows(std::string(table) + "_lua", "*"), rows(table, "*")) << table;
  }
  EXPECT_EQ(rows("orders_action", "order_id, status, shipped_at"),
            rows("orders", "order_id, status, shipped_at"));
}

// Issue 16: two Lua rebuilds of different projections at once (one Lua state per job, no
// global lock) are both exact: each equals its SQL-form twin.
TEST_F(HandlerFormsDocTest, TwoConcurrentLuaRebuildsAreBothCorrect) {
  EmitHistory();
  for (int i = 0; i < 400; ++i) {
    const std::string o = "bulk" + std::to_string(i % 40), p = "stock" + std::to_string(i % 40);
    if (i < 40) Emit("OrderPlaced", o, {{"order_id", o}});
    if (i < 40) Emit("StockReceived", p, {{"product_id", p}, {"quantity", 1000}});
    Emit("ItemAdded", o, {{"order_id", o}, {"item", {{"id", "i" + std::to_string(i)}}}});
    if (i % 3 == 0) Emit("ItemRemoved", o, {{"order_id", o}, {"item_id", "i" + std::to_string(i)}});
    Emit("StockReserved", p, {{"product_id", p}, {"quantity", i % 7}});
  }
  ASSERT_TRUE(Rebuild("Orders").ok());
  ASSERT_TRUE(Rebuild("Inventory").ok());
  for (int round = 0; round < 3; ++round) {
    absl::StatusOr<rebuild::RebuildResult> orders, inventory;
    rebuild::RebuildOptions small_batches;
    small_batches.batch_size = 7;  // many batches: the two jobs interleave
    std::thread a([&] { orders = Rebuild("Orders_lua", small_batches); });
    std::thread b([&] { inventory = Rebuild("Inventory_lua", small_batches); });
    a.join();
    b.join();
    ASSERT_TRUE(orders.ok()) << orders.status();
    ASSERT_TRUE(inventory.ok()) << inventory.status();
    EXPECT_EQ(orders->events_skipped, 0);
    EXPECT_EQ(inventory->events_skipped, 0);
    EXPECT_EQ(Dump("SELECT order_id, status, (SELECT array_agg(i::jsonb) FROM unnest(items) "
                   "i)::text FROM orders_lua ORDER BY 1"),
              Dump("SELECT order_id, status, (SELECT array_agg(i::jsonb) FROM unnest(items) "
                   "i)::text FROM orders ORDER BY 1"));
    EXPECT_EQ(Dump("SELECT * FROM inventory_lua ORDER BY 1"),
              Dump("SELECT * FROM inventory ORDER BY 1"));
  }
  EXPECT_EQ(Count("orders_lua"), 43);
}

}  // namespace
}  // namespace protean_admin::testing
