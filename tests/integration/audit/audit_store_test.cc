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

// Only rows of instances whose lock nobody holds (stopped processes) become interrupted,
// whatever the daemon name: a live second process of the same name keeps its running rows.
TEST_F(AuditStoreTest, RunningRowsOfStoppedInstancesBecomeInterrupted) {
  const int64_t t0 = 1'700'000'000'000;
  auto live_a = AuditStore::Open(uri_, "host-a/live");
  ASSERT_TRUE(live_a.ok()) << live_a.status();
  auto live_b = AuditStore::Open(uri_, "host-b/live");
  ASSERT_TRUE(live_b.ok()) << live_b.status();
  // host-a/old and host-b/old have stopped: no session holds their locks.
  ASSERT_TRUE(store_->Start(Record("job-old", t0, "host-a/old")).ok());
  RebuildRecord inplace = Record("job-old-inplace", t0 + 1, "host-b/old");
  inplace.daemon = "host-b";
  inplace.strategy = "inplace";
  ASSERT_TRUE(store_->Start(inplace).ok());
  ASSERT_TRUE(store_->Start(Record("job-done", t0 + 2, "host-a/old")).ok());
  ASSERT_TRUE(store_->Finish("job-done", {.state = RebuildState::kSucceeded}).ok());
  ASSERT_TRUE((*live_a)->Start(Record("job-live-a", t0 + 3, "host-a/live")).ok());
  RebuildRecord b = Record("job-live-b", t0 + 4, "host-b/live");
  b.daemon = "host-b";
  ASSERT_TRUE((*live_b)->Start(b).ok());

  // A new process of daemon "host-a" starts a job and looks.
  const std::string instance = MakeDaemonInstanceId("host-a");
  EXPECT_EQ(instance.rfind("host-a/", 0), 0u) << instance;
  EXPECT_NE(instance, MakeDaemonInstanceId("host-a"));
  auto fresh = AuditStore::Open(uri_, instance);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE((*fresh)->Start(Record("job-new", t0 + 5, instance)).ok());
  auto changed = (*fresh)->MarkInterrupted();
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 2);

  auto old = store_->Get("job-old");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->state, RebuildState::kInterrupted);
  EXPECT_TRUE(old->finished_unix_ms.has_value());
  ASSERT_EQ(old->errors.size(), 1u);
  EXPECT_EQ(old->errors[0],
            "interrupted: daemon instance host-a/old stopped (or lost this database) while the "
            "rebuild ran");
  auto old_inplace = store_->Get("job-old-inplace");
  ASSERT_TRUE(old_inplace.ok());
  EXPECT_EQ(old_inplace->state, RebuildState::kInterrupted);
  ASSERT_EQ(old_inplace->errors.size(), 1u);
  EXPECT_NE(old_inplace->errors[0].find(
                "host-b/old stopped (or lost this database) while the rebuild ran; the in-place "
                "rebuild may have left the projection partial"),
            std::string::npos)
      << old_inplace->errors[0];
  EXPECT_EQ(store_->Get("job-live-a")->state, RebuildState::kRunning);
  EXPECT_EQ(store_->Get("job-live-b")->state, RebuildState::kRunning);
  EXPECT_EQ(store_->Get("job-new")->state, RebuildState::kRunning);
  EXPECT_EQ(store_->Get("job-done")->state, RebuildState::kSucceeded);
  // The interrupted job can no longer be finished by another instance.
  EXPECT_EQ(store_->Finish("job-old", {.state = RebuildState::kSucceeded}).code(),
            absl::StatusCode::kFailedPrecondition);
  // Idempotent.
  EXPECT_EQ((*fresh)->MarkInterrupted().value_or(-1), 0);

  // The process host-a/live ends: its session, and with it its lock, goes away.
  live_a->reset();
  int64_t marked = 0;
  for (int i = 0; i < 100 && marked == 0; ++i) {
    marked = (*fresh)->MarkInterrupted().value_or(-1);
    if (marked == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(marked, 1);
  EXPECT_EQ(store_->Get("job-live-a")->state, RebuildState::kInterrupted);
  EXPECT_EQ(store_->Get("job-live-b")->state, RebuildState::kRunning);

  // The daemon-independent clean-up: running rows started before a time.
  auto stale = store_->MarkInterruptedStartedBefore(t0 + 5);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(*stale, 1);  // job-live-b (t0+4); job-new (t0+5) is not older
  EXPECT_EQ(store_->Get("job-live-b")->state, RebuildState::kInterrupted);
  EXPECT_EQ(store_->Get("job-new")->state, RebuildState::kRunning);
}

// An instance that lost its session (a PostgreSQL restart) looks stopped until it reconnects;
// a row another instance marked interrupted meanwhile is still finished by its owner, and
// the owner holds its lock again once it has reconnected.
TEST_F(AuditStoreTest, AnInstanceThatLostItsSessionStillFinishesItsRows) {
  auto owner = AuditStore::Open(uri_, "host-a/1");
  ASSERT_TRUE(owner.ok()) << owner.status();
  ASSERT_TRUE((*owner)->Start(Record("job-1", 0, "host-a/1")).ok());
  auto admin = PgConnection::Connect(uri_);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(admin
                  ->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  auto other = AuditStore::Open(uri_, "host-b/1");
  ASSERT_TRUE(other.ok()) << other.status();
  int64_t marked = 0;
  for (int i = 0; i < 100 && marked == 0; ++i) {
    marked = (*other)->MarkInterrupted().value_or(-1);
    if (marked == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(marked, 1);
  EXPECT_EQ(store_->Get("job-1")->state, RebuildState::kInterrupted);
  // The owner's end wins, on a fresh connection.
  absl::Status finished = (*owner)->Finish(
      "job-1", {.state = RebuildState::kFailed, .errors = {"connection to PostgreSQL lost"}});
  ASSERT_TRUE(finished.ok()) << finished;
  auto row = store_->Get("job-1");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, RebuildState::kFailed);
  EXPECT_EQ(row->errors, std::vector<std::string>{"connection to PostgreSQL lost"});
  // Reconnected, it holds its lock again: its new rows are safe from other instances.
  ASSERT_TRUE((*owner)->Start(Record("job-2", 0, "host-a/1")).ok());
  EXPECT_EQ((*other)->MarkInterrupted().value_or(-1), 0);
  EXPECT_EQ(store_->Get("job-2")->state, RebuildState::kRunning);
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
  // The loss is only noticed by the first statement after it, which is then run again on a
  // fresh connection: the end of a rebuild whose connections died is still recorded.
  absl::Status first = store_->Finish("before", {.state = RebuildState::kSucceeded});
  ASSERT_TRUE(first.ok()) << first;
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
