// Engine behaviour beyond Protean's scenarios: failures, strategies, the head snapshot,
// stream kinds, hand-off, locking, cancellation, paging, exact arithmetic.

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "storage/subscription_position.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::testing {
namespace {

using rebuild::ProgressEvent;
using rebuild::RebuildOptions;
using ::testing::HasSubstr;

class BehaviourTest : public RebuildFixture {
 protected:
  // Kills the engine's projection-database session (the one holding the advisory lock).
  // pg_locks is cluster-wide: only this test's database counts (tests run in parallel).
  void KillEngineWriter() {
    auto r = conn_->Exec(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
        "AND pid <> pg_backend_pid() AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->rows(), 1);
  }
  // The lock text of Balances' table (storage/advisory_lock.h).
  std::string BalancesLockText() {
    return absl::StrCat("protean-admin:table:", Scalar("SELECT current_database()").value_or(""),
                        "/public.balances");
  }
  void SeedOldProjection() {
    for (int i = 0; i < 5; ++i) {
      Register("u" + std::to_string(i), "User " + std::to_string(i));
      Transact("u" + std::to_string(i), 10.0 * (i + 1));
    }
    auto result = Rebuild("Balances");
    ASSERT_TRUE(result.ok()) << result.status();
    // New history the next rebuild would apply.
    for (int i = 0; i < 5; ++i) Transact("u" + std::to_string(i), 1000);
  }
};

TEST_F(BehaviourTest, AtomicRollbackWhenTheConnectionDiesMidRebuild) {
  SeedOldProjection();
  std::string before = Dump("SELECT * FROM balances ORDER BY user_id");
  ASSERT_EQ(Count("balances"), 5);
  RebuildOptions options;
  options.batch_size = 2;
  bool killed = false;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kProgress && e.processed >= 4 && !killed) {
      killed = true;
      KillEngineWriter();
    }
  };
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(killed);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_EQ(Dump("SELECT * FROM balances ORDER BY user_id"), before);
  // The lock died with the session: the next rebuild runs and applies the new history.
  auto again = Rebuild("Balances");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Balance("u0"), 1010.0);
}

TEST_F(BehaviourTest, CancelRollsBackAndReleasesTheLock) {
  SeedOldProjection();
  std::string before = Dump("SELECT * FROM balances ORDER BY user_id");
  rebuild::CancellationToken token;
  RebuildOptions options;
  options.batch_size = 3;
  options.cancel = &token;
  int progress_after_cancel = 0;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind != ProgressEvent::Kind::kProgress) return;
    if (token.cancelled()) ++progress_after_cancel;
    if (e.processed >= 3) token.Cancel();
  };
  auto result = Rebuild("Balances", options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(progress_after_cancel, 0);  // checked between batches: no batch after the cancel
  EXPECT_EQ(Dump("SELECT * FROM balances ORDER BY user_id"), before);
  auto again = Rebuild("Balances");
  ASSERT_TRUE(again.ok()) << again.status();
}

// In place, the batches before the cancel are committed: the result says partial (and how it
// ended) instead of a Cancelled status that would leave it unsaid.
TEST_F(BehaviourTest, InplaceCancelReturnsAPartialResult) {
  SeedOldProjection();
  rebuild::CancellationToken token;
  RebuildOptions options;
  options.strategy = rebuild::Strategy::kInplace;
  options.batch_size = 3;
  options.cancel = &token;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kProgress && e.processed >= 3) token.Cancel();
  };
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->partial);
  EXPECT_FALSE(result->success());
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_THAT(result->errors[0],
              ::testing::StartsWith("Rebuild of projection 'Balances' was cancelled after 3 of "));
  EXPECT_THAT(result->errors[0],
              ::testing::EndsWith(" events: the in-place rebuild left the projection partial"));
  EXPECT_LT(Count("balances"), 5);
  // The lock was released.
  ASSERT_TRUE(Rebuild("Balances").ok());
  EXPECT_EQ(Count("balances"), 5);
}

TEST_F(BehaviourTest, InplaceGivesTheSameProjection) {
  SeedOldProjection();
  auto atomic = Rebuild("Balances");
  ASSERT_TRUE(atomic.ok());
  std::string expected = Dump("SELECT * FROM balances ORDER BY user_id");
  RebuildOptions options;
  options.strategy = rebuild::Strategy::kInplace;
  options.batch_size = 3;
  auto inplace = Rebuild("Balances", options);
  ASSERT_TRUE(inplace.ok()) << inplace.status();
  EXPECT_TRUE(inplace->success());
  EXPECT_FALSE(inplace->partial);
  EXPECT_EQ(inplace->events_dispatched, atomic->events_dispatched);
  EXPECT_EQ(Dump("SELECT * FROM balances ORDER BY user_id"), expected);
}

