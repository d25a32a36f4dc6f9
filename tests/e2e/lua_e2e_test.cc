// Lua-form handlers end to end (issue 16): the real protean-admind and protean-admin, a
// scratch Message DB database and the harness' scratch redis-server. One projector body in the
// Lua form feeds a database-backed projection (Ledger) and a cache-backed one (LedgerCache);
// sandbox escape attempts each skip their event with the reason and the place, keep none of
// the failing handler's writes and leave the daemon serving; a syntax error fails the
// rebuild before anything is truncated, naming the line of domain.toml.

#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
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

using storage::RedisClient;
using ::testing::HasSubstr;

constexpr int kRedisDb = 13;

// The Ledger projections and their projectors (@P@: the projector's name, @FOR@: its
// projection). Registered creates the row; Transacted updates it only when it exists, adding
// the amount exactly (numeric) and counting the event's day in a jsonb object.
constexpr char kLedgerProjections[] = R"toml(
[events.Escape]
aggregate = "Transaction"

[projections.Ledger]
key = "user_id"
columns = { user_id = "varchar(64)", name = "text", balance = "numeric(12,2)", days = "jsonb", last_day = "text" }

[projections.LedgerCache]
key = "user_id"
cache = "default"
columns = { user_id = "varchar(64)", name = "text", balance = "numeric(12,2)", days = "jsonb", last_day = "text" }
)toml";

constexpr char kLedgerProjector[] = R"toml(
[projectors.@P@]
projector_for = "@FOR@"
aggregates = ["User", "Transaction"]

[projectors.@P@.on.Registered]
lua = '''
rows[event.user_id] = { name = event.name, balance = decimal(0), days = {} }
'''

[projectors.@P@.on.Transacted]
lua = '''
local r = rows[event.user_id]
if not r then return end                -- update only when the row exists
r.balance = r.balance + decimal(event.amount)
local day = date.day(meta.time)
r.days[day] = (r.days[day] or 0) + 1
r.last_day = day
'''
)toml";

// Every escape attempt, chosen by the event's `kind`, after writes that must not stay.
constexpr char kEscapeHandler[] = R"toml(
[projectors.LedgerProjector.on.Escape]
lua = '''
local r = rows[event.user_id]
if r then r.name = "escaped" end
rows["ghost-" .. event.kind] = { name = "ghost" }
local k = event.kind
if k == "os" then os.execute("touch /tmp/protean-admin-pwned")
elseif k == "io" then io.open("/etc/passwd")
elseif k == "require" then require("os")
elseif k == "load" then load("return 1")()
elseif k == "rep" then r.name = string.rep("x", 1 << 30)
elseif k == "loop" then while true do end
elseif k == "recursion" then local function f(n) return 1 + f(n + 1) end f(1)
end
'''
)toml";

std::string Projector(const std::string& name, const std::string& projection) {
  return absl::StrReplaceAll(kLedgerProjector, {{"@P@", name}, {"@FOR@", projection}});
}

// The 1-based line of `text` that holds `needle`.
int LineOf(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

class LuaE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    ASSERT_NE(services->redis_port, 0) << "redis-server is not installed: the harness has none";
    auto uri = testing::CreateScratchDatabase(*services, "lua_e2e");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    const std::string redis_uri =
        absl::StrCat("redis://", services->redis_host, ":", services->redis_port, "/", kRedisDb);
    auto client = RedisClient::Connect(redis_uri);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_.emplace(std::move(*client));
    ASSERT_TRUE(redis_->Command({"FLUSHDB"}).ok());

    toml_ = TestDomainToml(
        {.uri = uri_,
         .health_port = FreePort(),  // nobody listens: the event server is stopped
         .extra = absl::StrCat("\n[caches.default]\nprovider = \"redis\"\nURI = \"", redis_uri,
                               "\"\nTTL = 120\n", kLedgerProjections,
                               Projector("LedgerProjector", "Ledger"),
                               Projector("LedgerCacheProjector", "LedgerCache"), kEscapeHandler)});
    root_.Write("domain.toml", toml_);
    ASSERT_TRUE(daemon_.Start()) << "daemon did not come up: " << daemon_.process().Stderr();
  }

  void TearDown() override { EXPECT_NE(daemon_.Stop(), -1) << "daemon did not stop on SIGTERM"; }

  void Write(const std::string& stream, const std::string& type, const nlohmann::json& data) {
    auto written = testing::WriteMessage(*conn_, stream, type, data.dump());
    ASSERT_TRUE(written.ok()) << written.status();
  }

  // Two users; three transactions, one of a user who never registered (no row: nothing).
  void WriteHistory() {
    Write("test::user-1", "Test.Registered.v1", {{"user_id", "1"}, {"name", "John"}});
    Write("test::user-2", "Test.Registered.v1", {{"user_id", "2"}, {"name", "Jane"}});
    Write("test::transaction-1", "Test.Transacted.v1", {{"user_id", "1"}, {"amount", 100.1}});
    Write("test::transaction-2", "Test.Transacted.v1", {{"user_id", "1"}, {"amount", "-0.05"}});
    Write("test::transaction-3", "Test.Transacted.v1", {{"user_id", "3"}, {"amount", 7}});
  }

  std::string Query(const std::string& sql) {
    auto r = conn_->Exec(sql);
    if (!r.ok() || r->rows() != 1) return "<error: " + std::string(r.status().message()) + ">";
    return r->IsNull(0, 0) ? "NULL" : std::string(r->Get(0, 0));
  }
  std::string Ledger() {
    return Query(
        "SELECT string_agg(concat_ws('|', user_id, name, balance, days, last_day), ',' ORDER BY "
        "user_id) FROM ledger");
  }
  // The day of the first transaction, as Message DB stores its time (UTC).
  std::string Day() {
    return Query(
        "SELECT to_char(time, 'YYYY-MM-DD') FROM message_store.messages WHERE type = "
        "'Test.Transacted.v1' ORDER BY global_position LIMIT 1");
  }
  std::optional<std::string> Doc(const std::string& key) {
    auto values = redis_->GetMany({key});
    EXPECT_TRUE(values.ok()) << values.status();
    if (!values.ok()) return std::nullopt;
    return (*values)[0];
  }

  TempDir root_;
  TempDir logs_;
  std::string uri_;
  std::string toml_;
  std::optional<storage::PgConnection> conn_;
  std::optional<RedisClient> redis_;
  e2e::Daemon daemon_{root_.path(), logs_.path()};
};

