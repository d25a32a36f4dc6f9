// RedisClient against real redis-servers: the harness' shared one (smoke test, unique
// prefixes) and a private one started by this suite (FLUSHALL between tests, command
// statistics, configuration changes).

#include "storage/redis_client.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/test_services.h"
#include "tests/integration/redis/scratch_redis.h"

namespace protean_admin {
namespace {

using storage::CacheKey;
using storage::RedisClient;
using storage::RedisReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using Writes = std::vector<std::pair<std::string, std::optional<std::string>>>;

class RedisClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::ScratchRedis();
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(server_->running());
    auto client = RedisClient::Connect(server_->Uri());
    ASSERT_TRUE(client.ok()) << client.status();
    client_.emplace(std::move(*client));
    Run({"FLUSHALL"});
    Run({"CONFIG", "RESETSTAT"});
  }

  RedisReply Run(const std::vector<std::string>& args) {
    auto reply = client_->Command(args);
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return RedisReply{};
    EXPECT_NE(reply->type, RedisReply::Type::kError) << args[0] << ": " << reply->str;
    return *reply;
  }

  void Set(const std::string& key, const std::string& value) { Run({"SET", key, value}); }

  std::vector<std::string> AllKeys() {
    std::vector<std::string> keys;
    for (const RedisReply& key : Run({"KEYS", "*"}).elements) keys.push_back(key.str);
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  int64_t DbSize() { return Run({"DBSIZE"}).integer; }

  // Calls of a command since the last CONFIG RESETSTAT (INFO commandstats).
  int64_t Calls(const std::string& command) {
    const std::string info = Run({"INFO", "commandstats"}).str;
    const std::string marker = absl::StrCat("cmdstat_", command, ":calls=");
    size_t at = info.find(marker);
    if (at == std::string::npos) return 0;
    at += marker.size();
    int64_t calls = 0;
    EXPECT_TRUE(absl::SimpleAtoi(info.substr(at, info.find(',', at) - at), &calls));
    return calls;
  }

  static testing::ScratchRedis* server_;
  std::optional<RedisClient> client_;
};

testing::ScratchRedis* RedisClientTest::server_ = nullptr;

TEST(RedisHarnessTest, TheHarnessRedisAnswersAndRoundTrips) {
  auto services = testing::LoadTestServices();
  ASSERT_TRUE(services.ok()) << services.status();
  ASSERT_NE(services->redis_port, 0) << "redis-server is not installed: the harness has none";
  auto client = RedisClient::Connect(
      absl::StrCat("redis://", services->redis_host, ":", services->redis_port, "/0"));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(client->Ping().ok());
  EXPECT_EQ(client->Describe(),
            absl::StrCat(services->redis_host, ":", services->redis_port, "/0"));

  // A prefix of our own: other tests may share this server.
  const std::string prefix = absl::StrCat("redis_harness_test_", getpid());
  ASSERT_TRUE(
      client
          ->WriteMany({{CacheKey(prefix, "1"), "{\"a\":1}"}, {CacheKey(prefix, "2"), "{\"a\":2}"}},
                      60)
          .ok());
  auto values = client->GetMany({CacheKey(prefix, "2"), CacheKey(prefix, "1")});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values,
              ElementsAre(Optional(std::string("{\"a\":2}")), Optional(std::string("{\"a\":1}"))));
  auto removed = client->DeleteByPrefix(prefix);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);
}

