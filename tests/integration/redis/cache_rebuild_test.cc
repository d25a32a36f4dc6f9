// Rebuilding a cache-backed projection through the engine (issue 7): Balances in Redis,
// truncation by prefix sparing look-alikes, JSON values with the cache's TTL, the SQL form
// refused, Redis unreachable before anything and Redis lost mid-rebuild; Lua-form handlers
// folding into Redis (issue 16).

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "storage/redis_client.h"
#include "tests/integration/rebuild/rebuild_fixture.h"
#include "tests/integration/redis/scratch_redis.h"

namespace protean_admin::testing {
namespace {

using storage::RedisClient;
using ::testing::HasSubstr;

class CacheRebuildTest : public RebuildFixture {
 protected:
  void SetUp() override {
    RebuildFixture::SetUp();
    ASSERT_TRUE(redis_.Start().ok());
    UseCache(redis_.Uri(3));
    auto client = RedisClient::Connect(redis_.Uri(3));
    ASSERT_TRUE(client.ok()) << client.status();
    redis_client_.emplace(std::move(*client));
  }

  void UseCache(const std::string& uri) {
    domain_.caches = {{"default", "redis", uri, 300}};
    for (domain::Projection& p : domain_.projections) {
      if (p.name != "Balances") continue;
      p.cache = "default";
      p.database.clear();
    }
  }

  nlohmann::json Doc(const std::string& key) {
    auto values = redis_client_->GetMany({key});
    EXPECT_TRUE(values.ok()) << values.status();
    if (!values.ok() || !(*values)[0].has_value()) return nullptr;
    return nlohmann::json::parse(*(*values)[0]);
  }

  ScratchRedis redis_;
  std::optional<RedisClient> redis_client_;
};

TEST_F(CacheRebuildTest, BalancesRebuiltIntoRedis) {
  ASSERT_TRUE(
      redis_client_
          ->WriteMany(
              {{"balances:::stale", "{}"}, {"balances_old:::1", "{}"}, {"balancesx:::1", "{}"}}, 0)
          .ok());
  Register("john", "John");
  Transact("john", 100.0);
  Transact("john", 0.1);
  Register("jane", "Jane");
  Transact("jim", 7.0);
  auto result = Rebuild("Balances");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->success()) << result->errors[0];
  EXPECT_EQ(result->events_dispatched, 5);
  EXPECT_EQ(Doc("balances:::john"),
            nlohmann::json::parse(R"({"user_id":"john","name":"John","balance":100.1})"));
  EXPECT_EQ(Doc("balances:::jane"),
            nlohmann::json::parse(R"({"user_id":"jane","name":"Jane","balance":0})"));
  EXPECT_EQ(Doc("balances:::jim"),
            nlohmann::json::parse(R"({"user_id":"jim","name":"","balance":7.0})"));
  EXPECT_TRUE(Doc("balances:::stale").is_null());
  EXPECT_FALSE(Doc("balances_old:::1").is_null());
  EXPECT_FALSE(Doc("balancesx:::1").is_null());
  auto ttl = redis_client_->Ttl("balances:::john");
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, 290);
  EXPECT_LE(*ttl, 300);

  // Batch size changes nothing.
  rebuild::RebuildOptions small;
  small.batch_size = 1;
  result = Rebuild("Balances", small);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Doc("balances:::john"),
            nlohmann::json::parse(R"({"user_id":"john","name":"John","balance":100.1})"));
}

TEST_F(CacheRebuildTest, UnreachableRedisFailsBeforeAnything) {
  Register("john", "John");
  UseCache(absl::StrCat("redis://127.0.0.1:", FreePort(), "/3"));
  auto result = Rebuild("Balances");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("cannot connect to Redis at"));
}

TEST_F(CacheRebuildTest, SqlFormIsRefused) {
  for (domain::Projector& p : domain_.projectors) {
    if (p.projector_for != "Balances") continue;
    p.handlers[0].form = domain::Handler::Form::kSql;
  }
  auto result = Rebuild("Balances");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("SQL form"));
}

