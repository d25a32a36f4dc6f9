// The shadow strategy on the scratch PostgreSQL (docs/design.md §4): the shadow table and the
// swap keep the live table's identity; the engine builds while the "event server" runs,
// waits, catches up, swaps and hands off at the second head; cancel, timeout, refusals and
// orphan shadows leave the live table as it was and no shadow behind.

#include <atomic>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "server/rebuild/shadow_sql.h"
#include "storage/advisory_lock.h"
#include "storage/projection_table.h"
#include "storage/shadow_table.h"
#include "storage/subscription_position.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::rebuild {
namespace {

using ::testing::HasSubstr;
using testing::Lit;
using testing::Ref;

constexpr char kSubscriber[] = "app.projections.TransactionProjector";
constexpr char kBalances[] = "SELECT user_id, name, balance FROM balances ORDER BY user_id";

class ShadowTest : public testing::RebuildFixture {
 protected:
  void SetUp() override {
    RebuildFixture::SetUp();
    domain_ = testing::MakeTestDomain(uri_, uri_, true, true, kSubscriber);
  }

  // Registered u0..u{users-1}, then `transactions` Transacted spread over them.
  void History(int users, int transactions, double amount = 1.0) {
    for (int i = 0; i < users; ++i) Register("u" + std::to_string(i), "N" + std::to_string(i));
    for (int i = 0; i < transactions; ++i) Transact("u" + std::to_string(i % users), amount);
  }
  int64_t ShadowSchemas() {
    return Count("pg_namespace WHERE nspname LIKE 'protean\\_admin\\_shadow\\_%'");
  }
  std::optional<int64_t> Position(const std::string& category) {
    auto p = storage::ReadLastPosition(*conn_, kSubscriber, category);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : std::nullopt;
  }
  int64_t Head(const std::string& category) {
    auto v = Scalar(
        "SELECT max(global_position) FROM message_store.messages WHERE "
        "message_store.category(stream_name) = '" +
        category + "'");
    return v ? std::stoll(*v) : 0;
  }
  // The rows an atomic rebuild gives now, in a scratch copy of the live table's rows: the
  // live table is left as it was.
  std::string FullRebuildDump() {
    EXPECT_TRUE(conn_->Exec("CREATE TEMP TABLE saved AS SELECT * FROM balances").ok());
    RebuildOptions atomic;
    atomic.hand_off = false;
    EXPECT_TRUE(Rebuild("Balances", atomic).ok());
    std::string dump = Dump(kBalances);
    EXPECT_TRUE(conn_
                    ->Exec("DELETE FROM balances; INSERT INTO balances SELECT * FROM saved; "
                           "DROP TABLE saved")
                    .ok());
    return dump;
  }

  // A guard that says "running" until `stopped_` is set.
  RebuildOptions ShadowOptions() {
    RebuildOptions o;
    o.strategy = Strategy::kShadow;
    o.batch_size = 7;
    o.wait_poll_interval = std::chrono::milliseconds(10);
    o.guard = [this](const domain::Domain&, const domain::Projection&) {
      ++probes_;
      return stopped_.load() ? absl::OkStatus()
                             : absl::FailedPreconditionError("the event server is running");
    };
    return o;
  }

