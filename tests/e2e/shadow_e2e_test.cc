// The shadow strategy through the real daemon and CLI (issue 17, docs/design.md §4): a fake
// Protean event server (an HTTP /livez the test starts and stops) and a writer appending
// events while the shadow is built; the live table is untouched until the swap, the rows
// after it equal a full rebuild at the second head, positions are handed off there; cancel,
// timeout and a killed daemon leave the live table intact and no shadow behind.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/pg_connection.h"
#include "tests/e2e/e2e_support.h"
#include "tests/harness/test_services.h"

namespace protean_admin::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr char kSubscriber[] = "app.projections.TransactionProjector";
constexpr char kShadowSchemas[] =
    "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'protean\\_admin\\_shadow\\_%'";
constexpr char kBalances[] =
    "SELECT string_agg(user_id || '|' || name || '|' || balance, ',' ORDER BY user_id) FROM "
    "balances";

class ShadowE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "shadow");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    health_port_ = FreePort();
    // The test domain, its projector handing off to Protean's subscriber, and a pacing
    // projector so that the build lasts while the writer appends.
    std::string toml =
        TestDomainToml({.uri = uri_, .health_port = health_port_, .extra = kPacingProjector});
    toml = absl::StrReplaceAll(toml, {{"aggregates = [\"Transaction\", \"User\"]",
                                       absl::StrCat("aggregates = [\"Transaction\", \"User\"]\n",
                                                    "subscriber = \"", kSubscriber, "\"")}});
    root_.Write("domain.toml", toml);
    ASSERT_TRUE(daemon_.Start()) << daemon_.process().Stderr();
    ASSERT_TRUE(WriteTestHistory(*conn_, 200, 4000).ok());
    ASSERT_TRUE(WritePacedEvents(*conn_, 400).ok());
    // A first rebuild (the server stopped), then the live table drifts as a running server
    // would make it: the shadow rebuild must replace these rows, and only at the swap.
    CliRun first = daemon_.Cli({"rebuild", "--projection=Balances"});
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    ASSERT_TRUE(conn_->Exec("UPDATE balances SET name = 'live' WHERE user_id = 'u1'").ok());
    live_before_ = Query(kBalances);
  }

  std::string Query(const std::string& sql) {
    auto r = conn_->Exec(sql);
    if (!r.ok() || r->rows() != 1) return "<error: " + std::string(r.status().message()) + ">";
    return r->IsNull(0, 0) ? "NULL" : std::string(r->Get(0, 0));
  }
  std::string Position(const std::string& category) {
    return Query(absl::StrCat(
        "SELECT coalesce((SELECT data->>'position' FROM message_store.messages WHERE "
        "stream_name = 'position-",
        kSubscriber, "-", category, "' ORDER BY global_position DESC LIMIT 1), 'none')"));
  }
  std::string Head(const std::string& category) {
    return Query(
        absl::StrCat("SELECT max(global_position) FROM message_store.messages WHERE "
                     "message_store.category(stream_name) = '",
                     category, "'"));
  }
  // Waits (up to 60 s) until the CLI says the shadow waits for the event server to stop.
  bool WaitForWaiting(Process& cli) {
    return WaitForStderr(cli, "waiting for the event server to stop");
  }
  // Waits (up to 60 s) until the CLI's stderr holds `text`; false when it ended first.
  bool WaitForStderr(Process& cli, const std::string& text) {
    for (int i = 0; i < 1200; ++i) {
      if (cli.Stderr().find(text) != std::string::npos) return true;
      if (!cli.running()) return false;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  // The id of the only running job ("" when none).
  std::string RunningJob() {
    CliRun jobs = daemon_.Cli({"jobs", "--running", "--json"});
    for (const std::string& line : Lines(jobs.out)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.contains("job_id")) return j.value("job_id", "");
    }
    return "";
  }
  // Waits (up to 30 s) until a session waits for a lock in `LOCK TABLE ...` (the swap).
  bool WaitForSwapLockWait() {
    for (int i = 0; i < 600; ++i) {
      if (Query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LOCK TABLE%balances%' "
                "AND wait_event_type = 'Lock'") != "0") {
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  // The live table as it was, no shadow schema, the first rebuild's positions.
  void ExpectLiveTableIntact(const std::string& user_position,
                             const std::string& transaction_position) {
    EXPECT_EQ(Query(kBalances), live_before_);
    EXPECT_EQ(Query(kShadowSchemas), "0");
    EXPECT_EQ(Position("test::user"), user_position);
    EXPECT_EQ(Position("test::transaction"), transaction_position);
  }

  // Waits (up to 60 s) until `jobs` shows job `job_id` waiting for the event server to stop.
  bool WaitForJobWaiting(const std::string& job_id) {
    for (int i = 0; i < 600; ++i) {
      CliRun jobs = daemon_.Cli({"jobs", "--running", "--json"});
      for (const std::string& line : Lines(jobs.out)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("job_id", "") == job_id &&
            j.value("waiting_since_unix_ms", int64_t{0}) > 0) {
          return true;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  TempDir root_;
  TempDir logs_;
  std::string uri_;
  std::optional<storage::PgConnection> conn_;
  int health_port_ = 0;
  std::string live_before_;
  Daemon daemon_{root_.path(), logs_.path()};
};

// Appends Transacted events (the application's command side keeps writing) until stopped.
class Writer {
 public:
  explicit Writer(const std::string& uri) {
    thread_ = std::thread([this, uri] {
      auto conn = storage::PgConnection::Connect(uri);
      if (!conn.ok()) return;
      while (!stop_.load()) {
        const int n = written_.load();
        auto r = conn->Exec(absl::StrCat(
            "SELECT message_store.write_message(gen_random_uuid()::text, 'test::transaction-w",
            n % 7, "', 'Test.Transacted.v1', jsonb_build_object('user_id', 'u", n % 13,
            "', 'amount', 0.25), '{}'::jsonb)"));
        if (r.ok()) written_.fetch_add(1);
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  ~Writer() { Stop(); }
  int Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return written_.load();
  }
  int written() const { return written_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> written_{0};
  std::thread thread_;
};

TEST_F(ShadowE2eTest, BuildsWhileTheServerRunsAndSwapsOnceItStops) {
  auto protean = std::make_unique<HealthServer>(health_port_, "HTTP/1.1 200 OK");
  Writer writer(uri_);
  auto cli = daemon_.SpawnCli(
      {"rebuild", "--projection=Balances", "--strategy=shadow", "--batch-size=50"});
  ASSERT_TRUE(WaitForWaiting(*cli)) << cli->Stdout() << cli->Stderr();
  // Built while the server ran: the live table has not been touched.
  EXPECT_EQ(Query(kBalances), live_before_);
  EXPECT_EQ(Query(kShadowSchemas), "1");
  const int during_build = writer.written();
  EXPECT_GT(during_build, 0);
  // The job says since when it waits.
  CliRun jobs = daemon_.Cli({"jobs", "--running", "--json"});
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  auto job = nlohmann::json::parse(Lines(jobs.out).front());
  EXPECT_EQ(job["strategy"], "shadow");
  EXPECT_GT(job["waiting_since_unix_ms"].get<int64_t>(), 0);
  // Still waiting while the server answers; the writer goes on.
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(cli->running());
  EXPECT_EQ(Query(kBalances), live_before_);
  // The orchestrator stops the server; the application stops writing.
  const int written = writer.Stop();
  EXPECT_GT(written, during_build);
  protean.reset();
  ASSERT_EQ(cli->Wait(60s), 0) << cli->Stdout() << cli->Stderr() << daemon_.process().Stderr();
  EXPECT_THAT(cli->Stdout(), HasSubstr("Rebuilt projection 'Balances': "));
  EXPECT_THAT(cli->Stderr(), HasSubstr("catch-up"));
  EXPECT_THAT(cli->Stderr(), HasSubstr("swap"));
  EXPECT_EQ(Query(kShadowSchemas), "0");
  // The daemon reports the server-stopped window.
  bool reported = false;
  for (const std::string& line : Lines(daemon_.process().Stderr())) {
    if (line.find("has been stopped for") == std::string::npos) continue;
    reported = true;
    std::cerr << line << "\n";
  }
  EXPECT_TRUE(reported);
  // Positions at the second head.
  EXPECT_EQ(Position("test::transaction"), Head("test::transaction"));
  EXPECT_EQ(Position("test::user"), Head("test::user"));
  // Exactly what a full rebuild at that head gives.
  const std::string swapped = Query(kBalances);
  EXPECT_NE(swapped, live_before_);
  CliRun full = daemon_.Cli({"rebuild", "--projection=Balances"});
  ASSERT_EQ(full.exit_code, 0) << full.out << full.err;
  EXPECT_EQ(Query(kBalances), swapped);
}

TEST_F(ShadowE2eTest, CancelWhileWaitingLeavesTheLiveTableAndNoShadow) {
  HealthServer protean(health_port_, "HTTP/1.1 200 OK");
  const std::string position = Position("test::user");  // the first rebuild's
  ASSERT_TRUE(conn_                                     // a later head
                  ->Exec("SELECT message_store.write_message(gen_random_uuid()::text, "
                         "'test::user-zz', 'Test.Registered.v1', '{\"user_id\": \"zz\", "
                         "\"name\": \"Z\", \"email\": \"z@x\"}'::jsonb, '{}'::jsonb)")
                  .ok());
  CliRun detached =
      daemon_.Cli({"rebuild", "--projection=Balances", "--strategy=shadow", "--detach"});
  ASSERT_EQ(detached.exit_code, 0) << detached.out << detached.err;
  const std::string job = Lines(detached.out).front();
  ASSERT_TRUE(WaitForJobWaiting(job));
  CliRun cancel = daemon_.Cli({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  EXPECT_EQ(cancel.out, "Job " + job + " cancelled.\n");
  CliRun watch = daemon_.Cli({"watch", job});
  EXPECT_EQ(watch.exit_code, 1);
  EXPECT_THAT(watch.out, HasSubstr("cancelled"));
  EXPECT_EQ(Query(kBalances), live_before_);
  EXPECT_EQ(Query(kShadowSchemas), "0");
  EXPECT_EQ(Position("test::user"), position);
  EXPECT_NE(Position("test::user"), Head("test::user"));
}

TEST_F(ShadowE2eTest, WaitTimeoutEndsTheJobAndDropsTheShadow) {
  HealthServer protean(health_port_, "HTTP/1.1 200 OK");
  CliRun run =
      daemon_.Cli({"rebuild", "--projection=Balances", "--strategy=shadow", "--wait-timeout=1"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("did not stop within 1 s"));
  EXPECT_THAT(run.err, HasSubstr("waiting for the event server to stop"));
  EXPECT_EQ(Query(kBalances), live_before_);
  EXPECT_EQ(Query(kShadowSchemas), "0");
}

TEST_F(ShadowE2eTest, AKilledDaemonsShadowIsRemovedByTheNextRebuild) {
  auto protean = std::make_unique<HealthServer>(health_port_, "HTTP/1.1 200 OK");
  auto cli = daemon_.SpawnCli({"rebuild", "--projection=Balances", "--strategy=shadow"});
  ASSERT_TRUE(WaitForWaiting(*cli)) << cli->Stdout() << cli->Stderr();
  daemon_.process().Signal(SIGKILL);
  EXPECT_NE(cli->Wait(30s), 0);
  EXPECT_EQ(Query(kShadowSchemas), "1");  // the orphan
  EXPECT_EQ(Query(kBalances), live_before_);
  protean.reset();
  ASSERT_TRUE(daemon_.Start()) << daemon_.process().Stderr();
  CliRun run = daemon_.Cli({"rebuild", "--projection=Balances"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("removed the orphan shadow schema"));
  EXPECT_EQ(Query(kShadowSchemas), "0");
}

// A real fault in the catch-up: an event the handler rejects (amount "abc"), written while
// the server still runs, after the first head; with --strict the skip fails the rebuild.
TEST_F(ShadowE2eTest, AFailingCatchUpLeavesTheLiveTableAndNoShadow) {
  const std::string user_position = Position("test::user");
  const std::string transaction_position = Position("test::transaction");
  auto protean = std::make_unique<HealthServer>(health_port_, "HTTP/1.1 200 OK");
  auto cli =
      daemon_.SpawnCli({"rebuild", "--projection=Balances", "--strategy=shadow", "--strict"});
  ASSERT_TRUE(WaitForWaiting(*cli)) << cli->Stdout() << cli->Stderr();
  ASSERT_TRUE(conn_
                  ->Exec("SELECT message_store.write_message(gen_random_uuid()::text, "
                         "'test::transaction-bad', 'Test.Transacted.v1', '{\"user_id\": \"u1\", "
                         "\"amount\": \"abc\"}'::jsonb, '{}'::jsonb)")
                  .ok());
  protean.reset();
  EXPECT_EQ(cli->Wait(60s), 1) << cli->Stdout() << cli->Stderr();
  EXPECT_THAT(cli->Stderr(), HasSubstr("catch-up"));
  EXPECT_THAT(cli->Stdout(), HasSubstr("the shadow was dropped: the projection is as it was"));
  ExpectLiveTableIntact(user_position, transaction_position);
}

// A real fault in the swap: another session holds a SHARE lock on the live table and the
// database URI sets lock_timeout: the swap gives up, rolls back and drops the shadow.
TEST_F(ShadowE2eTest, ASwapThatCannotLockTheLiveTableLeavesItIntactAndNoShadow) {
  const std::string user_position = Position("test::user");
  const std::string transaction_position = Position("test::transaction");
  std::string toml = ReadFileText(root_.path() + "/domain.toml");
  const std::string database =
      "[databases.default]\nprovider = \"postgresql\"\ndatabase_uri = \"" + uri_;
  ASSERT_NE(toml.find(database), std::string::npos);
  toml.replace(toml.find(database), database.size(),
               database + "?options=-c%20lock_timeout%3D1500");
  root_.Write("domain.toml", toml);
  auto blocker = storage::PgConnection::Connect(uri_);
  ASSERT_TRUE(blocker.ok());
  auto protean = std::make_unique<HealthServer>(health_port_, "HTTP/1.1 200 OK");
  auto cli = daemon_.SpawnCli({"rebuild", "--projection=Balances", "--strategy=shadow"});
  ASSERT_TRUE(WaitForWaiting(*cli)) << cli->Stdout() << cli->Stderr();
  ASSERT_TRUE(blocker->Exec("BEGIN; LOCK TABLE balances IN SHARE MODE").ok());
  protean.reset();
  EXPECT_EQ(cli->Wait(60s), 1) << cli->Stdout() << cli->Stderr();
  ASSERT_TRUE(blocker->Exec("ROLLBACK").ok());
  EXPECT_THAT(cli->Stderr(), HasSubstr("swap"));
  EXPECT_THAT(cli->Stdout(), HasSubstr("could not lock"));
  EXPECT_THAT(cli->Stdout(), HasSubstr("lock_timeout"));
  ExpectLiveTableIntact(user_position, transaction_position);
}

// Cancel while the swap waits for another session's lock on the live table.
TEST_F(ShadowE2eTest, CancelWhileTheSwapWaitsForTheLiveTablesLock) {
  const std::string user_position = Position("test::user");
  const std::string transaction_position = Position("test::transaction");
  auto blocker = storage::PgConnection::Connect(uri_);
  ASSERT_TRUE(blocker.ok());
  auto protean = std::make_unique<HealthServer>(health_port_, "HTTP/1.1 200 OK");
  auto cli = daemon_.SpawnCli({"rebuild", "--projection=Balances", "--strategy=shadow"});
  ASSERT_TRUE(WaitForWaiting(*cli)) << cli->Stdout() << cli->Stderr();
  const std::string job = RunningJob();
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(blocker->Exec("BEGIN; LOCK TABLE balances IN SHARE MODE").ok());
  protean.reset();
  EXPECT_TRUE(WaitForSwapLockWait()) << cli->Stderr();
  CliRun cancel = daemon_.Cli({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  EXPECT_EQ(cli->Wait(30s), 1) << cli->Stdout() << cli->Stderr();  // before the lock is free
  ASSERT_TRUE(blocker->Exec("ROLLBACK").ok());
  EXPECT_THAT(cli->Stdout(), HasSubstr("cancelled"));
  ExpectLiveTableIntact(user_position, transaction_position);
}

// Cancel during a catch-up made long by paced events written while the server ran.
TEST_F(ShadowE2eTest, CancelDuringTheCatchUpLeavesTheLiveTableAndNoShadow) {
  const std::string user_position = Position("test::user");
  const std::string transaction_position = Position("test::transaction");
  auto protean = std::make_unique<HealthServer>(health_port_, "HTTP/1.1 200 OK");
  auto cli = daemon_.SpawnCli(
      {"rebuild", "--projection=Balances", "--strategy=shadow", "--batch-size=20"});
  ASSERT_TRUE(WaitForWaiting(*cli)) << cli->Stdout() << cli->Stderr();
  const std::string job = RunningJob();
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(WritePacedEvents(*conn_, 3000).ok());  // >= 6 s of catch-up
  protean.reset();
  ASSERT_TRUE(WaitForStderr(*cli, "catch-up")) << cli->Stdout() << cli->Stderr();
  CliRun cancel = daemon_.Cli({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  EXPECT_EQ(cli->Wait(60s), 1) << cli->Stdout() << cli->Stderr();
  EXPECT_THAT(cli->Stdout(), HasSubstr("cancelled"));
  EXPECT_THAT(cli->Stderr(), ::testing::Not(HasSubstr("swap")));
  ExpectLiveTableIntact(user_position, transaction_position);
}

// kill -9 of the daemon during the catch-up: the live table is intact, the orphan shadow is
// removed by the next rebuild after a restart.
TEST_F(ShadowE2eTest, AKilledDaemonDuringTheCatchUpLeavesTheLiveTableAndTheOrphanIsRemoved) {
  const std::string user_position = Position("test::user");
  const std::string transaction_position = Position("test::transaction");
  auto protean = std::make_unique<HealthServer>(health_port_, "HTTP/1.1 200 OK");
  auto cli = daemon_.SpawnCli(
      {"rebuild", "--projection=Balances", "--strategy=shadow", "--batch-size=20"});
  ASSERT_TRUE(WaitForWaiting(*cli)) << cli->Stdout() << cli->Stderr();
  ASSERT_TRUE(WritePacedEvents(*conn_, 3000).ok());
  protean.reset();
  ASSERT_TRUE(WaitForStderr(*cli, "catch-up")) << cli->Stdout() << cli->Stderr();
  daemon_.process().Signal(SIGKILL);
  EXPECT_NE(cli->Wait(30s), 0);
  EXPECT_EQ(Query(kShadowSchemas), "1");  // the orphan
  EXPECT_EQ(Query(kBalances), live_before_);
  EXPECT_EQ(Position("test::user"), user_position);
  EXPECT_EQ(Position("test::transaction"), transaction_position);
  ASSERT_TRUE(daemon_.Start()) << daemon_.process().Stderr();
  // The server stays stopped: the next shadow rebuild goes straight through.
  CliRun again = daemon_.Cli({"rebuild", "--projection=Balances", "--strategy=shadow"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_THAT(again.err, HasSubstr("removed the orphan shadow schema"));
  EXPECT_EQ(Query(kShadowSchemas), "0");
  EXPECT_EQ(Position("test::transaction"), Head("test::transaction"));
}

// Two shadow rebuilds of different projections at once, both waiting for the same server:
// each one's orphan sweep leaves the other's live shadow alone; both swap.
TEST_F(ShadowE2eTest, TwoConcurrentShadowRebuildsOfDifferentProjectionsBothSucceed) {
  std::string toml = ReadFileText(root_.path() + "/domain.toml");
  root_.Write("domain.toml", toml + kUserDirectoryProjection + kUserDirectoryProjector);
  CliRun first = daemon_.Cli({"rebuild", "--projection=UserDirectory"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  ASSERT_TRUE(conn_->Exec("DELETE FROM user_directory WHERE user_id = 'u1'").ok());
  auto protean = std::make_unique<HealthServer>(health_port_, "HTTP/1.1 200 OK");
  auto balances = daemon_.SpawnCli({"rebuild", "--projection=Balances", "--strategy=shadow"});
  auto directory = daemon_.SpawnCli({"rebuild", "--projection=UserDirectory", "--strategy=shadow"});
  ASSERT_TRUE(WaitForWaiting(*balances)) << balances->Stdout() << balances->Stderr();
  ASSERT_TRUE(WaitForWaiting(*directory)) << directory->Stdout() << directory->Stderr();
  EXPECT_EQ(Query(kShadowSchemas), "2");
  EXPECT_EQ(Query(kBalances), live_before_);
  protean.reset();
  EXPECT_EQ(balances->Wait(120s), 0) << balances->Stdout() << balances->Stderr();
  EXPECT_EQ(directory->Wait(120s), 0) << directory->Stdout() << directory->Stderr();
  EXPECT_EQ(Query(kShadowSchemas), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM user_directory"), "200");
  const std::string swapped = Query(kBalances);
  CliRun full = daemon_.Cli({"rebuild", "--projection=Balances"});
  ASSERT_EQ(full.exit_code, 0) << full.out << full.err;
  EXPECT_EQ(Query(kBalances), swapped);
}

TEST_F(ShadowE2eTest, RefusedForAllProjectionsAndABadTimeoutIsAUsageError) {
  CliRun all = daemon_.Cli({"rebuild", "--strategy=shadow"});
  EXPECT_EQ(all.exit_code, 1);
  EXPECT_THAT(all.out, HasSubstr("one projection at a time"));
  CliRun usage = daemon_.Cli({"rebuild", "--projection=Balances", "--wait-timeout=-1"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace protean_admin::e2e
