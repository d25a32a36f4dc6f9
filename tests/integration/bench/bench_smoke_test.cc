// The benchmark's 20k-event smoke run (issue 6): the workload lands in Protean's stored shape,
// and every method (engine action form, engine SQL form, set-based SQL, per-event replay)
// yields exactly the Balances of the reference statement. Correctness only: no timing.

#include <openssl/sha.h>

#include <cstdio>
#include <string>

#include "bench/baselines.h"
#include "bench/runner.h"
#include "bench/workload.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pg_connection.h"
#include "tests/harness/test_services.h"

#ifndef PROTEAN_BENCH_REBUILD_BIN
#error "PROTEAN_BENCH_REBUILD_BIN must be defined by the build"
#endif

namespace protean_admin {
namespace {

using storage::PgConnection;

constexpr int64_t kEvents = 20000;

class BenchSmokeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "bench_smoke");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = new std::string(*uri);
    auto summary = bench::GenerateHistory(*uri_, bench::SizesForEvents(kEvents));
    ASSERT_TRUE(summary.ok()) << summary.status();
    summary_ = new bench::WorkloadSummary(*summary);
  }
  static void TearDownTestSuite() {
    delete uri_;
    delete summary_;
    uri_ = nullptr;
    summary_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(uri_, nullptr);
    ASSERT_NE(summary_, nullptr);
    auto conn = PgConnection::Connect(*uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
  }

  int64_t Scalar(const std::string& sql) {
    auto result = conn_->Exec(sql);
    EXPECT_TRUE(result.ok()) << result.status() << "\n" << sql;
    if (!result.ok() || result->rows() != 1) return -1;
    return std::stoll(std::string(result->Get(0, 0)));
  }

  static std::string* uri_;
  static bench::WorkloadSummary* summary_;
  std::optional<PgConnection> conn_;
};

std::string* BenchSmokeTest::uri_ = nullptr;
bench::WorkloadSummary* BenchSmokeTest::summary_ = nullptr;

TEST_F(BenchSmokeTest, WorkloadHasTheReferenceSizes) {
  // 20k: 2,000 users, 18,000 transactions (about 10% at v1), 200 profile updates, 10 unknown.
  EXPECT_EQ(summary_->users, 2000);
  EXPECT_EQ(summary_->transactions, 18000);
  EXPECT_EQ(summary_->profile_updates, 200);
  EXPECT_EQ(summary_->unknown_events, 10);
  EXPECT_EQ(summary_->events, 20210);
  EXPECT_GT(summary_->transactions_v1, 1400);
  EXPECT_LT(summary_->transactions_v1, 2200);
  EXPECT_EQ(Scalar("SELECT count(*) FROM message_store.messages"), summary_->events);
  EXPECT_EQ(Scalar("SELECT count(*) FROM message_store.messages WHERE type = "
                   "'Bank.Transacted.v1'"),
            summary_->transactions_v1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM message_store.messages WHERE type = "
                   "'Bank.Transacted.v2' AND data ? 'currency' AND data ? 'amount'"),
            summary_->transactions - summary_->transactions_v1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM message_store.messages WHERE type = "
                   "'Bank.LegacyBonusGranted.v1' AND stream_name LIKE 'bank::transaction-%'"),
            10);
  EXPECT_EQ(Scalar("SELECT count(*) FROM message_store.messages WHERE type = "
                   "'Bank.ProfileUpdated.v1' AND stream_name LIKE 'bank::user-%' AND "
                   "position > 0"),
            200);
}