  std::atomic<bool> stopped_{false};
  std::atomic<int> probes_{0};
};

TEST_F(ShadowTest, ShadowTableAndSwapKeepTheLiveTablesIdentity) {
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE live (id text PRIMARY KEY, n int NOT NULL DEFAULT 0, "
                         "label text); CREATE INDEX live_n ON live (n); "
                         "DROP ROLE IF EXISTS shadow_reader_role; CREATE ROLE shadow_reader_role; "
                         "GRANT SELECT ON live TO shadow_reader_role; "
                         "CREATE VIEW live_view AS SELECT id, n FROM live; "
                         "INSERT INTO live VALUES ('old', 1, 'x'), ('a', 1, 'p'), ('b', 2, 'q')")
                  .ok());
  const std::string identity = Dump(
      "SELECT c.oid, (SELECT array_agg(indexrelid ORDER BY indexrelid) FROM pg_index "
      "WHERE indrelid = c.oid), c.relacl FROM pg_class c WHERE c.oid = 'public.live'::regclass");
  auto live = storage::LoadTableInfo(*conn_, "public", "live");
  ASSERT_TRUE(live.ok() && live->has_value());
  auto schema = storage::ShadowSchemaName(*conn_, **live);
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_THAT(*schema, ::testing::StartsWith(storage::kShadowSchemaPrefix));
  ASSERT_TRUE(storage::CreateShadow(*conn_, **live, *schema, "protean-admin:table:x").ok());
  EXPECT_EQ(storage::CreateShadow(*conn_, **live, *schema, "protean-admin:table:x").code(),
            absl::StatusCode::kAlreadyExists);
  // Same columns, key and indexes; unlogged.
  EXPECT_EQ(
      Scalar("SELECT relpersistence FROM pg_class WHERE oid = '" + *schema + ".live'::regclass"),
      "u");
  EXPECT_EQ(Count("pg_index WHERE indrelid = '" + *schema + ".live'::regclass"), 2);
  auto listed = storage::ListShadowSchemas(*conn_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].schema, *schema);
  EXPECT_EQ((*listed)[0].lock_text, "protean-admin:table:x");
  ASSERT_TRUE(
      conn_->Exec("INSERT INTO " + *schema + ".live VALUES ('a', 1, 'p'), ('b', 2, NULL)").ok());
  auto shadow = storage::LoadTableInfo(*conn_, *schema, "live");
  ASSERT_TRUE(shadow.ok() && shadow->has_value());
  const std::string a_before = *Scalar("SELECT ctid::text FROM live WHERE id = 'a'");
  ASSERT_TRUE(conn_->Exec("BEGIN").ok());
  auto rows = storage::ReplaceRowsFromShadow(*conn_, **live, **shadow, "id");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, 1);  // b (its label differs); a is equal and stays; old goes
  ASSERT_TRUE(conn_->Exec("COMMIT").ok());
  EXPECT_EQ(Dump("SELECT id, n, coalesce(label, 'NULL') FROM live ORDER BY id"),
            "a|1|p\nb|2|NULL\n");
  EXPECT_EQ(*Scalar("SELECT ctid::text FROM live WHERE id = 'a'"), a_before);  // untouched
  EXPECT_EQ(Dump("SELECT c.oid, (SELECT array_agg(indexrelid ORDER BY indexrelid) FROM pg_index "
                 "WHERE indrelid = c.oid), c.relacl FROM pg_class c WHERE c.oid = "
                 "'public.live'::regclass"),
            identity);
  ASSERT_TRUE(storage::DropShadowSchema(*conn_, *schema).ok());
  EXPECT_EQ(ShadowSchemas(), 0);
  ASSERT_TRUE(
      conn_->Exec("DROP VIEW live_view; DROP TABLE live; DROP ROLE shadow_reader_role").ok());
}

// Without a unique index on the key, equal rows cannot be matched one to one: every row is
// replaced (two equal live rows and one shadow row give one row).
TEST_F(ShadowTest, SwapReplacesEveryRowWithoutAUniqueKey) {
  ASSERT_TRUE(
      conn_
          ->Exec("CREATE TABLE plain (id text, n int); INSERT INTO plain VALUES ('x', 1), ('x', 1)")
          .ok());
  auto live = storage::LoadTableInfo(*conn_, "public", "plain");
  ASSERT_TRUE(live.ok() && live->has_value());
  auto schema = storage::ShadowSchemaName(*conn_, **live);
  ASSERT_TRUE(schema.ok()) << schema.status();
  ASSERT_TRUE(storage::CreateShadow(*conn_, **live, *schema, "protean-admin:table:p").ok());
  ASSERT_TRUE(conn_->Exec("INSERT INTO " + *schema + ".plain VALUES ('x', 1)").ok());
  auto shadow = storage::LoadTableInfo(*conn_, *schema, "plain");
  ASSERT_TRUE(shadow.ok() && shadow->has_value());
  ASSERT_TRUE(conn_->Exec("BEGIN").ok());
  auto rows = storage::ReplaceRowsFromShadow(*conn_, **live, **shadow, "id");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, 1);
  ASSERT_TRUE(conn_->Exec("COMMIT").ok());
  EXPECT_EQ(Dump("SELECT id, n FROM plain"), "x|1\n");
  ASSERT_TRUE(storage::DropShadowSchema(*conn_, *schema).ok());
  ASSERT_TRUE(conn_->Exec("DROP TABLE plain").ok());
}