TEST_F(BehaviourTest, InplaceFailureLeavesAPartialProjectionReportedAsSuch) {
  SeedOldProjection();
  RebuildOptions options;
  options.strategy = rebuild::Strategy::kInplace;
  options.batch_size = 2;
  bool killed = false;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kProgress && e.processed >= 4 && !killed) {
      killed = true;
      KillEngineWriter();
    }
  };
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->partial);
  EXPECT_FALSE(result->success());
  ASSERT_FALSE(result->errors.empty());
  // The first two batches (4 events) were committed: 2 users, the rest is missing.
  EXPECT_EQ(Count("balances"), 2);
}

TEST_F(BehaviourTest, SqlHandlerErrorSkipsOnlyThatEvent) {
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE user_directory (user_id varchar(255) PRIMARY KEY, "
                         "email varchar(255) NOT NULL, name varchar(255))")
                  .ok());
  for (int batch : {1000, 1}) {
    ASSERT_TRUE(conn_->Exec("TRUNCATE message_store.messages").ok());
    Register("a", "A");
    auto bad = WriteMessage(*conn_, "test::user-b", "Test.Registered.v1",
                            R"({"user_id": "b", "name": "B", "email": null})");  // NOT NULL
    ASSERT_TRUE(bad.ok());
    Register("c", "C");
    std::vector<std::string> warnings;
    RebuildOptions options;
    options.batch_size = batch;
    options.on_progress = [&](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::kWarning) warnings.push_back(e.message);
    };
    auto result = Rebuild("UserDirectory", options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->success());
    EXPECT_EQ(result->events_dispatched, 2) << "batch " << batch;
    EXPECT_EQ(result->events_skipped, 1) << "batch " << batch;
    EXPECT_EQ(Dump("SELECT user_id FROM user_directory ORDER BY 1"), "a\nc\n");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("UserDirectoryProjector"));
    EXPECT_THAT(warnings[0], HasSubstr("Test.Registered.v1"));
    EXPECT_THAT(warnings[0], HasSubstr("global position " + std::to_string(*bad) + ":"));
  }
}

TEST_F(BehaviourTest, SqlHandlerErrorRollsBackOnlyItsEpochAndSkipsOnlyThatEvent) {
  // SQL-form statements run without savepoints; a failure rolls back to the start of its
  // epoch and replays that epoch with per-event isolation. Earlier epochs stay as they are.
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE user_directory (user_id varchar(255) PRIMARY KEY, "
                         "email varchar(255) NOT NULL, name varchar(255))")
                  .ok());
  std::vector<int64_t> bad_positions;
  int64_t unknown_position = 0;
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    std::string id = absl::StrCat("u", 10 + i);
    if (i == 8) {
      // An unknown type in the epoch that is replayed: warned once, not again on replay.
      auto unknown = WriteMessage(*conn_, "test::user-x", "Test.Mystery.v1", R"({"user_id": "x"})");
      ASSERT_TRUE(unknown.ok());
      unknown_position = *unknown;
    }
    if (i == 9 || i == 14) {
      auto bad = WriteMessage(*conn_, "test::user-" + id, "Test.Registered.v1",
                              absl::StrCat(R"({"user_id": ")", id, R"(", "email": null})"));
      ASSERT_TRUE(bad.ok());
      bad_positions.push_back(*bad);
    } else {
      Register(id, "N" + id, id + "@x");
      absl::StrAppend(&expected, id, "\n");
    }
  }
  for (auto strategy : {rebuild::Strategy::kAtomic, rebuild::Strategy::kInplace}) {
    std::vector<std::string> warnings;
    RebuildOptions options;
    options.batch_size = 2;
    options.sql_epoch_events = 4;
    options.strategy = strategy;
    options.on_progress = [&](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::kWarning) warnings.push_back(e.message);
    };
    auto result = Rebuild("UserDirectory", options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->success());
    EXPECT_EQ(result->events_dispatched, 18);
    EXPECT_EQ(result->events_skipped, 3);
    EXPECT_EQ(Dump("SELECT user_id FROM user_directory ORDER BY 1"), expected);
    ASSERT_EQ(warnings.size(), 3u) << absl::StrJoin(warnings, "\n");
    EXPECT_THAT(warnings[0],
                HasSubstr(absl::StrCat("Test.Mystery.v1` at global position ", unknown_position)));
    EXPECT_THAT(warnings[1], HasSubstr(absl::StrCat("global position ", bad_positions[0], ":")));
    EXPECT_THAT(warnings[2], HasSubstr(absl::StrCat("global position ", bad_positions[1], ":")));
  }
}

