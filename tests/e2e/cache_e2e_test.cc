// A cache-backed projection rebuilt end to end (issue 7): the real protean-admind on a free
// port, the real protean-admin CLI, a scratch Message DB database (tests/harness) and the
// harness' scratch redis-server. Balances lives in Redis (action form, one v1 event upcast);
// the rebuild removes the stale "balances:::*" keys, spares a look-alike prefix, and writes
// the JSON documents with the cache's TTL. Rebuild all covers a database-backed and a
// cache-backed projection together.

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/pg_connection.h"
#include "storage/redis_client.h"
#include "tests/e2e/e2e_support.h"
#include "tests/harness/test_services.h"

#ifndef PROTEAN_ADMIND_BINARY
#error "PROTEAN_ADMIND_BINARY must be defined by the build"
#endif

namespace protean_admin::e2e {
namespace {

using namespace std::chrono_literals;
using storage::RedisClient;

constexpr int64_t kTtl = 120;

// The test domain (e2e_support.h) with Balances in the Redis cache "default" and Transacted
// at v2 (v1 upcast by renaming `amt` to `amount`); `extra` adds projections.
std::string CacheDomainToml(const std::string& pg_uri, const std::string& redis_uri,
                            int health_port, const std::string& extra = "") {
  const char kUpcaster[] = R"toml(
[[upcasters]]
event = "Transacted"
from_version = 1
to_version = 2
rename = { amt = "amount" }
defaults = { currency = "USD" }
)toml";
  const std::string cache = absl::StrCat("\n[caches.default]\nprovider = \"redis\"\nURI = \"",
                                         redis_uri, "\"\nTTL = ", kTtl, "\n");
  return TestDomainToml({.uri = pg_uri,
                         .health_port = health_port,
                         .balances_cache = "default",
                         .transacted_version = 2,
                         .extra = absl::StrCat(cache, kUpcaster, extra)});
}

class CacheE2eTest : public ::testing::Test {
 protected:
  // Each test uses its own database of the shared scratch redis-server, emptied first.
  void Prepare(int redis_db, const std::string& extra_toml) {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    ASSERT_NE(services->redis_port, 0) << "redis-server is not installed: the harness has none";
    auto uri = testing::CreateScratchDatabase(*services, "cache_e2e");
    ASSERT_TRUE(uri.ok()) << uri.status();
    pg_uri_ = *uri;
    auto conn = storage::PgConnection::Connect(pg_uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));

    redis_uri_ =
        absl::StrCat("redis://", services->redis_host, ":", services->redis_port, "/", redis_db);
    auto client = RedisClient::Connect(redis_uri_);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_.emplace(std::move(*client));
    auto flushed = redis_->Command({"FLUSHDB"});
    ASSERT_TRUE(flushed.ok()) << flushed.status();
    ASSERT_EQ(flushed->type, storage::RedisReply::Type::kStatus) << flushed->str;

    // Left over from an earlier build of the projection, and a look-alike prefix.
    ASSERT_TRUE(redis_
                    ->WriteMany({{"balances:::stale", R"({"user_id":"stale","balance":1})"},
                                 {"balances_old:::1", R"({"user_id":"1","balance":42})"}},
                                0)
                    .ok());

    root_.Write("domain.toml",
                CacheDomainToml(pg_uri_, redis_uri_, FreePort() /* nobody listens */, extra_toml));
    StartDaemon();
  }

  void TearDown() override { EXPECT_NE(daemon_.Stop(), -1) << "daemon did not stop on SIGTERM"; }

  void StartDaemon() {
    ASSERT_TRUE(daemon_.Start()) << "daemon did not come up: " << daemon_.process().Stderr();
  }

  CliRun Cli(const std::vector<std::string>& args) { return daemon_.Cli(args); }

  void Write(const std::string& stream, const std::string& type, const std::string& data) {
    auto written = testing::WriteMessage(*conn_, stream, type, data);
    ASSERT_TRUE(written.ok()) << written.status();
  }

  // Two users registered, three transactions (one stored as Transacted.v1 with `amt`), one
  // of them for a user who never registered: 5 events in 2 categories.
  void WriteHistory() {
    Write("test::user-1", "Test.Registered.v1",
          R"({"user_id": "1", "email": "john@x", "name": "John"})");
    Write("test::transaction-9", "Test.Transacted.v2",
          R"({"user_id": "1", "amount": 100.0, "currency": "USD"})");
    Write("test::transaction-9", "Test.Transacted.v1", R"({"user_id": "1", "amt": 5.5})");
    Write("test::user-2", "Test.Registered.v1",
          R"({"user_id": "2", "email": "jane@x", "name": "Jane"})");
    Write("test::transaction-10", "Test.Transacted.v2",
          R"({"user_id": "3", "amount": 7.25, "currency": "EUR"})");
  }

