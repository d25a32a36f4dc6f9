// The audit trail of rebuilds (protean_admin.rebuilds) on the scratch PostgreSQL.

#include "storage/audit_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/harness/test_services.h"

namespace protean_admin::storage {
namespace {

class AuditStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "audit", /*message_store=*/false);
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto store = AuditStore::Open(uri_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  RebuildRecord Record(const std::string& id, int64_t started_ms,
                       const std::string& instance = "host-a/1") {
    RebuildRecord r;
    r.id = id;
    r.domain = "examples/bank";
    r.projection = "Balances";
    r.strategy = "atomic";
    r.requested_by = "ci";
    r.peer = "ipv4:127.0.0.1:40000";
    r.started_unix_ms = started_ms;
    r.daemon = "host-a";
    r.daemon_instance = instance;
    return r;
  }

  std::string uri_;
  std::unique_ptr<AuditStore> store_;
};

TEST_F(AuditStoreTest, TableIsCreatedOnFirstUse) {
  auto conn = PgConnection::Connect(uri_);
  ASSERT_TRUE(conn.ok());
  auto before = conn->Exec("SELECT to_regclass('protean_admin.rebuilds') IS NULL");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->Get(0, 0), "t");
  auto rows = store_->List(10, false);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(rows->empty());
  auto after = conn->Exec("SELECT to_regclass('protean_admin.rebuilds') IS NULL");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->Get(0, 0), "f");
  // A second store (a second daemon) on the same database: idempotent.
  auto other = AuditStore::Open(uri_);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE((*other)->EnsureSchema().ok());
}

TEST_F(AuditStoreTest, ConcurrentSchemaCreation) {
  std::vector<std::unique_ptr<AuditStore>> stores;
  for (int i = 0; i < 4; ++i) {
    auto s = AuditStore::Open(uri_);
    ASSERT_TRUE(s.ok());
    stores.push_back(*std::move(s));
  }
  std::vector<absl::Status> results(stores.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < stores.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = stores[i]->EnsureSchema(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;
}

TEST_F(AuditStoreTest, SucceededFailedAndCancelledRows) {
  const int64_t t0 = 1'700'000'000'000;
  ASSERT_TRUE(store_->Start(Record("job-ok", t0)).ok());
  ASSERT_TRUE(store_->Start(Record("job-failed", t0 + 1000)).ok());
  RebuildRecord all = Record("job-cancelled", t0 + 2000);
  all.projection.reset();  // rebuild of all
  all.strategy = "inplace";
  all.requested_by = "CN=ops-client,O=example";
  ASSERT_TRUE(store_->Start(all).ok());

  auto running = store_->Get("job-ok");
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->state, RebuildState::kRunning);
  EXPECT_FALSE(running->finished_unix_ms.has_value());
  EXPECT_EQ(running->started_unix_ms, t0);

  ASSERT_TRUE(store_
                  ->Finish("job-ok", {.state = RebuildState::kSucceeded,
                                      .events_dispatched = 1200,
                                      .events_skipped = 3,
                                      .results_json = R"([{"projection":"Balances"}])",
                                      .finished_unix_ms = t0 + 5000})
                  .ok());
  ASSERT_TRUE(store_
                  ->Finish("job-failed", {.state = RebuildState::kFailed,
                                          .events_dispatched = 10,
                                          .errors = {"handler failed: division by zero",
                                                     "quote \" backslash \\ newline \n unicode é"}})
                  .ok());
  ASSERT_TRUE(store_
                  ->Finish("job-cancelled", {.state = RebuildState::kCancelled,
                                             .events_dispatched = 5,
                                             .errors = {"cancelled by CancelRebuild"}})
                  .ok());

  auto ok = store_->Get("job-ok");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->state, RebuildState::kSucceeded);
  EXPECT_EQ(ok->events_dispatched, 1200);
  EXPECT_EQ(ok->events_skipped, 3);
  EXPECT_TRUE(ok->errors.empty());
  EXPECT_EQ(ok->finished_unix_ms.value_or(0), t0 + 5000);
  EXPECT_EQ(ok->results_json.value_or(""), R"([{"projection": "Balances"}])");
  EXPECT_EQ(ok->projection.value_or(""), "Balances");
  EXPECT_EQ(ok->requested_by, "ci");
  EXPECT_EQ(ok->peer, "ipv4:127.0.0.1:40000");
  EXPECT_EQ(ok->daemon_instance, "host-a/1");

  auto failed = store_->Get("job-failed");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->state, RebuildState::kFailed);
  ASSERT_EQ(failed->errors.size(), 2u);
  EXPECT_EQ(failed->errors[0], "handler failed: division by zero");
  EXPECT_EQ(failed->errors[1], "quote \" backslash \\ newline \n unicode é");
  ASSERT_TRUE(failed->finished_unix_ms.has_value());
  EXPECT_GT(*failed->finished_unix_ms, t0);  // "now"

  auto cancelled = store_->Get("job-cancelled");
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state, RebuildState::kCancelled);
  EXPECT_FALSE(cancelled->projection.has_value());
  EXPECT_EQ(cancelled->strategy, "inplace");
  EXPECT_EQ(cancelled->requested_by, "CN=ops-client,O=example");
  EXPECT_EQ(cancelled->errors, std::vector<std::string>{"cancelled by CancelRebuild"});

  // The same rows, through SQL, as an operator would query them.
  auto conn = PgConnection::Connect(uri_);
  ASSERT_TRUE(conn.ok());
  auto sql = conn->Exec(
      "SELECT id, state, jsonb_array_length(errors) FROM protean_admin.rebuilds ORDER BY id");
  ASSERT_TRUE(sql.ok());
  ASSERT_EQ(sql->rows(), 3);
  EXPECT_EQ(sql->Get(0, 0), "job-cancelled");
  EXPECT_EQ(sql->Get(0, 1), "cancelled");
  EXPECT_EQ(sql->Get(1, 1), "failed");
  EXPECT_EQ(sql->Get(1, 2), "2");
  EXPECT_EQ(sql->Get(2, 1), "succeeded");
}