TEST_F(BehaviourTest, AnEstimatedTotalEndsExact) {
  for (int i = 0; i < 30; ++i) Register(absl::StrCat("u", i), "U");
  // With statistics, the head snapshot estimates the count instead of scanning for it.
  ASSERT_TRUE(conn_->Exec("ANALYZE message_store.messages").ok());
  std::vector<std::pair<int64_t, int64_t>> progress;  // processed, total
  RebuildOptions options;
  options.batch_size = 7;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kProgress) progress.emplace_back(e.processed, e.total);
  };
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_dispatched, 30);
  ASSERT_FALSE(progress.empty());
  for (size_t i = 0; i + 1 < progress.size(); ++i) {
    EXPECT_LT(progress[i].first, progress[i].second) << "an estimate never reads as done early";
  }
  EXPECT_EQ(progress.back(), std::make_pair(int64_t{30}, int64_t{30}));
}

TEST_F(BehaviourTest, Float8RunningSumsFollowSetsAndSurviveAnOverflow) {
  // float8 increments are folded on a running double; a set in between resets it and an
  // overflowing event fails alone, leaving the sum as it was.
  Register("u", "U");
  Transact("u", 1e308);
  Transact("u", 1e308);  // overflow: skipped
  Transact("u", 0.5);
  Register("u", "V");  // balance = 0 again
  Transact("u", 0.1);
  Transact("u", 0.2);
  Register("w", "W");
  Transact("w", 1e308);
  // Row cache of 1 byte: the rows are written after every batch and fetched back, their
  // running sums parsed from the stored text.
  for (auto [batch, cache_bytes] :
       {std::pair{1, 64 << 20}, {3, 64 << 20}, {100, 64 << 20}, {1, 1}, {2, 1}}) {
    RebuildOptions options;
    options.batch_size = batch;
    options.row_cache_bytes = cache_bytes;
    auto result = Rebuild("Balances", options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->events_skipped, 1) << "batch " << batch << " cache " << cache_bytes;
    EXPECT_EQ(Dump("SELECT user_id, name, balance FROM balances ORDER BY 1"),
              "u|V|0.30000000000000004\nw|W|1e+308\n")
        << "batch " << batch << " cache " << cache_bytes;
  }
}

TEST_F(BehaviourTest, ActionHandlerFailuresSkipOnlyThoseEvents) {
  Register("u1", "U");
  Transact("u1", 5);
  Write("test::transaction-u1", "Test.Transacted.v1", {{"user_id", "u1"}, {"amount", "abc"}});
  Write("test::transaction-u1", "Test.Transacted.v1", {{"amount", 7}});  // no key
  Write("test::transaction-u1", "Test.Transacted.v1", {{"user_id", "u1"}, {"amount", true}});
  Transact("u1", 6);
  for (int batch : {1, 500}) {
    RebuildOptions options;
    options.batch_size = batch;
    auto result = Rebuild("Balances", options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->success());
    EXPECT_EQ(result->events_dispatched, 3) << batch;
    EXPECT_EQ(result->events_skipped, 3) << batch;
    EXPECT_EQ(Balance("u1"), 11.0) << batch;
  }
}

TEST_F(BehaviourTest, DatabaseErrorInABatchWriteFallsBackToOneEventAtATime) {
  // A CHECK constraint the in-memory fold cannot know: the batch write fails, the batch is
  // redone event by event, and only the offending event is skipped.
  ASSERT_TRUE(Rebuild("Balances").ok());
  ASSERT_TRUE(conn_->Exec("ALTER TABLE balances ADD CONSTRAINT small CHECK (balance < 1000)").ok());
  Register("a", "A");
  Register("b", "B");
  Transact("a", 10);
  Transact("b", 5000);  // violates the check
  Transact("b", 20);
  auto result = Rebuild("Balances");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_skipped, 1);
  EXPECT_EQ(result->events_dispatched, 4);
  EXPECT_EQ(Balance("a"), 10.0);
  EXPECT_EQ(Balance("b"), 20.0);
}

