// The Lua form of handlers in the engine (docs/domain-toml.md "Lua form"): compiled while
// planning, folded on the row cache in event order, rows fetched when not held, failing
// handlers skipping their events without leaving writes.

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::testing {
namespace {

using rebuild::RebuildOptions;
using rebuild::Strategy;
using ::testing::HasSubstr;

constexpr char kInventoryTable[] =
    "CREATE TABLE inventory (product_id text PRIMARY KEY, on_hand integer DEFAULT 0, "
    "reserved integer, available integer, value numeric(12,2), tags varchar(10)[], note text)";

domain::Handler LuaHandler(std::string event, std::string source, int line = 40) {
  domain::Handler h;
  h.event = std::move(event);
  h.form = domain::Handler::Form::kLua;
  h.lua = std::move(source);
  h.lua_line = line;
  h.where = absl::StrCat("(test fixture):", line - 1);
  return h;
}

class LuaRebuildTest : public RebuildFixture {
 protected:
  void SetUp() override {
    RebuildFixture::SetUp();
    ASSERT_TRUE(conn_->Exec(kInventoryTable).ok());
    domain::Projection inventory;
    inventory.name = "Inventory";
    inventory.key = "product_id";
    inventory.table = "inventory";
    inventory.database = "default";
    inventory.cache_prefix = "inventory";
    domain_.projections = {inventory};
    projector_.name = "InventoryProjector";
    projector_.projector_for = "Inventory";
    projector_.categories = {"test::transaction"};
    for (const char* event : {"Received", "Reserved", "Moved", "Discontinued", "Tagged", "Bad"}) {
      AddEvent(domain_, event, "Transaction");
    }
    On("Received", R"lua(
local r = rows[event.product_id]
if r then
  r.on_hand = r.on_hand + event.quantity
  r.value = r.value + decimal(event.price) * event.quantity
else
  rows[event.product_id] = { on_hand = event.quantity, reserved = 0,
                             value = decimal(event.price) * event.quantity }
end
)lua");
    // The issue's example: update only when the row exists.
    On("Reserved", R"lua(
local r = rows[event.product_id]
if not r then return end
r.reserved = (r.reserved or 0) + event.quantity
r.available = math.max(r.on_hand - r.reserved, 0)
)lua");
    // Several rows per event, computed keys.
    On("Moved", R"lua(
local from, to = rows[event.from], rows[event.to]
if not from or not to then error("unknown product " .. (from and event.to or event.from)) end
from.on_hand = from.on_hand - event.quantity
to.on_hand = to.on_hand + event.quantity
rows[event.from .. "-moved"] = { on_hand = event.quantity, note = meta.stream_name }
)lua");
    On("Discontinued", "rows[event.product_id] = nil\n");
    On("Tagged", R"lua(
local r = rows[event.product_id]
if r.tags == nil then r.tags = {} end
table.insert(r.tags, event.tag)
)lua");
    // Writes, then fails: none of its writes stay.
    On("Bad", "rows[event.product_id].on_hand = -1\nrows['ghost'] = {}\nerror('refused')\n");
  }

  void On(const std::string& event, const std::string& source) {
    projector_.handlers.push_back(LuaHandler(event, source, 40 + 10 * projector_.handlers.size()));
  }
  void Emit(const std::string& event, const nlohmann::json& data) {
    Write("test::transaction-" + data.value("product_id", std::string("x")),
          "Test." + event + ".v1", data);
  }
  absl::StatusOr<rebuild::RebuildResult> RebuildInventory(RebuildOptions options = {}) {
    domain_.projectors = {projector_};
    domain_.BuildTypeIndex();
    return Rebuild("Inventory", options);
  }
  std::string Rows() {
    return Dump(
        "SELECT product_id, on_hand, reserved, available, value, tags, note FROM inventory "
        "ORDER BY product_id");
  }

  domain::Projector projector_;
};

TEST_F(LuaRebuildTest, FoldsInEventOrderInEveryStrategyAndBatchSize) {
  Emit("Reserved", {{"product_id", "a"}, {"quantity", 1}});  // no row yet: nothing
  Emit("Received", {{"product_id", "a"}, {"quantity", 10}, {"price", "1.10"}});
  Emit("Received", {{"product_id", "b"}, {"quantity", 5}, {"price", "0.25"}});
  Emit("Reserved", {{"product_id", "a"}, {"quantity", 3}});
  Emit("Received", {{"product_id", "a"}, {"quantity", 2}, {"price", "1.05"}});
  Emit("Moved", {{"product_id", "a"}, {"from", "a"}, {"to", "b"}, {"quantity", 4}});
  Emit("Bad", {{"product_id", "b"}});
  Emit("Tagged", {{"product_id", "b"}, {"tag", "x y"}});
  Emit("Tagged", {{"product_id", "b"}, {"tag", "z"}});
  Emit("Received", {{"product_id", "c"}, {"quantity", 1}, {"price", "9"}});
  Emit("Discontinued", {{"product_id", "c"}});
  Emit("Moved", {{"product_id", "a"}, {"from", "a"}, {"to", "c"}, {"quantity", 1}});
  const std::string expected =
      "a|8|3|7|13.10|NULL|NULL\n"
      "a-moved|4|NULL|NULL|NULL|NULL|test::transaction-a\n"
      "b|9|0|NULL|1.25|{\"x y\",z}|NULL\n";
  for (Strategy strategy : {Strategy::kAtomic, Strategy::kInplace}) {
    for (int batch_size : {1, 3, 500}) {
      for (int64_t cache_bytes : {int64_t{1}, int64_t{64} << 20}) {
        SCOPED_TRACE(absl::StrCat("strategy ", static_cast<int>(strategy), ", batch size ",
                                  batch_size, ", row cache ", cache_bytes));
        RebuildOptions options;
        options.strategy = strategy;
        options.batch_size = batch_size;
        options.row_cache_bytes = cache_bytes;  // 1: rows written and fetched back every batch
        auto result = RebuildInventory(options);
        ASSERT_TRUE(result.ok()) << result.status();
        EXPECT_TRUE(result->success()) << result->errors[0];
        EXPECT_EQ(Rows(), expected);
        EXPECT_EQ(result->events_dispatched, 10);
        EXPECT_EQ(result->events_skipped, 2);
        ASSERT_EQ(result->skip_reasons.size(), 2u);
        EXPECT_EQ(result->skip_reasons[0].reason, "(test fixture):92: refused");
        EXPECT_EQ(result->skip_reasons[0].first_positions, std::vector<int64_t>{7});
        EXPECT_EQ(result->skip_reasons[1].reason, "(test fixture):62: unknown product c");
        EXPECT_EQ(result->skip_reasons[1].first_positions, std::vector<int64_t>{12});
      }
    }
  }
}

// A syntax error fails the rebuild while it plans, naming the line of domain.toml, with the
// projection untouched.
TEST_F(LuaRebuildTest, SyntaxErrorFailsThePlanBeforeAnythingIsTruncated) {
  ASSERT_TRUE(conn_->Exec("INSERT INTO inventory (product_id, on_hand) VALUES ('old', 1)").ok());
  Emit("Received", {{"product_id", "a"}, {"quantity", 10}, {"price", "1"}});
  projector_.handlers[3] = LuaHandler("Discontinued", "local x = 1\nx x\n", 70);
  for (Strategy strategy : {Strategy::kAtomic, Strategy::kInplace}) {
    RebuildOptions options;
    options.strategy = strategy;
    auto result = RebuildInventory(options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(result.status().message(),
                HasSubstr("(test fixture):71: projector InventoryProjector, event Discontinued: "
                          "syntax error near 'x'"));
    EXPECT_EQ(Rows(), "old|1|NULL|NULL|NULL|NULL|NULL\n");
  }
}

}  // namespace
}  // namespace protean_admin::testing
