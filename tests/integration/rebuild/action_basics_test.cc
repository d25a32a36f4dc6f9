// The action form's basics against the real PostgreSQL and Redis (docs/domain-toml.md
// "Action form"): `update` only where the row exists, negated increments, the explicit NULL,
// and json/jsonb and array columns written from payload JSON, under both strategies, batch
// sizes 1 and 500, and into a cache-backed projection. The domain is real domain.toml text,
// loaded as the daemon loads it.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "domain/loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "storage/redis_client.h"
#include "tests/integration/rebuild/rebuild_fixture.h"
#include "tests/integration/redis/scratch_redis.h"

namespace protean_admin::testing {
namespace {

using ::testing::HasSubstr;

// Orders with every column kind the basics touch; $STORE is the projection's store line.
constexpr char kDomain[] = R"toml(
[domain]
name = "Test"
[event_store]
database_uri = "$URI"
[databases.default]
database_uri = "$URI"
[caches.default]
URI = "$REDIS"
[aggregates.Order]
[events.Created]
aggregate = "Order"
[events.Reserved]
aggregate = "Order"
[events.Shipped]
aggregate = "Order"
[events.Noted]
aggregate = "Order"
[projections.Orders]
key = "id"
$STORE
columns = { id = "text", on_hand = "integer", reserved = "numeric(10,2)", fsum = "double precision", status = "text", note = "text", tags = "varchar(20)[]", items = "json[]", data = "jsonb" }
[projectors.OrderProjector]
projector_for = "Orders"
aggregates = ["Order"]
[projectors.OrderProjector.on.Created]
set = { on_hand = ":on_hand", status = "new", note = "created", tags = ":tags", items = ":items", data = ":data" }
[projectors.OrderProjector.on.Reserved]
increment = { on_hand = "-:quantity", reserved = ":amount", fsum = "-:amount" }
[projectors.OrderProjector.on.Shipped]
update = { status = "shipped", note = { null = true }, tags = ":tags", items = [] }
[projectors.OrderProjector.on.Noted]
update = { data = ":note", reserved = "-:amount" }
)toml";

class ActionBasicsTest : public RebuildFixture {
 protected:
  void LoadDomain(const std::string& store,
                  const std::string& redis_uri = "redis://127.0.0.1:1/0") {
    std::string text =
        absl::StrReplaceAll(kDomain, {{"$URI", uri_}, {"$REDIS", redis_uri}, {"$STORE", store}});
    auto domain = domain::ParseDomain(text, "domain.toml", "", domain::LoadOptions());
    ASSERT_TRUE(domain.ok()) << domain.status();
    domain_ = *std::move(domain);
  }
  void Emit(const std::string& event, const std::string& id, nlohmann::json data) {
    data["id"] = id;
    Write("test::order-" + id, "Test." + event + ".v1", data);
  }
  // The history every test replays: o1 created, reserved twice, shipped and noted; o2 only
  // shipped, reserved and noted (never created: nothing may appear).
  void EmitHistory() {
    Emit("Created", "o1",
         {{"on_hand", 10},
          {"tags", {"a", "b c"}},
          {"items", {{{"sku", "A"}, {"n", 2}}, {{"sku", "B\"q"}}}},
          {"data", {{"k", {1, 2}}}}});
    Emit("Reserved", "o1", {{"quantity", 3}, {"amount", "12.50"}});
    Emit("Reserved", "o1", {{"quantity", -1}, {"amount", 0.1}});
    Emit("Shipped", "o2", {{"tags", {"z"}}});
    Emit("Reserved", "o2", {{"quantity", 1}, {"amount", 1}});
    Emit("Noted", "o2", {{"note", "never"}, {"amount", 1}});
    Emit("Shipped", "o1", {{"tags", {"x", nullptr, "y"}}});
    Emit("Noted", "o1", {{"note", "a \"note\""}, {"amount", "-0.5"}});
  }
};

TEST_F(ActionBasicsTest, UpdateNegationNullAndArraysInPostgres) {
  LoadDomain("");
  EmitHistory();
  for (auto strategy : {rebuild::Strategy::kAtomic, rebuild::Strategy::kInplace}) {
    for (int batch : {1, 500}) {
      SCOPED_TRACE(absl::StrCat("strategy ", static_cast<int>(strategy), ", batch ", batch));
      rebuild::RebuildOptions options;
      options.strategy = strategy;
      options.batch_size = batch;
      auto result = Rebuild("Orders", options);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->events_skipped, 0) << (result->errors.empty() ? "" : result->errors[0]);
      EXPECT_EQ(result->events_dispatched, 8);
      EXPECT_EQ(Dump("SELECT id, on_hand, reserved, fsum, status, note, tags::text, items::text, "
                     "data::text FROM orders ORDER BY id"),
                "o1|8|0.50|-12.6|shipped|NULL|{x,NULL,y}|{}|\"a \\\"note\\\"\"\n");
    }
  }
  // The arrays as the payload gave them, before Shipped replaced them.
  Emit("Created", "o3",
       {{"on_hand", 1}, {"tags", {"a", "b c"}}, {"items", {{{"sku", "B\"q"}}}}, {"data", "s"}});
  ASSERT_TRUE(Rebuild("Orders").ok());
  EXPECT_EQ(Dump("SELECT tags[2], items[1]->>'sku', data #>> '{}', jsonb_typeof(data) FROM "
                 "orders WHERE id = 'o3'"),
            "b c|B\"q|s|string\n");
}