TEST_F(BehaviourTest, EventsAppendedAfterTheHeadSnapshotAreNotReplayed) {
  Register("u1", "U");
  Transact("u1", 1);
  auto writer = storage::PgConnection::Connect(uri_);
  ASSERT_TRUE(writer.ok());
  int64_t total = -1;
  RebuildOptions options;
  options.batch_size = 1;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kPhase && e.phase == rebuild::Phase::kTruncate) {
      ASSERT_TRUE(WriteMessage(*writer, "test::transaction-u1", "Test.Transacted.v1",
                               R"({"user_id": "u1", "amount": 100})")
                      .ok());
    }
    if (e.kind == ProgressEvent::Kind::kProgress && e.processed == 1) {
      ASSERT_TRUE(WriteMessage(*writer, "test::transaction-u1", "Test.Transacted.v1",
                               R"({"user_id": "u1", "amount": 1000})")
                      .ok());
    }
    if (e.kind == ProgressEvent::Kind::kProgress) total = e.total;
  };
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_dispatched, 2);
  EXPECT_EQ(total, 2);
  EXPECT_EQ(Balance("u1"), 1.0);
  EXPECT_EQ(Count("message_store.messages"), 4);
}

TEST_F(BehaviourTest, FactStreamsAreIncludedAndSnapshotsExcluded) {
  Register("u1", "U");
  Write("test::user-fact-u2", "Test.Registered.v1",
        {{"user_id", "u2"}, {"name", "Fact"}, {"email", "f@x"}});
  Write("test::user:snapshot-u1", "SNAPSHOT", {{"user_id", "u1"}, {"name", "Snap"}});
  Write("test::user:command-u1", "Test.Registered.v1", {{"user_id", "cmd"}, {"name", "C"}});
  Write("test::user-u1", "SNAPSHOT", {{"user_id", "u1"}, {"name", "Snap"}});
  int64_t total = -1;
  RebuildOptions options;
  options.on_progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kProgress) total = e.total;
  };
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_dispatched, 2);
  EXPECT_EQ(result->events_skipped, 0);
  EXPECT_EQ(total, 2);
  EXPECT_EQ(Dump("SELECT user_id, name FROM balances ORDER BY 1"), "u1|U\nu2|Fact\n");
}

TEST_F(BehaviourTest, HandOffWritesReadPositionsAtTheHead) {
  const std::string subscriber = "app.projections.TransactionProjector";
  domain_ = MakeTestDomain(uri_, uri_, true, true, subscriber);
  Register("u1", "U");                                                                       // 1
  Transact("u1", 1);                                                                         // 2
  Transact("u1", 2);                                                                         // 3
  Register("u2", "V");                                                                       // 4
  Write("test::user-u2", "Test.ProfileUpdated.v1", {{"user_id", "u2"}, {"new_name", "W"}});  // 5
  // An old checkpoint of the live subscription.
  ASSERT_TRUE(storage::WriteReadPosition(*conn_, subscriber, "test::user", 1).ok());  // 6
  RebuildOptions no_hand_off;
  no_hand_off.hand_off = false;
  ASSERT_TRUE(Rebuild("Balances", no_hand_off).ok());
  auto user = storage::ReadLastPosition(*conn_, subscriber, "test::user");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, std::optional<int64_t>(1));
  auto result = Rebuild("Balances");
  ASSERT_TRUE(result.ok()) << result.status();
  user = storage::ReadLastPosition(*conn_, subscriber, "test::user");
  auto transaction = storage::ReadLastPosition(*conn_, subscriber, "test::transaction");
  ASSERT_TRUE(user.ok() && transaction.ok());
  EXPECT_EQ(*user, std::optional<int64_t>(5));
  EXPECT_EQ(*transaction, std::optional<int64_t>(3));
  // The record as Protean writes it.
  EXPECT_EQ(Dump("SELECT type, data->>'position', metadata->'domain'->>'kind', "
                 "metadata->'domain'->>'origin_stream', metadata->'headers'->>'type', "
                 "metadata->'headers'->>'stream' FROM message_store.messages WHERE stream_name = "
                 "'position-app.projections.TransactionProjector-test::transaction'"),
            "Read|3|READ_POSITION|test::transaction|Read|"
            "position-app.projections.TransactionProjector-test::transaction\n");
  // Other projectors (no subscriber) write nothing.
  EXPECT_EQ(Count("message_store.messages WHERE stream_name LIKE 'position-%'"), 3);
}