TEST_F(CacheRebuildTest, RedisLostMidRebuildFailsWithCounts) {
  for (int i = 0; i < 50; ++i) Register(absl::StrCat("u", i), "U");
  rebuild::RebuildOptions options;
  options.batch_size = 10;
  options.on_progress = [&](const rebuild::ProgressEvent& e) {
    if (e.kind == rebuild::ProgressEvent::Kind::kProgress && e.processed >= 20) redis_.Kill();
  };
  auto result = Rebuild("Balances", options);
  if (result.ok()) {
    EXPECT_FALSE(result->success());
    EXPECT_TRUE(result->partial);
    ASSERT_FALSE(result->errors.empty());
    EXPECT_THAT(result->errors[0], HasSubstr("Redis"));
    EXPECT_GE(result->events_dispatched, 20);
    EXPECT_LT(result->events_dispatched, 50);
    std::cout << "after " << result->events_dispatched << " events: " << result->errors[0] << "\n";
  } else {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  }
}

// The lock of a cache-backed rebuild is its Redis instance and key prefix, whatever the
// cache is called and however its URI is spelled; another database of the instance is
// another lock.
TEST_F(CacheRebuildTest, TheLockIsTheRedisInstanceAndPrefix) {
  Register("john", "John");
  auto holder = storage::PgConnection::Connect(uri_);
  ASSERT_TRUE(holder.ok());
  const std::string lock =
      absl::StrCat("protean-admin:redis:127.0.0.1:", redis_.port(), "/3:balances");
  ASSERT_TRUE(holder->ExecParams("SELECT pg_advisory_lock(hashtextextended($1, 0))", {lock}).ok());
  domain_.caches = {
      {"other-name", "redis", absl::StrCat("redis://127.0.0.1:", redis_.port(), "/3"), 300}};
  domain_.projections[0].cache = "other-name";
  auto refused = Rebuild("Balances");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(lock));
  UseCache(redis_.Uri(4));
  auto other = Rebuild("Balances");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_TRUE(other->success());
}

// Stock, cache-backed in the cache "default", and its projector in the Lua form (lines 10,
// 20, 30, 40 of "(test fixture)").
void AddStockProjection(domain::Domain& d) {
  domain::Projection stock;
  stock.name = "Stock";
  stock.key = "sku";
  stock.table = "stock";
  stock.cache = "default";
  stock.cache_prefix = "stock";
  stock.columns = {{"sku", "varchar(20)"},     {"on_hand", "integer"},
                   {"value", "numeric(12,2)"}, {"weight", "double precision"},
                   {"lots", "jsonb"},          {"note", "text"}};
  d.projections.push_back(stock);
  domain::Projector projector;
  projector.name = "StockProjector";
  projector.projector_for = "Stock";
  projector.categories = {"test::transaction"};
  auto on = [&](const std::string& event, const std::string& source) {
    AddEvent(d, event, "Transaction");
    domain::Handler h;
    h.event = event;
    h.form = domain::Handler::Form::kLua;
    h.lua = source;
    h.lua_line = 10 * static_cast<int>(projector.handlers.size() + 1);
    h.where = absl::StrCat("(test fixture):", h.lua_line - 1);
    projector.handlers.push_back(std::move(h));
  };
  on("Received", R"lua(local r = rows[event.sku]
if r == nil then
  rows[event.sku] = { on_hand = event.quantity, value = decimal(event.price) * event.quantity,
                      weight = event.weight, lots = array({ event.lot }) }
else
  r.on_hand = r.on_hand + event.quantity
  r.value = r.value + decimal(event.price) * event.quantity
  r.weight = r.weight + event.weight
  table.insert(r.lots, event.lot)
end
)lua");
  on("Moved", R"lua(local from, to = rows[event.from], rows[event.to]
if not from or not to then error("unknown sku") end
from.on_hand = from.on_hand - event.quantity
to.on_hand = to.on_hand + event.quantity
rows[event.from .. "-log"] = { note = meta.stream_name .. "@" .. meta.position }
)lua");
  on("Discontinued", "rows[event.sku] = nil\n");
  on("Bad", "rows[event.sku].on_hand = -1\nrows['ghost'] = {}\nerror('refused')\n");
  d.projectors.push_back(projector);
  d.BuildTypeIndex();
}

