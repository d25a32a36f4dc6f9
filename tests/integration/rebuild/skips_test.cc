// Skipped events are explained (reasons grouped with their first positions), a projector
// whose every handled event fails is reported loudly, and --max-skipped fails the rebuild:
// atomic rolls back, in place leaves a partial projection that says so.

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::testing {
namespace {

using rebuild::RebuildOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SkipsTest : public RebuildFixture {
 protected:
  // u0..u4 registered with 10 each; bad amounts at the returned positions.
  std::vector<int64_t> SeedWithBadAmounts(int bad) {
    std::vector<int64_t> positions;
    for (int i = 0; i < 5; ++i) {
      Register(absl::StrCat("u", i), "U");
      Transact(absl::StrCat("u", i), 10);
    }
    for (int i = 0; i < bad; ++i) {
      auto p = WriteMessage(*conn_, "test::transaction-u1", "Test.Transacted.v1",
                            R"({"user_id": "u1", "amount": "bad"})");
      EXPECT_TRUE(p.ok());
      positions.push_back(*p);
    }
    Write("test::transaction-x", "Test.Mystery.v1", {{"user_id", "u2"}});
    return positions;
  }
};

TEST_F(SkipsTest, ReasonsAreGroupedWithTheirFirstPositions) {
  std::vector<int64_t> bad = SeedWithBadAmounts(7);
  auto result = Rebuild("Balances");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->success());
  EXPECT_EQ(result->events_skipped, 8);
  ASSERT_EQ(result->skip_reasons.size(), 2u);
  const rebuild::SkipReason& amounts = result->skip_reasons[0];
  EXPECT_EQ(amounts.projector, "TransactionProjector");
  EXPECT_EQ(amounts.event_type, "Test.Transacted.v1");
  EXPECT_THAT(amounts.reason, HasSubstr("invalid input syntax for type double precision"));
  EXPECT_EQ(amounts.count, 7);
  EXPECT_THAT(amounts.first_positions, ElementsAre(bad[0], bad[1], bad[2], bad[3], bad[4]));
  const rebuild::SkipReason& unknown = result->skip_reasons[1];
  EXPECT_EQ(unknown.projector, "");
  EXPECT_EQ(unknown.event_type, "Test.Mystery.v1");
  EXPECT_THAT(unknown.reason, HasSubstr("cannot be resolved"));
  EXPECT_EQ(unknown.count, 1);
  EXPECT_TRUE(result->warnings.empty());
}

TEST_F(SkipsTest, MaxSkippedRollsBackAnAtomicRebuild) {
  SeedWithBadAmounts(0);
  ASSERT_TRUE(Rebuild("Balances").ok());
  const std::string before = Dump("SELECT * FROM balances ORDER BY user_id");
  SeedWithBadAmounts(3);  // 5 skips in all: 3 bad amounts, 2 unknown types
  for (int batch : {1, 500}) {
    RebuildOptions options;
    options.batch_size = batch;
    options.max_skipped = 3;
    auto result = Rebuild("Balances", options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->success());
    EXPECT_FALSE(result->partial);
    ASSERT_EQ(result->errors.size(), 1u);
    EXPECT_THAT(result->errors[0], HasSubstr("more than the 3 allowed (--max-skipped)"));
    EXPECT_THAT(result->errors[0], HasSubstr("rolled back"));
    EXPECT_FALSE(result->skip_reasons.empty());
    EXPECT_EQ(Dump("SELECT * FROM balances ORDER BY user_id"), before) << "batch " << batch;
  }
  RebuildOptions options;
  options.max_skipped = 5;  // exactly as many as there are: fine
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->success());
  EXPECT_EQ(result->events_skipped, 5);
}

TEST_F(SkipsTest, MaxSkippedStopsAnInplaceRebuildAsPartial) {
  SeedWithBadAmounts(2);
  RebuildOptions options;
  options.strategy = rebuild::Strategy::kInplace;
  options.batch_size = 2;
  options.max_skipped = 0;  // --strict
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->success());
  EXPECT_TRUE(result->partial);
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_THAT(result->errors[0], HasSubstr("more than the 0 allowed"));
  // Stopped after the batch of the first skips (events 11 and 12, both bad amounts).
  EXPECT_EQ(result->events_skipped, 2);
  EXPECT_EQ(Count("balances"), 5);
}

TEST_F(SkipsTest, AProjectorWhoseEveryHandledEventFailsIsReported) {
  // A key field missing from every event: every handled event fails.
  domain_.projectors[0].handlers[0].key = Ref(":no_such_field");
  domain_.projectors[0].handlers[1].key = Ref(":no_such_field");
  for (int i = 0; i < 4; ++i) {
    Register(absl::StrCat("u", i), "U");
    Transact(absl::StrCat("u", i), 1);
  }
  std::vector<std::string> warnings;
  RebuildOptions options;
  options.on_progress = [&](const rebuild::ProgressEvent& e) {
    if (e.kind == rebuild::ProgressEvent::Kind::kWarning) warnings.push_back(e.message);
  };
  auto result = Rebuild("Balances", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->success());  // Protean's semantics: skips do not fail the rebuild
  EXPECT_EQ(result->events_skipped, 8);
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_THAT(result->warnings[0],
              HasSubstr("Projector 'TransactionProjector': every one of the 8 events it handled "
                        "failed (first: Test."));
  EXPECT_THAT(result->warnings[0], HasSubstr("is NULL"));
  EXPECT_THAT(warnings.back(), HasSubstr("every one of the 8 events"));
}

TEST_F(SkipsTest, ReasonsOfAReplayedEpochAreCountedOnce) {
  // A SQL-form failure rolls its epoch back and replays it event by event: the skip log is
  // restored to the epoch's start, so each skip counts once.
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE user_directory (user_id varchar(255) PRIMARY KEY, "
                         "email varchar(255) NOT NULL, name varchar(255))")
                  .ok());
  for (int i = 0; i < 10; ++i) {
    if (i % 3 == 1) {
      Write("test::user-b" + std::to_string(i), "Test.Registered.v1",
            {{"user_id", "b" + std::to_string(i)}, {"email", nullptr}});
    } else {
      Register("u" + std::to_string(i), "N");
    }
  }
  RebuildOptions options;
  options.batch_size = 3;
  options.sql_epoch_events = 4;
  auto result = Rebuild("UserDirectory", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->events_skipped, 3);
  ASSERT_EQ(result->skip_reasons.size(), 1u);
  EXPECT_EQ(result->skip_reasons[0].count, 3);
  EXPECT_THAT(result->skip_reasons[0].reason, HasSubstr("null value in column \"email\""));
  EXPECT_EQ(result->skip_reasons[0].first_positions.size(), 3u);
}

}  // namespace
}  // namespace protean_admin::testing
