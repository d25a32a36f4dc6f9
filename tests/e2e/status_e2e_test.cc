// `protean-admin status` end to end (issue 18.4-18.6): the real protean-admind and
// protean-admin on a scratch Message DB. After a rebuild the projection is caught up (lag 0,
// its rows, ok); events written afterwards make it lagging by exactly their number; --json
// prints one envelope object on stdout. A projector on Redis stream subscriptions gets a
// hand-off line instead of positions and reads as unknown; a URI built from a default says
// so when it fails.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/pg_connection.h"
#include "tests/e2e/e2e_support.h"
#include "tests/harness/test_services.h"

#ifndef PROTEAN_ADMIND_BINARY
#error "PROTEAN_ADMIND_BINARY must be defined by the build"
#endif

namespace protean_admin::e2e {
namespace {

using ::testing::HasSubstr;

// Feed: a projection whose projector reads Redis streams.
constexpr char kFeed[] = R"toml(
[projections.Feed]
key = "user_id"
columns = { user_id = "varchar(255)", name = "varchar(255)" }

[projectors.FeedProjector]
projector_for = "Feed"
aggregates = ["User"]
subscriber = "app.FeedProjector"
subscription_type = "stream"

[projectors.FeedProjector.on.Registered]
key = ":user_id"
set = { name = ":name" }
)toml";

class StatusE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "status_e2e");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    std::string toml = TestDomainToml({.uri = uri_, .health_port = FreePort(), .extra = kFeed});
    toml = absl::StrReplaceAll(toml, {{"aggregates = [\"Transaction\", \"User\"]\n",
                                       "aggregates = [\"Transaction\", \"User\"]\nsubscriber = "
                                       "\"app.TransactionProjector\"\n"}});
    root_.Write("domain.toml", toml);
    ASSERT_TRUE(daemon_.Start()) << "daemon did not come up: " << daemon_.process().Stderr();
  }

  void TearDown() override { EXPECT_NE(daemon_.Stop(), -1) << "daemon did not stop on SIGTERM"; }

  void Write(const std::string& stream, const std::string& type, const nlohmann::json& data) {
    auto written = testing::WriteMessage(*conn_, stream, type, data.dump());
    ASSERT_TRUE(written.ok()) << written.status();
  }
  void Transact(const std::string& id, double amount) {
    Write("test::transaction-" + id, "Test.Transacted.v1", {{"user_id", id}, {"amount", amount}});
  }

  // `status --json` parsed: stdout must be exactly one JSON object.
  nlohmann::json StatusJson(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"status", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun run = daemon_.Cli(args);
    last_exit_ = run.exit_code;
    nlohmann::json j = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "stdout is not one JSON object: " << run.out;
    return j;
  }
  static const nlohmann::json& Projection(const nlohmann::json& envelope, const std::string& name) {
    for (const nlohmann::json& p : envelope["data"]["projections"]) {
      if (p["projection_name"] == name) return p;
    }
    static const nlohmann::json kNone;
    ADD_FAILURE() << "no projection " << name << " in " << envelope.dump();
    return kNone;
  }

  TempDir root_;
  TempDir logs_;
  std::string uri_;
  std::optional<storage::PgConnection> conn_;
  int last_exit_ = -1;
  e2e::Daemon daemon_{root_.path(), logs_.path()};
};