TEST_F(ShadowTest, BuildsWhileTheServerRunsThenCatchesUpSwapsAndHandsOffAtTheSecondHead) {
  History(20, 300);
  ASSERT_TRUE(Rebuild("Balances").ok());
  Transact("u1", 1000);  // the live table is now behind, as a running server would be
  ASSERT_TRUE(conn_->Exec("UPDATE balances SET name = 'live' WHERE user_id = 'u2'").ok());
  const std::string live_before = Dump(kBalances);
  const std::string oid = *Scalar("SELECT 'balances'::regclass::oid");
  RebuildOptions options = ShadowOptions();
  std::string live_while_waiting;
  int64_t shadow_rows_while_waiting = -1;
  int64_t since = 0;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind != ProgressEvent::Kind::kPhase || e.phase != Phase::kWaiting) return;
    since = e.since_unix_ms;
    live_while_waiting = Dump(kBalances);
    auto schema = Scalar(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'protean\\_admin\\_shadow\\_%'");
    if (schema) shadow_rows_while_waiting = Count(*schema + ".balances");
    // The server writes on while the shadow waits: H1 -> H2.
    History(25, 40, 2.5);
    stopped_ = true;
  };
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->errors.empty()) << result->errors.front();
  EXPECT_EQ(live_while_waiting, live_before);  // untouched until the swap
  EXPECT_EQ(shadow_rows_while_waiting, 20);    // the shadow was built, committed
  EXPECT_GT(since, 0);
  EXPECT_GE(probes_.load(), 1);
  EXPECT_EQ(Dump(kBalances), FullRebuildDump());  // exactly a full rebuild at H2
  EXPECT_EQ(Count("balances"), 25);
  EXPECT_EQ(*Scalar("SELECT 'balances'::regclass::oid"), oid);
  EXPECT_EQ(Position("test::transaction"), Head("test::transaction"));
  EXPECT_EQ(Position("test::user"), Head("test::user"));
  EXPECT_EQ(result->events_dispatched, 20 + 300 + 1 + 25 + 40);
  EXPECT_EQ(ShadowSchemas(), 0);
}

TEST_F(ShadowTest, SqlFormResolvesTheUnqualifiedNameToTheShadow) {
  History(10, 0);
  ASSERT_TRUE(Rebuild("UserDirectory").ok());
  ASSERT_TRUE(conn_->Exec("INSERT INTO user_directory VALUES ('stale', 'e', 'n')").ok());
  const std::string before = Dump("SELECT * FROM user_directory ORDER BY user_id");
  RebuildOptions options = ShadowOptions();
  std::string while_waiting;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind != ProgressEvent::Kind::kPhase || e.phase != Phase::kWaiting) return;
    while_waiting = Dump("SELECT * FROM user_directory ORDER BY user_id");
    Register("late", "L");
    stopped_ = true;
  };
  auto result = Rebuild("UserDirectory", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(while_waiting, before);
  EXPECT_EQ(Count("user_directory"), 11);
  EXPECT_EQ(Count("user_directory WHERE user_id = 'stale'"), 0);
  EXPECT_EQ(Count("user_directory WHERE user_id = 'late'"), 1);
  EXPECT_EQ(ShadowSchemas(), 0);
}