// Values that do not fit skip their event, with the reason; nothing else changes.
TEST_F(ActionBasicsTest, ValuesThatDoNotFitSkipTheirEvent) {
  LoadDomain("");
  Emit("Created", "o1", {{"on_hand", 10}, {"tags", {"a"}}});
  Emit("Reserved", "o1", {{"quantity", "many"}, {"amount", 1}});  // "-:quantity" of a non-number
  Emit("Noted", "o1", {{"note", "n"}, {"amount", "lots"}});       // "-:amount" of a non-number
  Emit("Shipped", "o1", {{"tags", {{"x"}, {"y", "z"}}}});         // irregular sub-arrays
  // 10 - (2^31 - 1), then minus -2^31 (exact: -(-2^31) alone would not fit an integer), then
  // an overflow.
  Emit("Reserved", "o1", {{"quantity", 2147483647}, {"amount", 0}});
  Emit("Reserved", "o1", {{"quantity", -2147483648LL}, {"amount", 0}});
  Emit("Reserved", "o1", {{"quantity", -2147483647}, {"amount", 0}});
  std::vector<std::string> warnings;
  rebuild::RebuildOptions options;
  options.on_progress = [&](const rebuild::ProgressEvent& e) {
    if (e.kind == rebuild::ProgressEvent::Kind::kWarning) warnings.push_back(e.message);
  };
  auto result = Rebuild("Orders", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_skipped, 4);
  EXPECT_EQ(Dump("SELECT on_hand, status, data::text, tags::text FROM orders"),
            "11|new|NULL|{a}\n");
  std::string all;
  for (const std::string& w : warnings) absl::StrAppend(&all, w, "\n");
  EXPECT_THAT(all, HasSubstr("cannot negate -:quantity: \"many\" is not a number"));
  EXPECT_THAT(all, HasSubstr("cannot negate -:amount: \"lots\" is not a number"));
  EXPECT_THAT(all, HasSubstr("multidimensional arrays must have sub-arrays of matching lengths "
                             "(column tags)"));
  EXPECT_THAT(all, HasSubstr("integer out of range"));
}

// The same history into Redis: documents hold JSON arrays and JSON values.
TEST_F(ActionBasicsTest, CacheBackedProjection) {
  ScratchRedis redis;
  ASSERT_TRUE(redis.Start().ok());
  LoadDomain("cache = \"default\"", redis.Uri(2));
  EmitHistory();
  Emit("Created", "o3", {{"on_hand", 1}, {"tags", {"a"}}, {"items", {{{"n", 1}}}}, {"data", 7}});
  for (int batch : {1, 500}) {
    rebuild::RebuildOptions options;
    options.batch_size = batch;
    auto result = Rebuild("Orders", options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->events_skipped, 0) << (result->errors.empty() ? "" : result->errors[0]);
    auto client = storage::RedisClient::Connect(redis.Uri(2));
    ASSERT_TRUE(client.ok()) << client.status();
    auto docs = client->GetMany({"orders:::o1", "orders:::o2", "orders:::o3"});
    ASSERT_TRUE(docs.ok()) << docs.status();
    ASSERT_TRUE((*docs)[0].has_value());
    EXPECT_EQ(nlohmann::json::parse(*(*docs)[0]),
              nlohmann::json::parse(R"({"id": "o1", "on_hand": 8, "reserved": 0.50,
                  "fsum": -12.6, "status": "shipped", "note": null, "tags": ["x", null, "y"],
                  "items": [], "data": "a \"note\""})"));
    EXPECT_FALSE((*docs)[1].has_value());
    ASSERT_TRUE((*docs)[2].has_value());
    EXPECT_EQ(nlohmann::json::parse(*(*docs)[2]),
              nlohmann::json::parse(R"({"id": "o3", "on_hand": 1, "reserved": null, "fsum": null,
                  "status": "new", "note": "created", "tags": ["a"], "items": [{"n": 1}],
                  "data": 7})"));
  }
}

}  // namespace
}  // namespace protean_admin::testing