TEST_F(StatusE2eTest, OkAfterRebuildThenLaggingByTheNewEvents) {
  Write("test::user-1", "Test.Registered.v1", {{"user_id", "1"}, {"name", "John"}});
  Write("test::user-2", "Test.Registered.v1", {{"user_id", "2"}, {"name", "Jane"}});
  Transact("1", 10);
  CliRun run = daemon_.Cli({"rebuild", "--projection=Balances"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;

  nlohmann::json j = StatusJson({"--projection=Balances"});
  EXPECT_EQ(last_exit_, 0);
  EXPECT_EQ(j["version"], "0.1.0");
  EXPECT_EQ(j["status"], "pass");
  EXPECT_TRUE(j["diagnostics"].is_array());
  ASSERT_EQ(j["data"]["projections"].size(), 1u);
  const nlohmann::json& b = Projection(j, "Balances");
  EXPECT_EQ(b["lag"], 0);
  EXPECT_EQ(b["row_count"], 2);
  EXPECT_EQ(b["status"], "ok");
  EXPECT_EQ(b["staleness_seconds"], 0.0);
  EXPECT_EQ(b["projectors"], nlohmann::json::array({"TransactionProjector"}));
  EXPECT_TRUE(b["last_updated"].is_string());

  Transact("1", 1);
  Transact("2", 2);
  Transact("2", 3);
  j = StatusJson();
  EXPECT_EQ(last_exit_, 0);
  EXPECT_EQ(j["status"], "pass");
  const nlohmann::json& l = Projection(j, "Balances");
  EXPECT_EQ(l["lag"], 3);
  EXPECT_EQ(l["status"], "lagging");
  EXPECT_EQ(l["row_count"], 2);
  EXPECT_TRUE(l["staleness_seconds"].is_number());

  // The table on a terminal (here a pipe: the same text).
  run = daemon_.Cli({"status"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("PROJECTION"));
  EXPECT_THAT(run.out, HasSubstr("lagging"));
  EXPECT_THAT(run.out, HasSubstr("2 projection(s)"));
}

TEST_F(StatusE2eTest, StreamSubscriptionProjector) {
  Write("test::user-1", "Test.Registered.v1", {{"user_id", "1"}, {"name", "John"}});
  CliRun run = daemon_.Cli({"rebuild", "--projection=Feed"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("hand-off: [Feed] Projector 'FeedProjector' reads Redis streams "
                                 "(subscription_type = \"stream\"): no Message DB position "
                                 "written"));
  auto positions = conn_->Exec(
      "SELECT count(*) FROM message_store.messages WHERE stream_name LIKE "
      "'position-app.FeedProjector-%'");
  ASSERT_TRUE(positions.ok()) << positions.status();
  EXPECT_EQ(positions->Get(0, 0), "0");

  run = daemon_.Cli({"rebuild", "--projection=Feed", "--json"});
  EXPECT_THAT(run.out, HasSubstr("\"hand_off_notes\":[\"Projector 'FeedProjector' reads"));

  nlohmann::json j = StatusJson({"--projection=Feed"});
  const nlohmann::json& f = Projection(j, "Feed");
  EXPECT_EQ(f["status"], "unknown");
  EXPECT_TRUE(f["lag"].is_null());
  EXPECT_EQ(f["row_count"], 1);
  ASSERT_FALSE(j["diagnostics"].empty());
  EXPECT_THAT(j["diagnostics"][0]["message"].get<std::string>(),
              HasSubstr("not tracked in the Message DB"));
}

TEST_F(StatusE2eTest, ErrorsAreOneEnvelope) {
  nlohmann::json j = StatusJson({"--projection=Nope"});
  EXPECT_EQ(last_exit_, 1);
  EXPECT_EQ(j["status"], "error");
  EXPECT_EQ(j["data"]["code"], "NOT_FOUND");
  EXPECT_EQ(j["data"]["error"], "Projection 'Nope' not found");

  CliRun run = daemon_.Cli({"status", "--projection=Nope"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr("Projection 'Nope' not found"));
}

TEST_F(StatusE2eTest, UriFromADefaultSaysSo) {
  std::string toml = TestDomainToml(
      {.uri = "postgresql://127.0.0.1:1/none?connect_timeout=2", .health_port = FreePort()});
  toml = absl::StrReplaceAll(
      toml, {{"database_uri = \"postgresql://127.0.0.1:1/none?connect_timeout=2\"\n\n[databases",
              "database_uri = \"${PA_STATUS_E2E_UNSET_URL|postgresql://127.0.0.1:1/"
              "none?connect_timeout=2}\"\n\n[databases"}});
  root_.Write("bad/domain.toml", toml);
  nlohmann::json j = StatusJson({"--domain=bad"});
  EXPECT_EQ(j["status"], "error");
  EXPECT_THAT(j["data"]["error"].get<std::string>(), HasSubstr("(the URI is from the default in "));
  EXPECT_THAT(j["data"]["error"].get<std::string>(),
              HasSubstr("domain.toml:7; PA_STATUS_E2E_UNSET_URL is not set in protean-admind's "
                        "environment)"));
}

}  // namespace
}  // namespace protean_admin::e2e