TEST_F(RedisClientTest, DeleteByPrefixRemovesOnlyTheProjectionsKeys) {
  const std::vector<std::string> doomed = {"cached_view:::1", "cached_view:::2",
                                           "cached_view:::a:::b",
                                           "cached_view:::", "cached_view:::*"};
  const std::vector<std::string> survivors = {
      "cached_view_old:::1", "cached_viewx:::1", "cached_view::1",  "cached_view:1",
      "cached_view",         "xcached_view:::1", "Cached_View:::1", "cached_vie:::1",
      "cached_view_:::1",    " cached_view:::1"};
  for (const std::string& key : doomed) Set(key, "{}");
  for (const std::string& key : survivors) Set(key, "{}");

  auto removed = client_->DeleteByPrefix("cached_view");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, static_cast<int64_t>(doomed.size()));
  std::vector<std::string> expected = survivors;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(AllKeys(), expected);

  // Again: nothing left to match is not an error.
  removed = client_->DeleteByPrefix("cached_view");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 0);
  EXPECT_EQ(AllKeys(), expected);
}

TEST_F(RedisClientTest, GlobMetacharactersInThePrefixAreLiteral) {
  struct Case {
    std::string prefix;
    std::vector<std::string> doomed;
    std::vector<std::string> survivors;
  };
  const std::vector<Case> cases = {
      {"a*b", {"a*b:::1"}, {"axxb:::1", "ab:::1", "a*bc:::1"}},
      {"a?c", {"a?c:::1"}, {"abc:::1", "a?cc:::1"}},
      {"a[bc]d", {"a[bc]d:::1"}, {"abd:::1", "acd:::1"}},
      {"a[^b]d", {"a[^b]d:::1"}, {"aXd:::1"}},
      {"a\\b", {"a\\b:::1"}, {"ab:::1", "a\\\\b:::1"}},
      {"*", {"*:::1", "*:::2"}, {"x:::1", "**:::1", "cached_view:::1"}},
      {"?", {"?:::1"}, {"x:::1"}},
      {"]", {"]:::1"}, {"x]:::1"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.prefix);
    Run({"FLUSHALL"});
    for (const std::string& key : c.doomed) Set(key, "1");
    for (const std::string& key : c.survivors) Set(key, "1");
    auto removed = client_->DeleteByPrefix(c.prefix);
    ASSERT_TRUE(removed.ok()) << removed.status();
    EXPECT_EQ(*removed, static_cast<int64_t>(c.doomed.size()));
    std::vector<std::string> expected = c.survivors;
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(AllKeys(), expected);
  }
}

TEST_F(RedisClientTest, DeletesManyKeysInSeveralScanBatches) {
  constexpr int kDoomed = 25000;
  constexpr int kOthers = 1000;
  Writes writes;
  for (int i = 0; i < kDoomed; ++i) writes.emplace_back(CacheKey("big", std::to_string(i)), "v");
  for (int i = 0; i < kOthers; ++i) {
    writes.emplace_back(CacheKey("big_other", std::to_string(i)), "v");
  }
  ASSERT_TRUE(client_->WriteMany(writes, 600).ok());
  ASSERT_EQ(DbSize(), kDoomed + kOthers);
  Run({"CONFIG", "RESETSTAT"});

  const auto start = std::chrono::steady_clock::now();
  auto removed = client_->DeleteByPrefix("big", 1000);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, kDoomed);
  EXPECT_EQ(DbSize(), kOthers);
  // 26k keys scanned 1000 at a time: about 26 SCANs and about 25 UNLINKs, never one huge one.
  EXPECT_GE(Calls("scan"), 20);
  EXPECT_GE(Calls("unlink"), 20);
  EXPECT_LE(Calls("unlink"), Calls("scan"));
  std::cout << "DeleteByPrefix: " << kDoomed << " of " << kDoomed + kOthers << " keys in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms, "
            << Calls("scan") << " SCAN, " << Calls("unlink") << " UNLINK\n";

  // A small batch gives the same result.
  writes.resize(2000);
  ASSERT_TRUE(client_->WriteMany(writes, 600).ok());
  removed = client_->DeleteByPrefix("big", 7);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2000);
  EXPECT_EQ(DbSize(), kOthers);
}