TEST_F(ShadowTest, CancelWhileWaitingLeavesTheLiveTableAndNoShadow) {
  History(5, 50);
  ASSERT_TRUE(Rebuild("Balances").ok());
  ASSERT_TRUE(conn_->Exec("UPDATE balances SET balance = -1").ok());
  Transact("u1", 3);  // a position to hand off, if the swap happened
  const std::string before = Dump(kBalances);
  const std::optional<int64_t> position = Position("test::transaction");
  CancellationToken cancel;
  RebuildOptions options = ShadowOptions();
  options.cancel = &cancel;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kPhase && e.phase == Phase::kWaiting) cancel.Cancel();
  };
  auto result = Rebuild("Balances", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_EQ(Dump(kBalances), before);
  EXPECT_EQ(ShadowSchemas(), 0);
  EXPECT_EQ(Position("test::transaction"), position);
  EXPECT_LT(position, Head("test::transaction"));
}

TEST_F(ShadowTest, CancelDuringTheBuildLeavesTheLiveTableAndNoShadow) {
  History(5, 200);
  ASSERT_TRUE(Rebuild("Balances").ok());
  ASSERT_TRUE(conn_->Exec("UPDATE balances SET balance = -1").ok());
  const std::string before = Dump(kBalances);
  CancellationToken cancel;
  RebuildOptions options = ShadowOptions();
  options.cancel = &cancel;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kProgress && e.processed > 0) cancel.Cancel();
  };
  auto result = Rebuild("Balances", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_EQ(probes_.load(), 0);  // never reached the waiting phase
  EXPECT_EQ(Dump(kBalances), before);
  EXPECT_EQ(ShadowSchemas(), 0);
}

TEST_F(ShadowTest, AFailingSwapRollsBackAndDropsTheShadow) {
  History(5, 20);
  ASSERT_TRUE(Rebuild("Balances").ok());
  const std::string before = Dump(kBalances);
  const std::optional<int64_t> position = Position("test::user");
  RebuildOptions options = ShadowOptions();
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind != ProgressEvent::Kind::kPhase || e.phase != Phase::kWaiting) return;
    Register("late", "L");
    // Every rebuilt row now breaks a rule of the live table: the swap's INSERT fails.
    EXPECT_TRUE(conn_
                    ->Exec("ALTER TABLE balances ADD CONSTRAINT no_rows CHECK (balance < -1) "
                           "NOT VALID")
                    .ok());
    stopped_ = true;
  };
  auto result = Rebuild("Balances", options);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("no_rows"));
  EXPECT_EQ(Dump(kBalances), before);
  EXPECT_EQ(Position("test::user"), position);
  EXPECT_EQ(ShadowSchemas(), 0);
}

TEST_F(ShadowTest, WaitTimeoutDropsTheShadow) {
  History(5, 50);
  ASSERT_TRUE(Rebuild("Balances").ok());
  const std::string before = Dump(kBalances);
  RebuildOptions options = ShadowOptions();
  options.wait_timeout = std::chrono::milliseconds(150);
  auto result = Rebuild("Balances", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("did not stop within"));
  EXPECT_THAT(result.status().message(), HasSubstr("the event server is running"));
  EXPECT_EQ(Dump(kBalances), before);
  EXPECT_EQ(ShadowSchemas(), 0);
}

TEST_F(ShadowTest, ASchemaQualifiedSqlHandlerIsRefusedAtPlanning) {
  for (domain::Projector& p : domain_.projectors) {
    if (p.name != "UserDirectoryProjector") continue;
    p.handlers[0].where = "domain.toml:42";
    p.handlers[0].sql[0].text =
        "INSERT INTO public.user_directory (user_id, email, name) VALUES ($1, $2, $3)";
  }
  History(3, 0);
  auto result = Rebuild("UserDirectory", ShadowOptions());
  ASSERT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("domain.toml:42"));
  EXPECT_THAT(result.status().message(), HasSubstr("schema-qualified"));
  EXPECT_EQ(ShadowSchemas(), 0);
  EXPECT_EQ(probes_.load(), 0);
}