TEST_F(BehaviourTest, HandOffToASeparateEventStoreAndEmptyCategories) {
  auto store_uri = CreateScratchDatabase(services_, "store");
  ASSERT_TRUE(store_uri.ok());
  auto store = storage::PgConnection::Connect(*store_uri);
  ASSERT_TRUE(store.ok());
  const std::string subscriber = "app.TP";
  domain_ = MakeTestDomain(*store_uri, uri_, false, false, subscriber);
  ASSERT_TRUE(WriteMessage(*store, "test::user-u1", "Test.Registered.v1",
                           R"({"user_id": "u1", "name": "U"})")
                  .ok());
  auto result = Rebuild("Balances");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_dispatched, 1);
  EXPECT_EQ(Count("balances"), 1);
  auto user = storage::ReadLastPosition(*store, subscriber, "test::user");
  auto transaction = storage::ReadLastPosition(*store, subscriber, "test::transaction");
  ASSERT_TRUE(user.ok() && transaction.ok());
  EXPECT_EQ(*user, std::optional<int64_t>(1));
  EXPECT_EQ(*transaction, std::optional<int64_t>(0));  // empty: read from the start
  EXPECT_EQ(Count("message_store.messages"), 0);       // nothing in the projection database
}

TEST_F(BehaviourTest, SecondConcurrentRebuildIsRefused) {
  Register("u1", "U");
  ASSERT_TRUE(Rebuild("Balances").ok());
  auto holder = storage::PgConnection::Connect(uri_);
  ASSERT_TRUE(holder.ok());
  const std::string lock = BalancesLockText();
  ASSERT_TRUE(holder->ExecParams("SELECT pg_advisory_lock(hashtextextended($1, 0))", {lock}).ok());
  Transact("u1", 5);
  auto refused = Rebuild("Balances");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(refused.status().message(),
            "Projection 'Balances' is already being rebuilt: another rebuild holds the lock on "
            "what it writes (" +
                lock + ")");
  EXPECT_EQ(Balance("u1"), 0.0);
  // Other projections are not blocked.
  EXPECT_TRUE(Rebuild("UserDirectory").ok());
  ASSERT_TRUE(holder->Exec("SELECT pg_advisory_unlock_all()").ok());
  ASSERT_TRUE(Rebuild("Balances").ok());
  EXPECT_EQ(Balance("u1"), 5.0);
}

// The lock guards the table a rebuild writes: a projection of another name (another domain's)
// writing the same table waits its turn, one of the same name writing another table does not.
TEST_F(BehaviourTest, TheLockFollowsTheTableNotTheProjectionName) {
  Register("u1", "U");
  auto holder = storage::PgConnection::Connect(uri_);
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE(
      holder->ExecParams("SELECT pg_advisory_lock(hashtextextended($1, 0))", {BalancesLockText()})
          .ok());
  domain::Domain ledger = domain_;
  ledger.projections[0].name = "Ledger";  // still table balances
  ledger.projectors[0].projector_for = "Ledger";
  auto refused = rebuild::RebuildProjection(ledger, "Ledger", {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("/public.balances)"));
  // The table spelled with its schema is the same table.
  domain::Domain qualified = domain_;
  qualified.projections[0].schema = "public";
  EXPECT_EQ(rebuild::RebuildProjection(qualified, "Balances", {}).status().code(),
            absl::StatusCode::kAborted);
  domain::Domain elsewhere = domain_;
  elsewhere.projections[0].table = "balances_b";  // same name, another table
  auto other = rebuild::RebuildProjection(elsewhere, "Balances", {});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(Count("balances_b"), 1);
}

TEST_F(BehaviourTest, GuardRefusalAndInvalidArguments) {
  Register("u1", "U");
  ASSERT_TRUE(Rebuild("Balances").ok());
  Transact("u1", 5);
  RebuildOptions options;
  options.guard = [](const domain::Domain&, const domain::Projection& p) {
    return absl::FailedPreconditionError("event server running for " + p.name);
  };
  auto refused = Rebuild("Balances", options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "event server running for Balances");
  EXPECT_EQ(Balance("u1"), 0.0);
  RebuildOptions zero;
  zero.batch_size = 0;
  EXPECT_EQ(Rebuild("Balances", zero).status().code(), absl::StatusCode::kInvalidArgument);
  zero.batch_size = -5;
  EXPECT_EQ(rebuild::RebuildAllProjections(domain_, zero).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto missing = Rebuild("NonExistent");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "Projection 'NonExistent' not found");
}

TEST_F(BehaviourTest, MissingTableWithoutColumnsIsAnErrorBeforeAnythingHappens) {
  domain_.projections[1].columns.clear();  // UserDirectory
  Register("u1", "U");
  auto result = Rebuild("UserDirectory");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("user_directory"));
  EXPECT_EQ(Scalar("SELECT to_regclass('user_directory')::text"), std::nullopt);
}