TEST_F(LuaE2eTest, DatabaseAndCacheBackedProjections) {
  WriteHistory();
  const std::string day = Day();
  const std::string expected_ledger =
      absl::StrCat("1|John|100.05|{\"", day, "\": 2}|", day, ",2|Jane|0.00|{}");
  for (const char* strategy : {"--strategy=atomic", "--strategy=inplace"}) {
    for (const char* batch : {"--batch-size=1", "--batch-size=500"}) {
      SCOPED_TRACE(absl::StrCat(strategy, " ", batch));
      CliRun run = daemon_.Cli({"rebuild", "--projection=Ledger", strategy, batch});
      EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
      EXPECT_EQ(run.out,
                "Rebuilt projection 'Ledger': 5 events processed through 1 projector(s) across 2 "
                "category/categories.\n");
      EXPECT_EQ(Ledger(), expected_ledger);
    }
  }
  ASSERT_TRUE(redis_->WriteMany({{"ledger_cache:::stale", "{}"}}, 0).ok());
  CliRun run = daemon_.Cli({"rebuild", "--projection=LedgerCache", "--batch-size=2"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out,
            "Rebuilt projection 'LedgerCache': 5 events processed through 1 projector(s) across 2 "
            "category/categories.\n");
  EXPECT_EQ(Doc("ledger_cache:::1"),
            absl::StrCat(R"({"user_id":"1","name":"John","balance":100.05,"days":{")", day,
                         R"(":2},"last_day":")", day, R"("})"));
  EXPECT_EQ(Doc("ledger_cache:::2"),
            R"({"user_id":"2","name":"Jane","balance":0.00,"days":{},"last_day":null})");
  EXPECT_EQ(Doc("ledger_cache:::3"), std::nullopt);
  EXPECT_EQ(Doc("ledger_cache:::stale"), std::nullopt);
}