TEST_F(ShadowTest, CacheBackedProjectionsAreRefused) {
  domain_.projections[0].cache = "default";
  auto result = Rebuild("Balances", ShadowOptions());
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("cache-backed"));
}

TEST_F(ShadowTest, AnOrphanShadowIsRemovedByTheNextRebuild) {
  History(3, 10);
  ASSERT_TRUE(Rebuild("Balances").ok());
  auto live = storage::LoadTableInfo(*conn_, "public", "balances");
  ASSERT_TRUE(live.ok() && live->has_value());
  auto schema = storage::ShadowSchemaName(*conn_, **live);
  auto lock = storage::TableLockText(*conn_, "", "balances");
  ASSERT_TRUE(schema.ok() && lock.ok());
  // What a daemon killed mid-build leaves: the schema, its owner's lock free.
  ASSERT_TRUE(storage::CreateShadow(*conn_, **live, *schema, *lock).ok());
  // Not ours: left alone.
  ASSERT_TRUE(conn_
                  ->Exec("CREATE SCHEMA protean_admin_shadow_foreign; COMMENT ON SCHEMA "
                         "protean_admin_shadow_foreign IS 'someone else'")
                  .ok());
  std::vector<std::string> warnings;
  RebuildOptions options;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kWarning) warnings.push_back(e.message);
  };
  ASSERT_TRUE(Rebuild("Balances", options).ok());
  EXPECT_EQ(ShadowSchemas(), 1);
  EXPECT_EQ(Count("pg_namespace WHERE nspname = 'protean_admin_shadow_foreign'"), 1);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("removed the orphan shadow schema " + *schema));
}

// Two shadow rebuilds of different tables at once, each table with an orphan: the first
// one's sweep never takes the second table's lock (a session reading the second orphan makes
// it skip that orphan, not wait holding the lock), and the second, started while the first
// waits, removes its own orphan and leaves the first's live shadow alone.
TEST_F(ShadowTest, TwoConcurrentShadowRebuildsOfDifferentTablesBothSucceed) {
  History(10, 50);
  ASSERT_TRUE(Rebuild("Balances").ok());
  ASSERT_TRUE(Rebuild("UserDirectory").ok());
  std::string directory_orphan;
  for (const char* table : {"balances", "user_directory"}) {
    auto live = storage::LoadTableInfo(*conn_, "public", table);
    ASSERT_TRUE(live.ok() && live->has_value());
    auto schema = storage::ShadowSchemaName(*conn_, **live);
    auto lock = storage::TableLockText(*conn_, "", table);
    ASSERT_TRUE(schema.ok() && lock.ok());
    ASSERT_TRUE(storage::CreateShadow(*conn_, **live, *schema, *lock).ok());
    directory_orphan = *schema;
  }
  auto reader = storage::PgConnection::Connect(uri_);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(
      reader->Exec("BEGIN; LOCK TABLE " + directory_orphan + ".user_directory IN ACCESS SHARE MODE")
          .ok());
  std::atomic<bool> balances_waiting{false}, directory_waiting{false};
  const auto waits_on = [](std::atomic<bool>& flag) {
    return [&flag](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::kPhase && e.phase == Phase::kWaiting) flag = true;
    };
  };
  const auto wait_for = [](const std::atomic<bool>& flag) {
    for (int i = 0; i < 200 && !flag.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return flag.load();
  };
  RebuildOptions balances_options = ShadowOptions();
  balances_options.on_progress = waits_on(balances_waiting);
  RebuildOptions directory_options = ShadowOptions();
  directory_options.on_progress = waits_on(directory_waiting);
  absl::StatusOr<RebuildResult> balances, directory;
  std::thread first([&] { balances = Rebuild("Balances", balances_options); });
  const bool first_waits = wait_for(balances_waiting);
  const int64_t schemas_while_read = ShadowSchemas();
  ASSERT_TRUE(reader->Exec("ROLLBACK").ok());
  std::thread second([&] { directory = Rebuild("UserDirectory", directory_options); });
  const bool second_waits = wait_for(directory_waiting);
  stopped_ = true;
  first.join();
  second.join();
  EXPECT_TRUE(first_waits);          // not stuck in the sweep on the orphan being read
  EXPECT_EQ(schemas_while_read, 2);  // its own live shadow, and the read orphan left alone
  EXPECT_TRUE(second_waits);
  ASSERT_TRUE(balances.ok()) << balances.status();
  ASSERT_TRUE(directory.ok()) << directory.status();
  EXPECT_EQ(Count("balances"), 10);
  EXPECT_EQ(Count("user_directory"), 10);
  EXPECT_EQ(ShadowSchemas(), 0);
}