TEST_F(BenchSmokeTest, PositionsAreGaplessPerStreamAndGlobalPositionsContinue) {
  EXPECT_EQ(Scalar("SELECT count(*) FROM (SELECT stream_name FROM message_store.messages "
                   "GROUP BY 1 HAVING max(position) + 1 <> count(*) OR min(position) <> 0) s"),
            0);
  // Every user's first event is its registration, and every transaction's user registered
  // before it.
  EXPECT_EQ(Scalar("SELECT count(*) FROM message_store.messages WHERE stream_name LIKE "
                   "'bank::user-%' AND (position = 0) <> (type = 'Bank.Registered.v1')"),
            0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM message_store.messages t WHERE t.stream_name LIKE "
                   "'bank::transaction-%' AND NOT EXISTS (SELECT 1 FROM message_store.messages "
                   "r WHERE r.stream_name = 'bank::user-' || (t.data->>'user_id') AND "
                   "r.position = 0 AND r.global_position < t.global_position)"),
            0);
  // The sequence continues after the explicitly positioned rows.
  EXPECT_EQ(Scalar("SELECT nextval(pg_get_serial_sequence('message_store.messages', "
                   "'global_position'))"),
            summary_->last_global_position + 1);
}

TEST_F(BenchSmokeTest, MetadataIsProteansWithAChecksumOfTheSortedPayload) {
  auto rows = conn_->Exec(
      "SELECT stream_name, type, position, metadata->'headers'->>'stream', "
      "metadata->'headers'->>'type', metadata->'headers'->>'id', "
      "metadata->'domain'->>'kind', metadata->'domain'->>'stream_category', "
      "metadata->'envelope'->>'checksum', metadata->'envelope'->>'specversion', "
      "jsonb_typeof(metadata->'event_store'), data->>'user_id', "
      "(metadata->'headers' ? 'traceparent')::text "
      "FROM message_store.messages WHERE global_position IN (1, 2, 3, 4, 5)");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows(), 5);
  for (int i = 0; i < rows->rows(); ++i) {
    std::string stream(rows->Get(i, 0));
    EXPECT_EQ(rows->Get(i, 3), stream);
    EXPECT_EQ(rows->Get(i, 4), rows->Get(i, 1));
    EXPECT_EQ(std::string(rows->Get(i, 5)), stream + "-" + std::string(rows->Get(i, 2)) + ".1");
    EXPECT_EQ(rows->Get(i, 6), "EVENT");
    EXPECT_EQ(std::string(rows->Get(i, 7)), stream.substr(0, stream.find('-')));
    EXPECT_EQ(rows->Get(i, 8).size(), 64u);
    EXPECT_EQ(rows->Get(i, 9), "1.0");
    EXPECT_EQ(rows->Get(i, 10), "null");
    EXPECT_EQ(rows->Get(i, 12), "true");
  }
  // The checksum is SHA-256 of the payload with sorted keys and "," ":" separators. The
  // first event is a registration: {"email":..,"name":..,"user_id":..}.
  auto first = conn_->Exec(
      "SELECT data->>'email', data->>'name', data->>'user_id', "
      "metadata->'envelope'->>'checksum' FROM message_store.messages WHERE global_position = 1");
  ASSERT_TRUE(first.ok()) << first.status();
  std::string payload = "{\"email\":\"" + std::string(first->Get(0, 0)) + "\",\"name\":\"" +
                        std::string(first->Get(0, 1)) + "\",\"user_id\":\"" +
                        std::string(first->Get(0, 2)) + "\"}";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest);
  std::string hex;
  for (unsigned char b : digest) {
    char buf[3];
    std::snprintf(buf, sizeof(buf), "%02x", b);
    hex += buf;
  }
  EXPECT_EQ(first->Get(0, 3), hex);
}

