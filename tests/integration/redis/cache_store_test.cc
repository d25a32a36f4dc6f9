// RedisProjectionStore (server/rebuild/cache_store.h) against a private redis-server:
// truncation by prefix, the Balances scenario folded by the engine's FoldAndWrite into JSON
// documents with the cache's TTL, a second fold reading those documents back, and an
// unreachable cache refused at Open.

#include "server/rebuild/cache_store.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/action_fold.h"
#include "server/rebuild/column_ops.h"
#include "storage/redis_client.h"
#include "tests/integration/redis/scratch_redis.h"

namespace protean_admin::rebuild {
namespace {

using storage::RedisClient;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

domain::Domain BalancesDomain(const std::string& uri, int64_t ttl) {
  domain::Domain d;
  d.name = "Test";
  d.caches.push_back({"default", "redis", uri, ttl});
  domain::Projection p;
  p.name = "Balances";
  p.key = "user_id";
  p.cache = "default";
  p.cache_prefix = "balances";
  p.columns = {
      {"user_id", "varchar(255)"}, {"name", "varchar(255)"}, {"balance", "double precision"}};
  d.projections.push_back(p);
  return d;
}

Datum Str(std::string text) { return Datum{Datum::Kind::kString, std::move(text)}; }
Datum Num(std::string text) { return Datum{Datum::Kind::kNumber, std::move(text)}; }

// Registered: set name, balance = 0. Transacted: insert {name "", balance amount},
// increment balance by amount.
ActionItem Registered(const std::string& user, const std::string& name) {
  ActionItem item;
  item.key = user;
  item.set = {{1, Str(name)}, {2, Num("0")}};
  return item;
}
ActionItem Transacted(const std::string& user, const std::string& amount) {
  ActionItem item;
  item.key = user;
  item.insert = {{1, Str("")}, {2, Num(amount)}};
  item.increment = {{2, Num(amount)}};
  return item;
}
ActionItem Deleted(const std::string& user) {
  ActionItem item;
  item.key = user;
  item.remove = true;
  return item;
}

class CacheStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    domain_ = BalancesDomain(server_.Uri(2), 300);
    auto store = RedisProjectionStore::Open(domain_, domain_.projections[0], 100);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    for (const storage::ColumnInfo& c : store_->table().columns) {
      specs_.push_back(ColumnSpec::From(c));
    }
    auto admin = RedisClient::Connect(server_.Uri(2));
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_.emplace(std::move(*admin));
  }

  absl::Status Fold(const std::vector<ActionItem>& items) {
    std::vector<const ActionItem*> pointers;
    for (const ActionItem& item : items) pointers.push_back(&item);
    auto statuses = FoldAndWrite(*store_, specs_, pointers);
    if (!statuses.ok()) return statuses.status();
    for (const absl::Status& s : *statuses) {
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  nlohmann::json Doc(const std::string& key) {
    auto values = admin_->GetMany({key});
    EXPECT_TRUE(values.ok()) << values.status();
    if (!values.ok() || !(*values)[0].has_value()) return nullptr;
    return nlohmann::json::parse(*(*values)[0]);
  }

  testing::ScratchRedis server_;
  domain::Domain domain_;
  std::unique_ptr<RedisProjectionStore> store_;
  std::vector<ColumnSpec> specs_;
  std::optional<RedisClient> admin_;
};

TEST_F(CacheStoreTest, TruncateRemovesOnlyTheProjectionsKeys) {
  ASSERT_TRUE(admin_
                  ->WriteMany({{"balances:::1", "{}"},
                               {"balances:::2", "{}"},
                               {"balances_old:::1", "{}"},
                               {"balancesx:::1", "{}"},
                               {"balances::1", "{}"}},
                              300)
                  .ok());
  ASSERT_TRUE(store_->Truncate().ok());
  EXPECT_EQ(store_->truncated_keys(), 2);
  auto left = admin_->GetMany(
      {"balances:::1", "balances:::2", "balances_old:::1", "balancesx:::1", "balances::1"});
  ASSERT_TRUE(left.ok());
  EXPECT_THAT(*left, ElementsAre(std::nullopt, std::nullopt, Optional(std::string("{}")),
                                 Optional(std::string("{}")), Optional(std::string("{}"))));
  ASSERT_TRUE(store_->Truncate().ok());  // empty match
  EXPECT_EQ(store_->truncated_keys(), 0);
}

TEST_F(CacheStoreTest, BalancesScenarioFoldsIntoJsonDocumentsWithTtl) {
  ASSERT_TRUE(Fold({Registered("1", "John"), Transacted("1", "10.5"), Transacted("1", "0.1"),
                    Transacted("1", "0.2"), Transacted("2", "7"), Registered("3", "Jane"),
                    Registered("4", "Gone"), Deleted("4")})
                  .ok());
  const double expected = ((0.0 + 10.5) + 0.1) + 0.2;  // in event order, as PostgreSQL would
  nlohmann::json john = Doc("balances:::1");
  EXPECT_EQ(john["user_id"], "1");
  EXPECT_EQ(john["name"], "John");
  ASSERT_TRUE(john["balance"].is_number());
  EXPECT_EQ(john["balance"].get<double>(), expected);
  // Row absent at the first Transacted: created from `insert`, not incremented twice.
  nlohmann::json two = Doc("balances:::2");
  EXPECT_EQ(two, nlohmann::json::parse(R"({"user_id":"2","name":"","balance":7})"));
  EXPECT_EQ(Doc("balances:::3"),
            nlohmann::json::parse(R"({"user_id":"3","name":"Jane","balance":0})"));
  EXPECT_TRUE(Doc("balances:::4").is_null());
  for (const char* key : {"balances:::1", "balances:::2", "balances:::3"}) {
    auto ttl = admin_->Ttl(key);
    ASSERT_TRUE(ttl.ok());
    EXPECT_GT(*ttl, 290) << key;
    EXPECT_LE(*ttl, 300) << key;
  }

  // A second batch reads the documents back (Fetch) and continues from them.
  ASSERT_TRUE(Fold({Transacted("1", "5"), Transacted("3", "1.25"), Deleted("2")}).ok());
  EXPECT_EQ(Doc("balances:::1")["balance"].get<double>(), expected + 5);
  EXPECT_EQ(Doc("balances:::3"),
            nlohmann::json::parse(R"({"user_id":"3","name":"Jane","balance":1.25})"));
  EXPECT_TRUE(Doc("balances:::2").is_null());
}

TEST_F(CacheStoreTest, RedisLostMidwayFailsTheWrite) {
  ASSERT_TRUE(Fold({Registered("1", "John")}).ok());
  server_.Kill();
  absl::Status status = Fold({Transacted("1", "1")});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(CacheStoreOpenTest, UnreachableCacheIsUnavailableBeforeAnything) {
  const int port = testing::FreePort();
  domain::Domain d = BalancesDomain(absl::StrCat("redis://:pw@127.0.0.1:", port, "/0"), 300);
  auto store = RedisProjectionStore::Open(d, d.projections[0]);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(store.status().message()),
              HasSubstr(absl::StrCat(
                  "Projection 'Balances': cannot connect to Redis at 127.0.0.1:", port, "/0")));
}

}  // namespace
}  // namespace protean_admin::rebuild