TEST_F(BehaviourTest, BatchSizesGiveIdenticalResults) {
  // A second projector of Balances, SQL form, runs after the action one for each event: the
  // fold is flushed before SQL-form events so it sees the row.
  domain::Projector audit;
  audit.name = "AuditProjector";
  audit.projector_for = "Balances";
  audit.categories = {"test::user"};
  audit.handlers.push_back(
      SqlHandler("Registered",
                 {Sql("UPDATE balances SET name = upper(name) WHERE user_id = $1", {":user_id"})}));
  audit.handlers.push_back(SqlHandler(
      "ProfileUpdated", {Sql("UPDATE balances SET name = $2 || ':' || balance WHERE user_id = $1",
                             {":user_id", ":new_name"})}));
  domain_.projectors.push_back(audit);
  for (int u = 0; u < 7; ++u) Register("u" + std::to_string(u), "user" + std::to_string(u));
  for (int i = 0; i < 60; ++i) {
    Transact("u" + std::to_string(i % 9), 0.1 * (i + 1));
    if (i % 11 == 0) {
      Write("test::user-u" + std::to_string(i % 7), "Test.ProfileUpdated.v1",
            {{"user_id", "u" + std::to_string(i % 7)}, {"new_name", "n" + std::to_string(i)}});
    }
    if (i % 13 == 0) Write("test::transaction-x", "Test.Mystery.v1", {{"user_id", "u1"}});
    if (i % 17 == 0) {
      Write("test::transaction-x", "Test.Transacted.v1", {{"user_id", "u2"}, {"amount", "bad"}});
    }
  }
  std::string reference;
  int64_t dispatched = -1, skipped = -1;
  // The last runs hold almost no rows: every batch is written and its rows fetched back.
  for (auto [batch, cache_bytes] :
       {std::pair{1, 64 << 20}, {4, 64 << 20}, {1000, 64 << 20}, {7, 64 << 20}, {4, 1}, {7, 1}}) {
    RebuildOptions options;
    options.batch_size = batch;
    options.row_cache_bytes = cache_bytes;
    auto result = Rebuild("Balances", options);
    ASSERT_TRUE(result.ok()) << result.status();
    std::string dump = Dump("SELECT * FROM balances ORDER BY user_id");
    if (reference.empty()) {
      reference = dump;
      dispatched = result->events_dispatched;
      skipped = result->events_skipped;
      continue;
    }
    EXPECT_EQ(dump, reference) << "batch " << batch << " cache " << cache_bytes;
    EXPECT_EQ(result->events_dispatched, dispatched) << "batch " << batch;
    EXPECT_EQ(result->events_skipped, skipped) << "batch " << batch;
  }
  EXPECT_THAT(reference, HasSubstr("u3|USER3|"));
  EXPECT_EQ(skipped, 5 + 4);  // 5 unknown types, 4 bad amounts (one projector listens)
}