// Each escape attempt skips its own event, with the reason and the line of domain.toml, and
// keeps none of its writes (the row's name, the ghost rows); the other events are applied and
// the daemon goes on serving.
TEST_F(LuaE2eTest, SandboxEscapesSkipTheirEventAndTheDaemonStaysHealthy) {
  WriteHistory();
  const std::vector<std::string> kinds = {"os",  "io",   "require",  "load",
                                          "rep", "loop", "recursion"};
  for (const std::string& kind : kinds) {
    Write("test::transaction-9", "Test.Escape.v1", {{"user_id", "1"}, {"kind", kind}});
  }
  Write("test::transaction-1", "Test.Transacted.v1", {{"user_id", "1"}, {"amount", "0.95"}});
  const std::string handler = toml_.substr(toml_.find("on.Escape]"));
  const int base = LineOf(toml_, "on.Escape]") - 1;
  auto line = [&](const std::string& needle) { return base + LineOf(handler, needle); };
  const std::map<std::string, std::string> reasons = {
      {"os", absl::StrCat(line("os.execute"), ": attempt to index a nil value (global 'os')")},
      {"io", absl::StrCat(line("io.open"), ": attempt to index a nil value (global 'io')")},
      {"require",
       absl::StrCat(line("require(\"os\")"), ": attempt to call a nil value (global 'require')")},
      {"load",
       absl::StrCat(line("load(\"return"), ": attempt to call a nil value (global 'load')")},
      // An allocation that fails has no Lua position: the handler's first line.
      {"rep", absl::StrCat(line("local r = rows"), ": memory budget of 67108864 bytes exceeded")},
      {"loop", absl::StrCat(line("while true"), ": instruction budget of 10000000 exceeded")},
      {"recursion", absl::StrCat(line("local function f"), ": stack overflow")},
  };
  CliRun run = daemon_.Cli({"rebuild", "--projection=Ledger", "--json"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  nlohmann::json result = nlohmann::json::parse(Lines(run.out).back())["result"];
  EXPECT_EQ(result["events_dispatched"], 6) << result.dump();
  EXPECT_EQ(result["events_skipped"], 7) << result.dump();
  ASSERT_EQ(result["skip_reasons"].size(), 7u) << result.dump();
  for (size_t i = 0; i < kinds.size(); ++i) {
    const nlohmann::json& r = result["skip_reasons"][i];
    SCOPED_TRACE(kinds[i]);
    EXPECT_EQ(r["reason"], "domain.toml:" + reasons.at(kinds[i])) << r.dump();
    EXPECT_EQ(r["count"], 1);
    EXPECT_EQ(r["projector"], "LedgerProjector");
    EXPECT_EQ(r["event_type"], "Test.Escape.v1");
    ASSERT_EQ(r["first_positions"].size(), 1u);
    EXPECT_EQ(r["first_positions"][0], 6 + static_cast<int>(i)) << r.dump();
  }
  const std::string day = Day();
  EXPECT_EQ(Ledger(), absl::StrCat("1|John|101.00|{\"", day, "\": 3}|", day, ",2|Jane|0.00|{}"));
  EXPECT_EQ(access("/tmp/protean-admin-pwned", F_OK), -1);

  // The plain output says the same on stderr; then the daemon serves the next rebuilds.
  run = daemon_.Cli({"rebuild", "--projection=Ledger"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("  (7 events skipped)\n"));
  EXPECT_THAT(run.err,
              HasSubstr(absl::StrCat("  1 x LedgerProjector, Test.Escape.v1: domain.toml:",
                                     reasons.at("loop"), " (first at global position 11)")));
  EXPECT_TRUE(daemon_.running());
  run = daemon_.Cli({"rebuild", "--projection=LedgerCache"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(Doc("ledger_cache:::1").value_or(""), HasSubstr(R"("balance":101.00)"));
  EXPECT_EQ(daemon_.Cli({"projections"}).exit_code, 0);
}

// A syntax error fails the rebuild while planning, before anything is truncated, naming the
// line of domain.toml; the database- and the cache-backed projections keep their rows.
TEST_F(LuaE2eTest, ASyntaxErrorFailsBeforeAnythingIsTruncated) {
  WriteHistory();
  ASSERT_EQ(daemon_.Cli({"rebuild", "--projection=Ledger"}).exit_code, 0);
  ASSERT_EQ(daemon_.Cli({"rebuild", "--projection=LedgerCache"}).exit_code, 0);
  const std::string before = Ledger();
  const std::optional<std::string> cached = Doc("ledger_cache:::1");
  ASSERT_TRUE(cached.has_value());
  std::string broken = toml_;
  const std::string good = "r.last_day = day\n";
  for (size_t at = broken.find(good); at != std::string::npos; at = broken.find(good, at + 1)) {
    broken.replace(at, good.size(), "r.last_day = = day\n");
  }
  root_.Write("broken/domain.toml", broken);
  const int line = LineOf(broken, "r.last_day = = day");
  for (const char* projection : {"--projection=Ledger", "--projection=LedgerCache"}) {
    for (const char* strategy : {"--strategy=atomic", "--strategy=inplace"}) {
      if (std::string(projection) == "--projection=LedgerCache" &&
          std::string(strategy) == "--strategy=atomic") {
        continue;  // cache-backed projections are always rebuilt in place
      }
      SCOPED_TRACE(absl::StrCat(projection, " ", strategy));
      CliRun run = daemon_.Cli({"rebuild", "--domain=broken", projection, strategy});
      EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
      const std::string projector = std::string(projection) == "--projection=Ledger"
                                        ? "LedgerProjector"
                                        : "LedgerCacheProjector";
      const int at = std::string(projection) == "--projection=Ledger"
                         ? line
                         : LineOf(broken.substr(broken.find("[projectors.LedgerCacheProjector]")),
                                  "r.last_day = = day") +
                               LineOf(broken, "[projectors.LedgerCacheProjector]") - 1;
      EXPECT_EQ(run.out, absl::StrCat("Error: broken/domain.toml:", at, ": projector ", projector,
                                      ", event Transacted: unexpected symbol near '='\n"));
      EXPECT_EQ(Ledger(), before);
      EXPECT_EQ(Doc("ledger_cache:::1"), cached);
    }
  }
}

}  // namespace
}  // namespace protean_admin::e2e