TEST_F(RedisClientTest, EmptyMatchIsNotAnError) {
  auto removed = client_->DeleteByPrefix("nothing_here");  // empty database
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 0);
  Set("something:::1", "x");
  removed = client_->DeleteByPrefix("nothing_here");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 0);
  EXPECT_EQ(DbSize(), 1);
}

TEST_F(RedisClientTest, DeleteByPrefixRejectsABadBatch) {
  Set("p:::1", "x");
  for (int batch : {0, -5}) {
    auto removed = client_->DeleteByPrefix("p", batch);
    ASSERT_FALSE(removed.ok());
    EXPECT_EQ(removed.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(DbSize(), 1);
}

TEST_F(RedisClientTest, WriteManyAndGetManyRoundTripWithTtl) {
  const std::string binary("a\0b\r\n\xff", 6);
  ASSERT_TRUE(client_
                  ->WriteMany({{CacheKey("balances", "1"), R"({"balance":10.5,"name":"Jo"})"},
                               {CacheKey("balances", "2"), R"({"name":"Zoë"})"},
                               {CacheKey("balances", binary), binary}},
                              300)
                  .ok());
  auto values = client_->GetMany({CacheKey("balances", "2"), CacheKey("balances", "absent"),
                                  CacheKey("balances", "1"), CacheKey("balances", binary)});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre(Optional(std::string(R"({"name":"Zoë"})")), std::nullopt,
                                   Optional(std::string(R"({"balance":10.5,"name":"Jo"})")),
                                   Optional(binary)));
  for (const std::string& key : {std::string("1"), std::string("2"), binary}) {
    auto ttl = client_->Ttl(CacheKey("balances", key));
    ASSERT_TRUE(ttl.ok()) << ttl.status();
    EXPECT_GT(*ttl, 290);
    EXPECT_LE(*ttl, 300);
  }
  auto absent = client_->Ttl(CacheKey("balances", "absent"));
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(*absent, -2);

  // Empty inputs: nothing to do.
  auto none = client_->GetMany({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(client_->WriteMany({}, 300).ok());
}

TEST_F(RedisClientTest, WriteManyDeletesUpdatesAndKeepsOrder) {
  ASSERT_TRUE(
      client_->WriteMany({{"p:::1", "one"}, {"p:::2", "two"}, {"p:::3", "three"}}, 100).ok());
  // Delete 1, overwrite 2 with a new TTL, delete an absent key (not an error), write 4 twice
  // (the later wins), write 3 then delete it in the same round.
  ASSERT_TRUE(client_
                  ->WriteMany({{"p:::1", std::nullopt},
                               {"p:::2", "TWO"},
                               {"p:::absent", std::nullopt},
                               {"p:::4", "first"},
                               {"p:::4", "second"},
                               {"p:::3", "THREE"},
                               {"p:::3", std::nullopt}},
                              1000)
                  .ok());
  auto values = client_->GetMany({"p:::1", "p:::2", "p:::3", "p:::4"});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre(std::nullopt, Optional(std::string("TWO")), std::nullopt,
                                   Optional(std::string("second"))));
  auto ttl = client_->Ttl("p:::2");
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, 990);  // refreshed by the overwrite
  EXPECT_EQ(DbSize(), 2);

  // TTL 0: no expiry. Negative: refused before anything is written.
  ASSERT_TRUE(client_->WriteMany({{"p:::5", "five"}}, 0).ok());
  ttl = client_->Ttl("p:::5");
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(*ttl, -1);
  absl::Status negative = client_->WriteMany({{"p:::6", "six"}}, -1);
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DbSize(), 3);
}

