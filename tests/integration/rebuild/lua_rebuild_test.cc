// The Lua form of handlers in the engine (docs/domain-toml.md "Lua form"): compiled while
// planning, folded on the row cache in event order, rows fetched when not held, failing
// handlers skipping their events without leaving writes.

#include <fstream>
#include <sstream>

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

// The Lua snippets (`lua = """...`) of docs/domain-toml.md "Choosing a handler form", in order.
std::vector<std::string> DocsLuaSnippets() {
  std::ifstream file(std::string(PROTEAN_ADMIN_SOURCE_DIR) + "/docs/domain-toml.md");
  if (!file) return {};
  std::stringstream text;
  text << file.rdbuf();
  const std::string docs = text.str();
  size_t at = docs.find("### Choosing a handler form");
  if (at == std::string::npos) return {};
  const size_t section_end = docs.find("Handler forms can be mixed freely", at);
  std::vector<std::string> snippets;
  for (at = docs.find("lua = \"\"\"\n", at); at < section_end;
       at = docs.find("lua = \"\"\"\n", at)) {
    at += 10;
    const size_t end = docs.find("\"\"\"", at);
    if (end == std::string::npos) break;
    snippets.push_back(docs.substr(at, end - at));
  }
  return snippets;
}

// The Lua snippets of docs/domain-toml.md "Choosing a handler form", read from the file, do
// what the section says: update only when the row exists, a conditional field, append to and
// remove from a list, bucket by day, a value from the current row, a counter kept >= 0.
TEST(LuaDocsTest, ChoosingAHandlerFormExamplesDoWhatTheySay) {
  const std::vector<std::string> snippets = DocsLuaSnippets();
  ASSERT_EQ(snippets.size(), 7u) << "the Lua examples of docs/domain-toml.md";
  const char* const kEvents[] = {"Shipped", "PhoneChanged", "ItemAdded",  "ItemRemoved",
                                 "Sold",    "Reserved",     "OrderClosed"};
  // The fixture of LuaRebuildTest, inline: one table for every example.
  auto services = LoadTestServices();
  ASSERT_TRUE(services.ok()) << services.status();
  auto uri = CreateScratchDatabase(*services, "lua_docs");
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto conn = storage::PgConnection::Connect(*uri);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(conn->Exec("CREATE TABLE docs_rows (id text PRIMARY KEY, status text, shipped_at "
                         "text, phone text, items json[], product_id text, day text, units "
                         "integer, on_hand integer, reserved integer, available integer, "
                         "open_orders integer)")
                  .ok());
  domain::Domain d = MakeTestDomain(*uri, *uri, /*with_user_directory=*/false);
  domain::Projection p;
  p.name = "DocsRows";
  p.key = "id";
  p.table = "docs_rows";
  p.database = "default";
  p.cache_prefix = "docs_rows";
  d.projections = {p};
  domain::Projector projector;
  projector.name = "DocsProjector";
  projector.projector_for = "DocsRows";
  projector.categories = {"test::transaction"};
  AddEvent(d, "Created", "Transaction");
  projector.handlers.push_back(
      LuaHandler("Created", "rows[event.id] = { on_hand = 10, reserved = 0, open_orders = 1 }\n"));
  for (size_t i = 0; i < 7; ++i) {
    AddEvent(d, kEvents[i], "Transaction");
    projector.handlers.push_back(LuaHandler(kEvents[i], snippets[i], 100 + 20 * i));
  }
  d.projectors = {projector};
  d.BuildTypeIndex();
  auto emit = [&](const std::string& event, const nlohmann::json& data) {
    ASSERT_TRUE(
        WriteMessage(*conn, "test::transaction-1", "Test." + event + ".v1", data.dump()).ok());
  };
  emit("Shipped", {{"order_id", "k1"}, {"shipped_at", "2024-05-01"}});  // no row yet: nothing
  emit("Created", {{"id", "k1"}});
  emit("Shipped", {{"order_id", "k1"}, {"shipped_at", "2024-05-02"}});
  emit("PhoneChanged", {{"user_id", "k1"}, {"phone", "555"}});
  emit("PhoneChanged", {{"user_id", "k1"}});  // no phone: kept
  for (const char* item : {"a", "b", "c"}) {
    emit("ItemAdded", {{"order_id", "k1"}, {"item", {{"id", item}, {"qty", 1}}}});
  }
  emit("ItemRemoved", {{"order_id", "k1"}, {"item_id", "b"}});
  emit("Sold", {{"product_id", "p1"}, {"quantity", 2}});
  emit("Sold", {{"product_id", "p1"}, {"quantity", 3}});
  emit("Reserved", {{"product_id", "k1"}, {"quantity", 3}});
  emit("OrderClosed", {{"customer_id", "k1"}});
  emit("OrderClosed", {{"customer_id", "k1"}});  // stays at 0
  auto result = rebuild::RebuildProjection(d, "DocsRows", {});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_skipped, 0) << result->skip_reasons[0].reason;
  auto rows = conn->Exec(
      "SELECT concat_ws('|', id, status, shipped_at, phone, array_to_string(ARRAY(SELECT "
      "i->>'id' FROM unnest(items) i), ','), product_id, day = (SELECT to_char(max(time), "
      "'YYYY-MM-DD') FROM message_store.messages), units, on_hand, reserved, available, "
      "open_orders) FROM docs_rows ORDER BY id");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows(), 2);
  EXPECT_EQ(rows->Get(0, 0), "k1|shipped|2024-05-02|555|a,c|10|3|7|0");
  EXPECT_THAT(std::string(rows->Get(1, 0)), ::testing::StartsWith("p1:"));
  EXPECT_THAT(std::string(rows->Get(1, 0)), ::testing::EndsWith("|p1|t|5"));
}

}  // namespace
}  // namespace protean_admin::testing