  // The JSON document at `key`; null when absent.
  nlohmann::json Doc(const std::string& key) {
    auto values = redis_->GetMany({key});
    EXPECT_TRUE(values.ok()) << values.status();
    if (!values.ok() || !(*values)[0].has_value()) return nullptr;
    nlohmann::json doc = nlohmann::json::parse(*(*values)[0], nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(doc.is_discarded()) << key << " holds no JSON: " << *(*values)[0];
    return doc;
  }

  // Every key matching `pattern` in the test's Redis database, sorted.
  std::vector<std::string> Keys(const std::string& pattern) {
    auto reply = redis_->Command({"KEYS", pattern});
    EXPECT_TRUE(reply.ok()) << reply.status();
    std::vector<std::string> keys;
    if (!reply.ok()) return keys;
    for (const storage::RedisReply& e : reply->elements) keys.push_back(e.str);
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void ExpectBalance(const std::string& user_id, const std::string& name, double balance) {
    SCOPED_TRACE("balances:::" + user_id);
    nlohmann::json doc = Doc("balances:::" + user_id);
    ASSERT_TRUE(doc.is_object()) << doc.dump();
    EXPECT_EQ(doc.size(), 3u) << doc.dump();
    ASSERT_TRUE(doc.contains("user_id") && doc["user_id"].is_string()) << doc.dump();
    EXPECT_EQ(doc["user_id"].get<std::string>(), user_id);
    ASSERT_TRUE(doc.contains("name") && doc["name"].is_string()) << doc.dump();
    EXPECT_EQ(doc["name"].get<std::string>(), name);
    ASSERT_TRUE(doc.contains("balance") && doc["balance"].is_number()) << doc.dump();
    EXPECT_DOUBLE_EQ(doc["balance"].get<double>(), balance);
    auto ttl = redis_->Ttl("balances:::" + user_id);
    ASSERT_TRUE(ttl.ok()) << ttl.status();
    EXPECT_GT(*ttl, kTtl - 10);
    EXPECT_LE(*ttl, kTtl);
  }

  void ExpectRedisRebuilt() {
    EXPECT_EQ(Keys("balances:::*"),
              (std::vector<std::string>{"balances:::1", "balances:::2", "balances:::3"}));
    ExpectBalance("1", "John", 105.5);
    ExpectBalance("2", "Jane", 0.0);
    ExpectBalance("3", "", 7.25);
    EXPECT_TRUE(Doc("balances:::stale").is_null());
    // The look-alike prefix is untouched: value and (absent) expiry.
    EXPECT_EQ(Doc("balances_old:::1"), nlohmann::json::parse(R"({"user_id":"1","balance":42})"));
    auto ttl = redis_->Ttl("balances_old:::1");
    ASSERT_TRUE(ttl.ok()) << ttl.status();
    EXPECT_EQ(*ttl, -1);
  }

  std::string Query(const std::string& sql) {
    auto r = conn_->Exec(sql);
    if (!r.ok() || r->rows() != 1) return "<error: " + std::string(r.status().message()) + ">";
    return std::string(r->Get(0, 0));
  }

  TempDir root_;
  TempDir logs_;
  std::string pg_uri_;
  std::string redis_uri_;
  std::optional<storage::PgConnection> conn_;
  std::optional<RedisClient> redis_;
  e2e::Daemon daemon_{root_.path(), logs_.path()};
};

TEST_F(CacheE2eTest, RebuildCacheBackedProjection) {
  ASSERT_NO_FATAL_FAILURE(Prepare(11, ""));
  WriteHistory();
  CliRun run = Cli({"rebuild", "--domain=.", "--projection=Balances"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out,
            "Rebuilt projection 'Balances': 5 events processed through 1 projector(s) across 2 "
            "category/categories.\n")
      << run.err;
  ExpectRedisRebuilt();
  // Nothing went to PostgreSQL for the cache-backed projection.
  EXPECT_EQ(Query("SELECT count(*) FROM pg_tables WHERE tablename = 'balances'"), "0");

  // Rebuilding again gives the same documents, freshly expiring.
  ASSERT_TRUE(redis_->WriteMany({{"balances:::stale", "{}"}}, 0).ok());
  run = Cli({"rebuild", "--domain=.", "--projection=Balances"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out,
            "Rebuilt projection 'Balances': 5 events processed through 1 projector(s) across 2 "
            "category/categories.\n")
      << run.err;
  ExpectRedisRebuilt();
}

TEST_F(CacheE2eTest, RebuildAllCoversDatabaseAndCacheBackedProjections) {
  // A database-backed projection beside the cache-backed one (SQL form).
  ASSERT_NO_FATAL_FAILURE(
      Prepare(12, absl::StrCat(kUserDirectoryProjection, kUserDirectoryProjector)));
  WriteHistory();
  CliRun run = Cli({"rebuild", "--domain=."});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out,
            "  Balances: 5 events processed\n"
            "  UserDirectory: 2 events processed\n"
            "Rebuilt 2 projection(s), 7 total events processed.\n")
      << run.err;
  ExpectRedisRebuilt();
  EXPECT_EQ(Query("SELECT string_agg(user_id || '=' || email || '/' || name, ',' ORDER BY "
                  "user_id) FROM user_directory"),
            "1=john@x/John,2=jane@x/Jane");
}

}  // namespace
}  // namespace protean_admin::e2e