TEST_F(BenchSmokeTest, EveryMethodYieldsTheReferenceBalances) {
  bench::RunnerOptions options;
  options.uri = *uri_;
  options.rebuild_bin = PROTEAN_BENCH_REBUILD_BIN;
  options.daemon_bin = PROTEAN_BENCH_DAEMON_BIN;
  options.cli_bin = PROTEAN_BENCH_CLI_BIN;
  options.domain_file = PROTEAN_BENCH_DOMAIN_FILE;
  options.sample = summary_->events;  // the whole history, one transaction per event
  options.floor_runs = 1;
  auto report = bench::RunBenchmark(options);
  ASSERT_TRUE(report.ok()) << report.status();
  std::printf("%s", bench::FormatReport(*report).c_str());

  // Both categories, every event: 2,000 + 200 user events, 18,000 + 10 transaction events.
  EXPECT_EQ(report->events, 20210);
  EXPECT_EQ(report->users, 2000);
  ASSERT_EQ(report->methods.size(), 8u);
  ASSERT_FALSE(options.rebuild_bin.empty())
      << "the engine (rebuild_bench) is not built: (a), (b) and (e) cannot be checked";
  for (const bench::MethodResult& m : report->methods) {
    SCOPED_TRACE(m.label);
    EXPECT_TRUE(m.ran) << m.note;
    EXPECT_TRUE(m.correct) << m.note;
    EXPECT_EQ(m.differences, 0);
  }
  // The engine runs dispatched everything but the 10 unknown events, which they skipped.
  for (int i : {0, 2, 4}) {
    EXPECT_EQ(report->methods[i].dispatched, 20200) << report->methods[i].label;
    EXPECT_EQ(report->methods[i].skipped, 10) << report->methods[i].label;
  }
  // Peak memory: of each engine process, and of the daemon (which holds more than the engine).
  for (int i : {0, 1, 2, 3, 4}) EXPECT_GT(report->methods[i].peak_rss_kib, 0);
  EXPECT_GT(report->methods[1].peak_rss_kib, report->methods[0].peak_rss_kib / 2);
  EXPECT_EQ(report->methods[3].label, "(b) the same run by PostgreSQL (--sql-waves)");
  EXPECT_EQ(report->methods[4].label, "(e) engine, Lua form");
  EXPECT_EQ(report->methods[7].events, 20210);  // (d) replayed the whole history

  // The check is not vacuous: the balances are not trivially zero, and one float bit of
  // difference in one row is caught.
  EXPECT_GT(Scalar("SELECT count(*) FROM balances_reference WHERE balance <> 0"), 1000);
  auto tampered = conn_->Exec(
      "UPDATE balances_floor SET balance = balance + 1e-9 WHERE user_id = (SELECT min(user_id) "
      "FROM balances_floor WHERE balance <> 0)");
  ASSERT_TRUE(tampered.ok()) << tampered.status();
  auto differences = bench::CountDifferences(*conn_, "balances_floor", "balances_reference");
  ASSERT_TRUE(differences.ok()) << differences.status();
  EXPECT_EQ(*differences, 2);  // the changed row, once from each side
}

TEST_F(BenchSmokeTest, TheReferenceAddsInEventOrder) {
  // Float addition is not associative: for one user with many transactions, the reference
  // equals a left fold in global_position order done here in C++.
  auto user = conn_->Exec(
      "SELECT data->>'user_id' FROM message_store.messages WHERE type LIKE 'Bank.Transacted.%' "
      "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1");
  ASSERT_TRUE(user.ok()) << user.status();
  std::string user_id(user->Get(0, 0));
  auto amounts = conn_->ExecParams(
      "SELECT coalesce(data->>'amount', data->>'amt') FROM message_store.messages WHERE type "
      "IN ('Bank.Transacted.v1', 'Bank.Transacted.v2') AND data->>'user_id' = $1 ORDER BY "
      "global_position",
      {user_id});
  ASSERT_TRUE(amounts.ok()) << amounts.status();
  ASSERT_GT(amounts->rows(), 10);
  double balance = 0;
  for (int i = 0; i < amounts->rows(); ++i) {
    balance += std::strtod(std::string(amounts->Get(i, 0)).c_str(), nullptr);
  }
  ASSERT_TRUE(bench::CreateBalancesTable(*conn_, "balances_order_check").ok());
  bench::WorkloadOptions names;
  auto timing = bench::RunSetBasedFloor(*conn_, bench::NamesFor(names), "balances_order_check",
                                        bench::FloorForm::kOrderedAggregate, std::nullopt);
  ASSERT_TRUE(timing.ok()) << timing.status();
  auto stored = conn_->ExecParams(
      "SELECT balance::text FROM balances_order_check WHERE user_id = $1", {user_id});
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->rows(), 1);
  EXPECT_EQ(std::strtod(std::string(stored->Get(0, 0)).c_str(), nullptr), balance);
}

}  // namespace
}  // namespace protean_admin