// Folded arithmetic equals one-by-one SQL: exact numeric, numeric(12,2) rounding, double
// additions in event order, bigint.
TEST_F(BehaviourTest, FoldedArithmeticEqualsOneByOneSql) {
  const char* kColumns =
      "(id text PRIMARY KEY, amount numeric, rounded numeric(30,2), d double precision, "
      "f real, i bigint)";
  ASSERT_TRUE(conn_->Exec(std::string("CREATE TABLE totals ") + kColumns).ok());
  ASSERT_TRUE(conn_->Exec(std::string("CREATE TABLE reference ") + kColumns).ok());
  domain::Projection totals;
  totals.name = "Totals";
  totals.key = "id";
  totals.table = "totals";
  totals.database = "default";
  domain_.projections = {totals};
  domain::Projector p;
  p.name = "TotalsProjector";
  p.projector_for = "Totals";
  p.categories = {"test::transaction"};
  std::vector<std::pair<std::string, domain::Value>> values = {{"amount", Ref(":amount")},
                                                               {"rounded", Ref(":amount")},
                                                               {"d", Ref(":amount")},
                                                               {"f", Ref(":amount")}};
  auto with_count = values;
  with_count.push_back({"i", Lit(1)});
  p.handlers.push_back(ActionHandler("Transacted", ":user_id", {}, with_count, with_count));
  domain_.projectors = {p};
  std::vector<std::pair<std::string, std::string>> events = {
      {"a", "1e16"},
      {"a", "1"},
      {"a", "1"},
      {"a", "1"},
      {"a", "-1e16"},
      {"a", "0.1"},
      {"a", "0.2"},
      {"b", "0.1"},
      {"b", "0.2"},
      {"b", "0.3"},
      {"c", "12345678.125"},
      {"c", "0.005"},
      {"c", "-0.015"},
      {"c", "1e3"},
      {"c", "0.0000001"},
      {"d", "3.14159265358979323846264338327950288"},
      {"d", "2.71828182845904523536028747135266249"},
      {"b", "-0.6"}};
  for (const auto& [id, amount] : events) {
    Write("test::transaction-" + id, "Test.Transacted.v1", {{"user_id", id}, {"amount", amount}});
    auto r = conn_->ExecParams(
        "INSERT INTO reference VALUES ($1, $2::numeric, $2::numeric, $3::float8, $4::float4, 1) "
        "ON CONFLICT (id) DO UPDATE SET amount = coalesce(reference.amount, 0) + $2::numeric, "
        "rounded = coalesce(reference.rounded, 0) + $2::numeric, "
        "d = coalesce(reference.d, 0) + $3::float8, f = coalesce(reference.f, 0) + $4::float4, "
        "i = coalesce(reference.i, 0) + 1",
        {id, amount, amount, amount});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  for (int batch : {1, 1000}) {
    RebuildOptions options;
    options.batch_size = batch;
    auto result = Rebuild("Totals", options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->events_skipped, 0);
    EXPECT_EQ(Dump("SELECT * FROM totals ORDER BY id"), Dump("SELECT * FROM reference ORDER BY id"))
        << "batch " << batch;
  }
  EXPECT_EQ(Scalar("SELECT amount FROM totals WHERE id = 'b'"), "0.0");
  EXPECT_EQ(Scalar("SELECT rounded FROM totals WHERE id = 'c'"), "12346678.13");
}

// A projector whose creating handler is in the SQL form and whose deleting handler is in the
// action form: the SQL statements write rows the row cache does not hold, so the cache may not
// take the emptied table for empty after them (the delete was lost, with exit 0).
TEST_F(BehaviourTest, MixedFormsKeepActionDeletesOfRowsWrittenBySql) {
  domain::Projector& p = domain_.projectors[0];  // TransactionProjector, Balances
  p.handlers.clear();
  p.handlers.push_back(SqlHandler(
      "Registered", {Sql("INSERT INTO balances (user_id, name, balance) VALUES ($1, $2, 0) "
                         "ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name",
                         {":user_id", ":name"})}));
  p.handlers.push_back(ActionHandler("Transacted", ":user_id", {}, {}, {}, /*remove=*/true));
  // o0..o2 created and deleted one after another, then o3..o5 created first and deleted
  // after, then o6 created and left.
  for (int i = 0; i < 3; ++i) {
    Register(absl::StrCat("o", i), "N");
    Transact(absl::StrCat("o", i), 1);
  }
  for (int i = 3; i < 6; ++i) Register(absl::StrCat("o", i), "N");
  for (int i = 3; i < 6; ++i) Transact(absl::StrCat("o", i), 1);
  Register("o6", "N");
  for (auto strategy : {rebuild::Strategy::kAtomic, rebuild::Strategy::kInplace}) {
    for (int batch : {1, 2, 500}) {
      RebuildOptions options;
      options.strategy = strategy;
      options.batch_size = batch;
      auto result = Rebuild("Balances", options);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->events_skipped, 0);
      EXPECT_EQ(Dump("SELECT user_id FROM balances ORDER BY 1"), "o6\n")
          << "strategy " << static_cast<int>(strategy) << " batch " << batch;
    }
  }
}

}  // namespace
}  // namespace protean_admin::testing