TEST_F(RedisClientTest, LargeWriteManyAndGetManySpanSeveralRounds) {
  const size_t n = RedisClient::kMaxBatch * 2 + 123;
  Writes writes;
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i) {
    keys.push_back(CacheKey("many", std::to_string(i)));
    writes.emplace_back(keys.back(), absl::StrCat("{\"i\":", i, "}"));
  }
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client_->WriteMany(writes, 300).ok());
  const auto written = std::chrono::steady_clock::now();
  keys.push_back("many:::missing");
  auto values = client_->GetMany(keys);
  const auto read = std::chrono::steady_clock::now();
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), n + 1);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_THAT((*values)[i], Optional(absl::StrCat("{\"i\":", i, "}"))) << i;
  }
  EXPECT_EQ(values->back(), std::nullopt);
  EXPECT_EQ(DbSize(), static_cast<int64_t>(n));
  EXPECT_EQ(Calls("mget"), 3);
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  std::cout << "WriteMany " << n
            << " keys: " << duration_cast<milliseconds>(written - start).count()
            << " ms; GetMany: " << duration_cast<milliseconds>(read - written).count() << " ms\n";
}

TEST_F(RedisClientTest, ServerErrorsInAPipelineAreReportedAndTheConnectionStaysUsable) {
  Set("p:::1", "old");
  // No memory for writes: every SET of the round is refused with OOM.
  Run({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  Run({"CONFIG", "SET", "maxmemory", "1"});
  absl::Status status = client_->WriteMany({{"p:::1", "new"}, {"p:::2", "x"}}, 300);
  Run({"CONFIG", "SET", "maxmemory", "0"});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("OOM"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(server_->Uri().substr(8)));  // "127.0.0.1:port/0"
  // All replies were read: the next commands get their own replies.
  EXPECT_TRUE(client_->Ping().ok());
  auto values = client_->GetMany({"p:::1", "p:::2"});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre(Optional(std::string("old")), std::nullopt));
  EXPECT_TRUE(client_->WriteMany({{"p:::2", "x"}}, 300).ok());

  // A list at a key: MGET reads it as absent, TTL works, a raw command error is a reply.
  Run({"RPUSH", "p:::list", "a"});
  values = client_->GetMany({"p:::list"});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre(std::nullopt));
  auto reply = client_->Command({"GET", "p:::list"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->type, RedisReply::Type::kError);
  EXPECT_THAT(reply->str, HasSubstr("WRONGTYPE"));
  EXPECT_TRUE(client_->Ping().ok());
}

TEST_F(RedisClientTest, DatabaseSelection) {
  auto db3 = RedisClient::Connect(server_->Uri(3));
  ASSERT_TRUE(db3.ok()) << db3.status();
  EXPECT_EQ(db3->Describe(), server_->Uri(3).substr(8));
  ASSERT_TRUE(db3->WriteMany({{"sel:::1", "in3"}}, 300).ok());

  auto values = client_->GetMany({"sel:::1"});  // db 0
  ASSERT_TRUE(values.ok());
  EXPECT_THAT(*values, ElementsAre(std::nullopt));
  values = db3->GetMany({"sel:::1"});
  ASSERT_TRUE(values.ok());
  EXPECT_THAT(*values, ElementsAre(Optional(std::string("in3"))));

  // Truncating in db 0 leaves db 3 alone.
  Set("sel:::1", "in0");
  auto removed = client_->DeleteByPrefix("sel");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  values = db3->GetMany({"sel:::1"});
  ASSERT_TRUE(values.ok());
  EXPECT_THAT(*values, ElementsAre(Optional(std::string("in3"))));

  // A database the server does not have (16 by default).
  auto bad = RedisClient::Connect(server_->Uri(16));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr(absl::StrCat("cannot connect to Redis at ", server_->Uri(16).substr(8))));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("DB index is out of range"));
}

TEST_F(RedisClientTest, MovedFromClientFailsCleanly) {
  RedisClient moved = std::move(*client_);
  EXPECT_TRUE(moved.Ping().ok());
  EXPECT_FALSE(client_->ok());
  absl::Status status = client_->Ping();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  client_.emplace(std::move(moved));
  EXPECT_TRUE(client_->Ping().ok());
}

}  // namespace
}  // namespace protean_admin
