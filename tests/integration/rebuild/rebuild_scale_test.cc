// A history spanning many batches: the engine's peak heap is bounded by the batch, not by
// the history (50,000 vs 200,000 events), and the throughput is reported.

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::testing {
namespace {

constexpr int kUsers = 1000;

struct Measured {
  int64_t events = 0;
  double seconds = 0;
  int64_t peak_heap_delta = 0;  // bytes in use by malloc above the baseline, peak per batch
};

class ScaleTest : public RebuildFixture {
 protected:
  // U registrations, then T transactions of 1.5 spread over the users, 10% of them stored
  // as unknown-version noise that is skipped.
  void Generate(int transactions) {
    auto r = conn_->Exec(
        "INSERT INTO message_store.messages (stream_name, position, type, data) "
        "SELECT 'test::user-' || n, 0, 'Test.Registered.v1', jsonb_build_object('user_id', "
        "n::text, 'name', 'User ' || n, 'email', 'u' || n || '@example.com') "
        "FROM generate_series(0, " +
        std::to_string(kUsers - 1) + ") n");
    ASSERT_TRUE(r.ok()) << r.status();
    r = conn_->Exec(
        "INSERT INTO message_store.messages (stream_name, position, type, data) "
        "SELECT 'test::transaction-' || (n % " +
        std::to_string(kUsers) + "), n / " + std::to_string(kUsers) +
        ", 'Test.Transacted.v1', jsonb_build_object('user_id', (n % " + std::to_string(kUsers) +
        ")::text, 'amount', 1.5) FROM generate_series(0, " + std::to_string(transactions - 1) +
        ") n");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(conn_->Exec("ANALYZE message_store.messages").ok());
  }

  Measured Measure(const std::string& projection, int batch) {
    Measured run;
    malloc_trim(0);
    int64_t baseline = static_cast<int64_t>(mallinfo2().uordblks);
    int64_t peak = 0;
    rebuild::RebuildOptions options;
    options.batch_size = batch;
    options.on_progress = [&](const rebuild::ProgressEvent& e) {
      if (e.kind != rebuild::ProgressEvent::Kind::kProgress) return;
      peak = std::max(peak, static_cast<int64_t>(mallinfo2().uordblks) - baseline);
    };
    auto start = std::chrono::steady_clock::now();
    auto result = Rebuild(projection, options);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return run;
    run.events = result->events_dispatched + result->events_skipped;
    run.peak_heap_delta = peak;
    return run;
  }
};

TEST_F(ScaleTest, PeakMemoryDoesNotGrowWithHistory) {
  Generate(49000);
  Measured small = Measure("Balances", 500);
  EXPECT_EQ(small.events, 50000);
  EXPECT_EQ(Balance("7"), 1.5 * 49);
  // The SQL form over the same history: one INSERT per transaction, sent in pipelines.
  domain::Projection ledger;
  ledger.name = "Ledger";
  ledger.key = "gp";
  ledger.table = "ledger";
  ledger.database = "default";
  ledger.columns = {{"gp", "bigint"}, {"user_id", "text"}, {"amount", "double precision"}};
  domain_.projections.push_back(ledger);
  domain::Projector lp;
  lp.name = "LedgerProjector";
  lp.projector_for = "Ledger";
  lp.categories = {"test::transaction"};
  lp.handlers.push_back(
      SqlHandler("Transacted", {Sql("INSERT INTO ledger (gp, user_id, amount) VALUES ($1, $2, $3)",
                                    {":$global_position", ":user_id", ":amount"})}));
  domain_.projectors.push_back(lp);
  Measured sql = Measure("Ledger", 500);
  EXPECT_EQ(sql.events, 49000);
  EXPECT_EQ(Count("ledger"), 49000);
  // Four times the history, in a fresh database.
  SetUp();
  Generate(199000);
  Measured large = Measure("Balances", 500);
  EXPECT_EQ(large.events, 200000);
  EXPECT_EQ(Balance("7"), 1.5 * 199);
  EXPECT_EQ(Count("balances"), kUsers);
  std::printf(
      "[scale] action form: 50k events %.2fs (%.0f ev/s), peak heap +%lld KiB; 200k events "
      "%.2fs (%.0f ev/s), peak heap +%lld KiB\n",
      small.seconds, small.events / small.seconds, (long long)small.peak_heap_delta / 1024,
      large.seconds, large.events / large.seconds, (long long)large.peak_heap_delta / 1024);
  std::printf("[scale] SQL form: %lld events %.2fs (%.0f ev/s), peak heap +%lld KiB\n",
              (long long)sql.events, sql.seconds, sql.events / sql.seconds,
              (long long)sql.peak_heap_delta / 1024);
  // Bounded by the batch: the 4x history may not need more than the small one plus a
  // tolerance for allocator noise (1 MiB) and growth of hash tables (50%).
  EXPECT_LT(large.peak_heap_delta, small.peak_heap_delta * 3 / 2 + (1 << 20));
  EXPECT_LT(large.peak_heap_delta, 64 << 20);
}

}  // namespace
}  // namespace protean_admin::testing
