// Rebuilding a cache-backed projection through the engine (issue 7): Balances in Redis,
// truncation by prefix sparing look-alikes, JSON values with the cache's TTL, the SQL form
// refused, Redis unreachable before anything and Redis lost mid-rebuild.

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

}  // namespace
}  // namespace protean_admin::testing