// Lua-form handlers on a cache-backed projection (issue 16): rows read back from Redis when
// the row cache does not hold them (a 1-byte cache), several rows per event and computed
// keys, deletes, exact numerics, JSON lists changed in place, and a failing handler leaving
// none of its writes, in every batch size.
TEST_F(CacheRebuildTest, LuaHandlersFoldIntoRedis) {
  AddStockProjection(domain_);
  auto emit = [&](const std::string& stream, const std::string& event, nlohmann::json data) {
    Write("test::transaction-" + stream, "Test." + event + ".v1", data);
  };
  emit("a", "Received",
       {{"sku", "a"}, {"quantity", 10}, {"price", "1.10"}, {"weight", 0.1}, {"lot", "L1"}});
  emit("b", "Received",
       {{"sku", "b"}, {"quantity", 5}, {"price", "0.25"}, {"weight", 0.2}, {"lot", "L2"}});
  emit("a", "Received",
       {{"sku", "a"}, {"quantity", 2}, {"price", "1.05"}, {"weight", 0.2}, {"lot", "L3"}});
  emit("a", "Bad", {{"sku", "a"}});
  emit("a", "Moved", {{"from", "a"}, {"to", "b"}, {"quantity", 4}});
  emit("c", "Received",
       {{"sku", "c"}, {"quantity", 1}, {"price", "9"}, {"weight", 1.5}, {"lot", "L4"}});
  emit("c", "Discontinued", {{"sku", "c"}});
  emit("a", "Moved", {{"from", "a"}, {"to", "c"}, {"quantity", 1}});  // c is gone: skipped

  for (int batch_size : {1, 3, 500}) {
    for (int64_t cache_bytes : {int64_t{1}, int64_t{64} << 20}) {
      SCOPED_TRACE(absl::StrCat("batch size ", batch_size, ", row cache ", cache_bytes));
      ASSERT_TRUE(redis_client_->WriteMany({{"stock:::stale", "{}"}}, 0).ok());
      rebuild::RebuildOptions options;
      options.batch_size = batch_size;
      options.row_cache_bytes = cache_bytes;
      auto result = Rebuild("Stock", options);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_TRUE(result->success()) << result->errors[0];
      EXPECT_EQ(result->events_dispatched, 6);
      EXPECT_EQ(result->events_skipped, 2);
      ASSERT_EQ(result->skip_reasons.size(), 2u);
      EXPECT_EQ(result->skip_reasons[0].reason, "(test fixture):42: refused");
      EXPECT_EQ(result->skip_reasons[0].first_positions, std::vector<int64_t>{4});
      EXPECT_EQ(result->skip_reasons[1].reason, "(test fixture):21: unknown sku");
      EXPECT_EQ(result->skip_reasons[1].first_positions, std::vector<int64_t>{8});

      auto keys = redis_client_->Command({"KEYS", "stock:::*"});
      ASSERT_TRUE(keys.ok()) << keys.status();
      std::vector<std::string> names;
      for (const storage::RedisReply& k : keys->elements) names.push_back(k.str);
      std::sort(names.begin(), names.end());
      EXPECT_EQ(names, (std::vector<std::string>{"stock:::a", "stock:::a-log", "stock:::b"}));
      // Numeric columns keep their digits: the raw documents.
      auto raw = redis_client_->GetMany({"stock:::a", "stock:::b", "stock:::a-log"});
      ASSERT_TRUE(raw.ok()) << raw.status();
      EXPECT_EQ((*raw)[0].value_or(""),
                R"({"sku":"a","on_hand":8,"value":13.10,"weight":0.30000000000000004,)"
                R"("lots":["L1","L3"],"note":null})");
      EXPECT_EQ((*raw)[1].value_or(""),
                R"({"sku":"b","on_hand":9,"value":1.25,"weight":0.2,"lots":["L2"],"note":null})");
      EXPECT_EQ((*raw)[2].value_or(""),
                R"({"sku":"a-log","on_hand":null,"value":null,"weight":null,"lots":null,)"
                R"("note":"test::transaction-a@3"})");
      EXPECT_EQ(Doc("stock:::a")["weight"].get<double>(), 0.1 + 0.2);  // in event order
      auto ttl = redis_client_->Ttl("stock:::a-log");
      ASSERT_TRUE(ttl.ok());
      EXPECT_GT(*ttl, 290);
    }
  }
}

}  // namespace
}  // namespace protean_admin::testing