// The sweep reads the owner's lock from pg_locks: a held lock keeps the orphan, a free one
// lets it go, and the lock itself is never taken (its holder is unaffected).
TEST_F(ShadowTest, TheSweepLeavesAShadowWhoseOwnerHoldsItsLock) {
  History(3, 3);
  ASSERT_TRUE(Rebuild("Balances").ok());
  auto live = storage::LoadTableInfo(*conn_, "public", "balances");
  ASSERT_TRUE(live.ok() && live->has_value());
  auto schema = storage::ShadowSchemaName(*conn_, **live);
  auto lock = storage::TableLockText(*conn_, "", "balances");
  ASSERT_TRUE(schema.ok() && lock.ok());
  ASSERT_TRUE(storage::CreateShadow(*conn_, **live, *schema, *lock).ok());
  auto owner = storage::PgConnection::Connect(uri_);
  ASSERT_TRUE(owner.ok());
  ASSERT_TRUE(storage::TryAdvisoryLock(*owner, *lock).value_or(false));
  EXPECT_TRUE(storage::AdvisoryLockHeldElsewhere(*conn_, *lock).value_or(false));
  EXPECT_FALSE(storage::AdvisoryLockHeldElsewhere(*owner, *lock).value_or(true));
  auto dropped = storage::DropShadowSchemaIfUnowned(*conn_, {*schema, *lock}, 200);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_FALSE(*dropped);
  EXPECT_EQ(ShadowSchemas(), 1);
  ASSERT_TRUE(storage::AdvisoryUnlock(*owner, *lock).ok());
  EXPECT_FALSE(storage::AdvisoryLockHeldElsewhere(*conn_, *lock).value_or(true));
  dropped = storage::DropShadowSchemaIfUnowned(*conn_, {*schema, *lock}, 200);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_TRUE(*dropped);
  EXPECT_EQ(ShadowSchemas(), 0);
}

TEST(ShadowSqlTest, NamesTableQualified) {
  EXPECT_TRUE(NamesTableQualified("INSERT INTO public.t VALUES (1)", "public", "t"));
  EXPECT_TRUE(NamesTableQualified("update PUBLIC . T set a = 1", "public", "t"));
  EXPECT_TRUE(NamesTableQualified("DELETE FROM \"public\".\"t\"", "public", "t"));
  EXPECT_TRUE(NamesTableQualified("SELECT 1 FROM db.public.t", "public", "t"));
  EXPECT_FALSE(NamesTableQualified("INSERT INTO t VALUES ('public.t')", "public", "t"));
  EXPECT_FALSE(
      NamesTableQualified("INSERT INTO t VALUES ($$public.t$$) -- public.t", "public", "t"));
  EXPECT_FALSE(NamesTableQualified("INSERT INTO other.t VALUES (1)", "public", "t"));
  EXPECT_FALSE(NamesTableQualified("INSERT INTO \"T\" SELECT * FROM public.tt", "public", "t"));
  EXPECT_FALSE(NamesTableQualified("SELECT $1 /* public.t */", "public", "t"));
}

}  // namespace
}  // namespace protean_admin::rebuild
