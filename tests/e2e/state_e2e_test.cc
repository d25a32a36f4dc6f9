// Locks, the audit trail and partial results end to end (issue 14): the real daemon(s) and
// CLI. Locks guard tables across domains; a job whose PostgreSQL restarts is recorded as
// failed; a second daemon of the same (default) name leaves the first one's jobs alone; an
// in-place rebuild ended by Ctrl-C, `cancel`, SIGTERM or SIGKILL is reported partial.

#include <signal.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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
using ::testing::Not;
using ::testing::StartsWith;

constexpr int kUsers = 1000;
constexpr int kTransactions = 20000;
constexpr int kPaced = 3000;  // at least 6 s of replay

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    UseServices(*services);
  }

  // A scratch database on `services`, and the test domain (paced) in the domain root.
  void UseServices(const testing::TestServices& services) {
    auto uri = testing::CreateScratchDatabase(services, "state");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    root_.Write(
        "domain.toml",
        TestDomainToml({.uri = uri_, .health_port = health_port_, .extra = kPacingProjector}));
  }

  // The paced events first, then the users and their transactions: a rebuild stopped while
  // it is paced has written no row yet.
  void WriteHistory() {
    absl::Status paced = WritePacedEvents(*conn_, kPaced);
    ASSERT_TRUE(paced.ok()) << paced;
    absl::Status written = WriteTestHistory(*conn_, kUsers, kTransactions);
    ASSERT_TRUE(written.ok()) << written;
  }

  void StartDaemon(Daemon& daemon, const std::vector<std::string>& extra = {}) {
    ASSERT_TRUE(daemon.Start(extra)) << "daemon did not come up: " << daemon.process().Stderr();
  }

  // A detached rebuild of Balances (20 events a batch); its job id.
  std::string StartDetached(const Daemon& daemon, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"rebuild", "--projection=Balances", "--detach",
                                     "--batch-size=20"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun run = daemon.Cli(args);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    return Lines(run.out).empty() ? "" : Lines(run.out).front();
  }

  // The jobs a daemon lists (`jobs --json` plus `extra`), by id.
  std::map<std::string, nlohmann::json> Jobs(const Daemon& daemon,
                                             std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"jobs", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun run = daemon.Cli(args);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    return JobsById(run.out);
  }

  // The first job a daemon lists as running (for a rebuild started by a CLI in the
  // foreground); "" when none appears within 10 s.
  std::string WaitForRunningJob(const Daemon& daemon) {
    for (int i = 0; i < 400; ++i) {
      auto running = Jobs(daemon, {"--running"});
      if (!running.empty()) return running.begin()->first;
      std::this_thread::sleep_for(25ms);
    }
    return "";
  }

  // Polls the job's audit row until `done` holds (at most `timeout`); the last row read.
  std::string WaitForAuditRow(const std::string& job_id,
                              const std::function<bool(const std::string&)>& done,
                              std::chrono::seconds timeout = 30s) {
    std::string row;
    for (auto until = std::chrono::steady_clock::now() + timeout;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
      row = AuditRow(*conn_, job_id);
      if (row.rfind("<error", 0) == 0) ReconnectAfterRestart();
      if (done(row)) break;
    }
    return row;
  }

  void ReconnectAfterRestart() {
    auto conn = storage::PgConnection::Connect(uri_);
    if (conn.ok()) conn_.emplace(std::move(*conn));
  }

  // PostgreSQL ends a killed daemon's sessions (and releases their locks) once it notices
  // their sockets closed; waits (up to 10 s) until the test's session is the database's only
  // one.
  bool WaitUntilOnlyThisSessionIsLeft() {
    for (int i = 0; i < 100; ++i) {
      auto r = conn_->Exec(
          "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
          "AND pid <> pg_backend_pid()");
      if (r.ok() && r->Get(0, 0) == "0") return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  int64_t BalancesRows() {
    auto r = conn_->Exec("SELECT count(*) FROM balances");
    return r.ok() ? std::stoll(std::string(r->Get(0, 0))) : -1;
  }

  TempDir root_;
  TempDir logs_;
  int health_port_ = FreePort();  // nobody listens: the event server is stopped
  std::string uri_;
  std::optional<storage::PgConnection> conn_;
  Daemon daemon_{root_.path(), logs_.path()};
};

// ---- Locks guard what is written (point 2) ----

// Domain "a" rebuilds Balances (table balances) slowly. Domain "b", on the same database, has
// a Balances of its own in table balances_b, which must not wait, and a Ledger writing a's
// table balances, which must be refused while a's rebuild runs.
TEST_F(StateTest, LocksGuardTablesNotProjectionNamesAcrossDomains) {
  WriteHistory();
  root_.Write(
      "a/domain.toml",
      TestDomainToml({.uri = uri_, .health_port = health_port_, .extra = kPacingProjector}));
  root_.Write("b/domain.toml", TestDomainToml({.uri = uri_,
                                               .health_port = health_port_,
                                               .balances_table = "balances_b",
                                               .extra = R"toml(
[projections.Ledger]
key = "user_id"
table = "balances"

[projectors.LedgerProjector]
projector_for = "Ledger"
aggregates = ["User"]

[projectors.LedgerProjector.on.Registered]
key = ":user_id"
set = { name = ":name" }
)toml"}));
  StartDaemon(daemon_);
  std::string job = StartDetached(daemon_, {"--domain=a"});
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(daemon_.WaitForReplay(job));

  CliRun same_name = daemon_.Cli({"rebuild", "--domain=b", "--projection=Balances"});
  EXPECT_EQ(same_name.exit_code, 0) << same_name.out << same_name.err;
  EXPECT_EQ(same_name.out, absl::StrCat("Rebuilt projection 'Balances': ", kUsers + kTransactions,
                                        " events processed through 1 projector(s) across 2 "
                                        "category/categories.\n"));
  CliRun same_table = daemon_.Cli({"rebuild", "--domain=b", "--projection=Ledger"});
  EXPECT_EQ(same_table.exit_code, 1) << same_table.out << same_table.err;
  EXPECT_THAT(same_table.out, StartsWith("Error: Projection 'Ledger' is already being rebuilt: "
                                         "another rebuild holds the lock on what it writes "
                                         "(protean-admin:table:"));
  EXPECT_THAT(same_table.out, HasSubstr("/public.balances)"));

  ASSERT_EQ(Jobs(daemon_)[job]["state"], "running") << "a's rebuild ended too early";
  CliRun a = daemon_.Cli({"watch", job});
  EXPECT_EQ(a.exit_code, 0) << a.out << a.err;
  EXPECT_EQ(BalancesRows(), kUsers);
}

// ---- The audit trail (point 3) ----

// PostgreSQL restarts under a running rebuild (a server of the test's own: the shared scratch
// server serves tests running in parallel). The job fails; its row says failed, with the
// error, although the daemon's audit session died with the restart.
TEST_F(StateTest, AJobWhosePostgresRestartsIsRecordedAsFailed) {
  testing::PrivatePostgres postgres;
  absl::Status started = postgres.Start();
  ASSERT_TRUE(started.ok()) << started;
  UseServices(postgres.services());
  WriteHistory();
  StartDaemon(daemon_);
  std::string job = StartDetached(daemon_);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(daemon_.WaitForReplay(job));
  ASSERT_THAT(AuditRow(*conn_, job), StartsWith("running|"));

  absl::Status restarted = postgres.Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  std::string row = WaitForAuditRow(job, [](const std::string& r) {
    return r.rfind("running|", 0) != 0 && r.rfind("<", 0) != 0;
  });
  EXPECT_THAT(row, StartsWith("failed|"));
  EXPECT_THAT(row, HasSubstr("connection"));
  EXPECT_THAT(row, HasSubstr("|true"));  // finished_at set
  auto jobs = Jobs(daemon_);
  ASSERT_EQ(jobs.count(job), 1u);
  EXPECT_EQ(jobs[job]["state"], "failed");
  std::cerr << "audit row after the restart: " << row << "\n";
  for (const std::string& line : Lines(daemon_.process().Stderr())) {
    if (line.find("audit trail") != std::string::npos) std::cerr << "daemon: " << line << "\n";
  }
}

// Two daemons with the default --daemon-name (the host name) on one audit database: the
// second one does not take the first one's live job for an interrupted one; once the first
// one is killed, the second one marks its running job interrupted.
TEST_F(StateTest, ASecondDaemonOfTheSameNameLeavesTheFirstsJobsAlone) {
  WriteHistory();
  StartDaemon(daemon_);
  std::string job = StartDetached(daemon_);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(daemon_.WaitForReplay(job));

  Daemon second(root_.path(), logs_.path());
  StartDaemon(second);
  auto seen = Jobs(second, {"--domain", "."});  // opens the audit table
  ASSERT_EQ(seen.count(job), 1u);
  EXPECT_EQ(seen[job]["state"], "running");
  EXPECT_THAT(AuditRow(*conn_, job), StartsWith("running|"));
  CliRun watched = daemon_.Cli({"watch", job});
  EXPECT_EQ(watched.exit_code, 0) << watched.out << watched.err;
  EXPECT_THAT(AuditRow(*conn_, job), StartsWith("succeeded|"));

  std::string killed = StartDetached(daemon_);
  ASSERT_FALSE(killed.empty());
  ASSERT_TRUE(daemon_.WaitForReplay(killed));
  daemon_.process().Signal(SIGKILL);
  daemon_.process().Wait(10s);
  std::string state;
  for (int i = 0; i < 100 && state != "interrupted"; ++i) {
    auto jobs = Jobs(second);
    state = jobs.count(killed) ? jobs[killed]["state"].get<std::string>() : "<absent>";
    if (state != "interrupted") std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(state, "interrupted");
  EXPECT_THAT(AuditRow(*conn_, killed), HasSubstr("stopped (or lost this database)"));
  EXPECT_THAT(AuditRow(*conn_, job), StartsWith("succeeded|"));
}

// kill -9 mid in-place rebuild: the next daemon marks the row interrupted at start-up
// (--audit-database) and says the projection may be partial.
TEST_F(StateTest, AKilledInPlaceRebuildIsMarkedPossiblyPartial) {
  WriteHistory();
  StartDaemon(daemon_, {"--audit-database", uri_});
  std::string job = StartDetached(daemon_, {"--strategy=inplace"});
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(daemon_.WaitForReplay(job));
  daemon_.process().Signal(SIGKILL);
  daemon_.process().Wait(10s);
  EXPECT_THAT(AuditRow(*conn_, job), StartsWith("running|"));
  ASSERT_TRUE(WaitUntilOnlyThisSessionIsLeft());
  StartDaemon(daemon_, {"--audit-database", uri_});
  std::string row = AuditRow(*conn_, job);  // marked at start-up, before any request
  EXPECT_THAT(row, StartsWith("interrupted|"));
  EXPECT_THAT(row, HasSubstr("the in-place rebuild may have left the projection partial"));
}

// ---- Partial in-place results (point 4) ----

TEST_F(StateTest, CtrlCOnAnInPlaceRebuildReportsItPartial) {
  WriteHistory();
  StartDaemon(daemon_);
  auto cli = daemon_.SpawnCli(
      {"rebuild", "--projection=Balances", "--strategy=inplace", "--batch-size=20"});
  std::string job = WaitForRunningJob(daemon_);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(daemon_.WaitForReplay(job));
  cli->Signal(SIGINT);
  EXPECT_EQ(cli->Wait(60s), 1) << cli->Stdout() << cli->Stderr();
  std::string err = cli->Stderr();
  EXPECT_THAT(err, HasSubstr("Interrupted: cancelling job " + job +
                             " and waiting for it to end (in place, nothing is rolled back"));
  EXPECT_THAT(err, Not(HasSubstr("rolls back")));
  EXPECT_THAT(err, HasSubstr("Projection 'Balances' is left partial: its in-place rebuild "
                             "ended after "));
  EXPECT_THAT(cli->Stdout(), StartsWith("Error: Rebuild of projection 'Balances' was cancelled "
                                        "after "));
  EXPECT_THAT(cli->Stdout(), HasSubstr("the in-place rebuild left the projection partial\n"));
  auto jobs = Jobs(daemon_);
  ASSERT_EQ(jobs.count(job), 1u);
  EXPECT_EQ(jobs[job]["state"], "cancelled");
  EXPECT_EQ(jobs[job]["results"][0]["partial"], true);
  std::string row = AuditRow(*conn_, job);
  EXPECT_THAT(row, StartsWith("cancelled|"));
  EXPECT_THAT(row, HasSubstr("left the projection partial"));
  EXPECT_LT(BalancesRows(), kUsers);
  CliRun table = daemon_.Cli({"jobs"});
  EXPECT_THAT(table.out, HasSubstr("left partial; "));
}

TEST_F(StateTest, CancelAndSigtermOfInPlaceRebuildsReportThemPartial) {
  WriteHistory();
  StartDaemon(daemon_);
  std::string job = StartDetached(daemon_, {"--strategy=inplace"});
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(daemon_.WaitForReplay(job));
  CliRun cancel = daemon_.Cli({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  EXPECT_EQ(cancel.out, "Job " + job + " cancelled.\n");
  EXPECT_THAT(cancel.err, HasSubstr("Projection 'Balances' is left partial"));
  EXPECT_THAT(AuditRow(*conn_, job), HasSubstr("left the projection partial"));

  auto cli = daemon_.SpawnCli(
      {"rebuild", "--projection=Balances", "--strategy=inplace", "--batch-size=20"});
  std::string stopped = WaitForRunningJob(daemon_);
  ASSERT_FALSE(stopped.empty());
  ASSERT_TRUE(daemon_.WaitForReplay(stopped));
  EXPECT_EQ(daemon_.Stop(), 0) << daemon_.process().Stderr();
  EXPECT_EQ(cli->Wait(20s), 1);
  EXPECT_THAT(cli->Stdout(), HasSubstr("shutting down"));
  EXPECT_THAT(cli->Stdout(), HasSubstr("left the projection partial"));
  EXPECT_THAT(cli->Stderr(), HasSubstr("Projection 'Balances' is left partial"));
  std::string row = AuditRow(*conn_, stopped);
  EXPECT_THAT(row, StartsWith("interrupted|"));
  EXPECT_THAT(row, HasSubstr("left the projection partial"));
}

}  // namespace
}  // namespace protean_admin::e2e