TEST_F(AuditStoreTest, StartAndFinishErrors) {
  ASSERT_TRUE(store_->Start(Record("job-1", 0)).ok());
  absl::Status dup = store_->Start(Record("job-1", 0));
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
  EXPECT_EQ(store_->Finish("nope", {}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Finish("job-1", {.state = RebuildState::kRunning}).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->Finish("job-1", {.state = RebuildState::kSucceeded}).ok());
  absl::Status again = store_->Finish("job-1", {.state = RebuildState::kFailed});
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
  EXPECT_NE(std::string(again.message()).find("succeeded"), std::string::npos);
  EXPECT_EQ(store_->Get("nope").status().code(), absl::StatusCode::kNotFound);
  // Started with started_unix_ms = 0: now.
  auto row = store_->Get("job-1");
  ASSERT_TRUE(row.ok());
  EXPECT_GT(row->started_unix_ms, 1'700'000'000'000);
}

TEST_F(AuditStoreTest, RunningRowsOfAnEarlierInstanceBecomeInterrupted) {
  const int64_t t0 = 1'700'000'000'000;
  // The daemon "host-a" crashed while job-a ran; replica "host-b" is running job-b.
  ASSERT_TRUE(store_->Start(Record("job-a", t0, "host-a/old")).ok());
  RebuildRecord b = Record("job-b", t0 + 1, "host-b/1");
  b.daemon = "host-b";
  ASSERT_TRUE(store_->Start(b).ok());
  ASSERT_TRUE(store_->Start(Record("job-done", t0 + 2, "host-a/old")).ok());
  ASSERT_TRUE(store_->Finish("job-done", {.state = RebuildState::kSucceeded}).ok());

  // host-a restarts with a new instance id and starts a new job before the clean-up.
  const std::string instance = MakeDaemonInstanceId("host-a");
  EXPECT_EQ(instance.rfind("host-a/", 0), 0u) << instance;
  EXPECT_NE(instance, MakeDaemonInstanceId("host-a"));
  ASSERT_TRUE(store_->Start(Record("job-new", t0 + 3, instance)).ok());

  auto changed = store_->MarkInterrupted("host-a", instance);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 1);

  auto a = store_->Get("job-a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state, RebuildState::kInterrupted);
  EXPECT_TRUE(a->finished_unix_ms.has_value());
  ASSERT_EQ(a->errors.size(), 1u);
  EXPECT_NE(a->errors[0].find("host-a/old"), std::string::npos) << a->errors[0];
  EXPECT_EQ(store_->Get("job-b")->state, RebuildState::kRunning);
  EXPECT_EQ(store_->Get("job-new")->state, RebuildState::kRunning);
  EXPECT_EQ(store_->Get("job-done")->state, RebuildState::kSucceeded);
  // The interrupted job can no longer be finished by anyone.
  EXPECT_EQ(store_->Finish("job-a", {.state = RebuildState::kSucceeded}).code(),
            absl::StatusCode::kFailedPrecondition);

  // Idempotent.
  EXPECT_EQ(store_->MarkInterrupted("host-a", instance).value_or(-1), 0);

  // The daemon-independent clean-up: running rows started before a time.
  auto stale = store_->MarkInterruptedStartedBefore(t0 + 2);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(*stale, 1);  // job-b (t0+1); job-new (t0+3) is younger
  EXPECT_EQ(store_->Get("job-b")->state, RebuildState::kInterrupted);
  EXPECT_EQ(store_->Get("job-new")->state, RebuildState::kRunning);
}

TEST_F(AuditStoreTest, ListOrderingLimitAndRunningOnly) {
  const int64_t t0 = 1'700'000'000'000;
  // Inserted out of order; two share a start time (tie broken by id, descending).
  for (const auto& [id, offset] : std::vector<std::pair<std::string, int64_t>>{
           {"j2", 2000}, {"j1", 1000}, {"j4", 3000}, {"j3", 3000}, {"j0", 0}}) {
    ASSERT_TRUE(store_->Start(Record(id, t0 + offset)).ok());
  }
  ASSERT_TRUE(store_->Finish("j1", {.state = RebuildState::kSucceeded}).ok());
  ASSERT_TRUE(store_->Finish("j4", {.state = RebuildState::kFailed}).ok());

  auto all = store_->List(0, false);
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> ids;
  for (const auto& r : *all) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"j4", "j3", "j2", "j1", "j0"}));

  auto two = store_->List(2, false);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].id, "j4");
  EXPECT_EQ((*two)[1].id, "j3");

  auto running = store_->List(0, true);
  ASSERT_TRUE(running.ok());
  ids.clear();
  for (const auto& r : *running) {
    ids.push_back(r.id);
    EXPECT_EQ(r.state, RebuildState::kRunning);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"j3", "j2", "j0"}));
}

TEST_F(AuditStoreTest, SurvivesALostConnection) {
  ASSERT_TRUE(store_->Start(Record("before", 0)).ok());
  // Kill the store's backend from another session (what a PostgreSQL restart does).
  auto admin = PgConnection::Connect(uri_);
  ASSERT_TRUE(admin.ok());
  auto killed = admin->Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_GE(killed->rows(), 1);
  // The first call after the loss may fail (the loss is only noticed then); the store
  // reconnects on the next one.
  absl::Status first = store_->Finish("before", {.state = RebuildState::kSucceeded});
  if (!first.ok()) {
    EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
    ASSERT_TRUE(store_->Finish("before", {.state = RebuildState::kSucceeded}).ok());
  }
  EXPECT_EQ(store_->Get("before")->state, RebuildState::kSucceeded);
}

TEST(RebuildStateTest, Names) {
  for (RebuildState s : {RebuildState::kRunning, RebuildState::kSucceeded, RebuildState::kFailed,
                         RebuildState::kCancelled, RebuildState::kInterrupted}) {
    auto parsed = ParseRebuildState(RebuildStateName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_FALSE(ParseRebuildState("done").ok());
}

}  // namespace
}  // namespace protean_admin::storage
