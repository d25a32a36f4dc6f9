// The status computation (server/rebuild/projection_status.h): the folding rules, and lag,
// staleness, rows and status read from a real Message DB after rebuilds and new events.

#include "server/rebuild/projection_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "common/time_util.h"
#include "domain/env_substitution.h"
#include "server/rebuild/engine.h"
#include "storage/subscription_position.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::testing {
namespace {

using rebuild::AggregateFeeders;
using rebuild::FeederStatus;
using rebuild::ProjectionStatus;
using rebuild::StatusKind;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSubscriber[] = "app.projections.TransactionProjector";

FeederStatus Feeder(std::string projector, std::optional<int64_t> lag,
                    std::optional<int64_t> time_ms) {
  FeederStatus f;
  f.projector = std::move(projector);
  f.category = "c";
  f.lag = lag;
  f.last_updated_unix_ms = time_ms;
  return f;
}

TEST(AggregateFeedersTest, CaughtUpFeedersAreOkWithZeroStaleness) {
  ProjectionStatus s;
  s.feeders = {Feeder("B", 0, 1000), Feeder("A", 0, 5000)};
  AggregateFeeders(60000, &s);
  EXPECT_EQ(s.status, StatusKind::kOk);
  EXPECT_EQ(s.lag, 0);
  EXPECT_EQ(s.staleness_seconds, 0.0);
  EXPECT_EQ(s.last_updated_unix_ms, 5000);
  EXPECT_THAT(s.projectors, ElementsAre("A", "B"));
}

TEST(AggregateFeedersTest, WorstFeederGivesLagAndStaleness) {
  ProjectionStatus s;
  s.feeders = {Feeder("A", 0, 50000), Feeder("A", 3, 10000), Feeder("B", 7, 40000)};
  AggregateFeeders(60000, &s);
  EXPECT_EQ(s.status, StatusKind::kLagging);
  EXPECT_EQ(s.lag, 7);
  EXPECT_EQ(s.staleness_seconds, 50.0);  // A's lagging feeder, last written at 10 s
  EXPECT_EQ(s.last_updated_unix_ms, 50000);
  EXPECT_THAT(s.projectors, ElementsAre("A", "B"));
}

TEST(AggregateFeedersTest, LaggingWithoutRecordHasNoStaleness) {
  ProjectionStatus s;
  s.feeders = {Feeder("A", 4, std::nullopt)};
  AggregateFeeders(60000, &s);
  EXPECT_EQ(s.status, StatusKind::kLagging);
  EXPECT_EQ(s.lag, 4);
  EXPECT_FALSE(s.staleness_seconds.has_value());
  EXPECT_FALSE(s.last_updated_unix_ms.has_value());
}

TEST(AggregateFeedersTest, UnknownUnlessAKnownFeederLags) {
  ProjectionStatus s;
  s.feeders = {Feeder("A", 0, 1000), Feeder("B", std::nullopt, std::nullopt)};
  AggregateFeeders(60000, &s);
  EXPECT_EQ(s.status, StatusKind::kUnknown);
  EXPECT_EQ(s.lag, 0);

  s.feeders.push_back(Feeder("C", 2, 1000));
  AggregateFeeders(60000, &s);
  EXPECT_EQ(s.status, StatusKind::kLagging);
  EXPECT_EQ(s.lag, 2);

  ProjectionStatus none;
  AggregateFeeders(60000, &none);
  EXPECT_EQ(none.status, StatusKind::kUnknown);
  EXPECT_FALSE(none.lag.has_value());
  EXPECT_EQ(rebuild::StatusName(StatusKind::kLagging), "lagging");
}

class ProjectionStatusTest : public RebuildFixture {
 protected:
  void SetUp() override {
    RebuildFixture::SetUp();
    domain_ = MakeTestDomain(uri_, uri_, true, true, kSubscriber);
  }
  const ProjectionStatus& Find(const std::vector<ProjectionStatus>& all, const std::string& name) {
    for (const ProjectionStatus& s : all) {
      if (s.projection_name == name) return s;
    }
    ADD_FAILURE() << "no status for " << name;
    return all.front();
  }
};

TEST_F(ProjectionStatusTest, AfterRebuildOkThenLaggingByTheNewEvents) {
  Register("u1", "Ann");
  Register("u2", "Bob");
  Transact("u1", 10);
  ASSERT_TRUE(Rebuild("Balances").ok());
  ASSERT_TRUE(Rebuild("UserDirectory").ok());

  auto all = rebuild::CollectProjectionStatus(domain_, "", NowUnixMs());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  const ProjectionStatus& b = Find(*all, "Balances");
  EXPECT_EQ(b.status, StatusKind::kOk);
  EXPECT_EQ(b.lag, 0);
  EXPECT_EQ(b.row_count, 2);
  EXPECT_EQ(b.staleness_seconds, 0.0);
  ASSERT_TRUE(b.last_updated_unix_ms.has_value());
  EXPECT_NEAR(static_cast<double>(*b.last_updated_unix_ms), static_cast<double>(NowUnixMs()),
              60000.0);
  EXPECT_THAT(b.projectors, ElementsAre("TransactionProjector"));
  EXPECT_EQ(b.feeders.size(), 2u);
  EXPECT_TRUE(b.diagnostics.empty());
  // UserDirectoryProjector declares no subscriber: unknown, and says why.
  const ProjectionStatus& u = Find(*all, "UserDirectory");
  EXPECT_EQ(u.status, StatusKind::kUnknown);
  EXPECT_FALSE(u.lag.has_value());
  EXPECT_EQ(u.row_count, 2);
  EXPECT_THAT(u.diagnostics, Contains(HasSubstr("declares no subscriber")));

  Transact("u1", 1);
  Transact("u2", 2);
  Transact("u2", 3);
  Register("u3", "Cy");
  const int64_t later = NowUnixMs() + 5000;
  auto balances = rebuild::CollectProjectionStatus(domain_, "Balances", later);
  ASSERT_TRUE(balances.ok()) << balances.status();
  ASSERT_EQ(balances->size(), 1u);
  const ProjectionStatus& l = (*balances)[0];
  EXPECT_EQ(l.status, StatusKind::kLagging);
  EXPECT_EQ(l.lag, 3);  // test::transaction is 3 behind, test::user 1
  EXPECT_EQ(l.row_count, 2);
  ASSERT_TRUE(l.staleness_seconds.has_value());
  EXPECT_GE(*l.staleness_seconds, 4.0);
  ASSERT_EQ(l.feeders.size(), 2u);
  for (const FeederStatus& f : l.feeders) {
    EXPECT_EQ(f.lag, f.category == "test::transaction" ? 3 : 1) << f.category;
  }
}

TEST_F(ProjectionStatusTest, NoPositionRecordCountsTheWholeCategory) {
  Register("u1", "Ann");
  Transact("u1", 10);
  Transact("u1", 20);
  auto all = rebuild::CollectProjectionStatus(domain_, "Balances", NowUnixMs());
  ASSERT_TRUE(all.ok()) << all.status();
  const ProjectionStatus& b = (*all)[0];
  EXPECT_EQ(b.status, StatusKind::kLagging);
  EXPECT_EQ(b.lag, 2);
  EXPECT_FALSE(b.staleness_seconds.has_value());
  EXPECT_FALSE(b.last_updated_unix_ms.has_value());
  EXPECT_FALSE(b.row_count.has_value());  // never rebuilt: no table
  EXPECT_THAT(b.diagnostics, Contains(HasSubstr("has no record in position-" +
                                                std::string(kSubscriber) + "-test::user")));
  EXPECT_THAT(b.diagnostics, Contains(HasSubstr("table 'balances' does not exist")));
}

TEST_F(ProjectionStatusTest, UnknownProjectionIsNotFound) {
  auto all = rebuild::CollectProjectionStatus(domain_, "Nope", NowUnixMs());
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(all.status().message(), "Projection 'Nope' not found");
}

TEST_F(ProjectionStatusTest, StreamSubscriptionGetsNoHandOffAndUnknownStatus) {
  domain_.projectors[0].subscription_type = domain::SubscriptionType::kStream;
  Register("u1", "Ann");
  Transact("u1", 10);
  auto result = Rebuild("Balances");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->success());
  ASSERT_EQ(result->hand_off_notes.size(), 1u);
  EXPECT_EQ(result->hand_off_notes[0],
            "Projector 'TransactionProjector' reads Redis streams (subscription_type = "
            "\"stream\"): no Message DB position written; its consumer group resumes where it "
            "stopped in Redis");
  for (const char* category : {"test::user", "test::transaction"}) {
    auto position = storage::ReadLastPosition(*conn_, kSubscriber, category);
    ASSERT_TRUE(position.ok()) << position.status();
    EXPECT_FALSE(position->has_value()) << category;
  }
  auto all = rebuild::CollectProjectionStatus(domain_, "Balances", NowUnixMs());
  ASSERT_TRUE(all.ok()) << all.status();
  const ProjectionStatus& b = (*all)[0];
  EXPECT_EQ(b.status, StatusKind::kUnknown);
  EXPECT_FALSE(b.lag.has_value());
  EXPECT_EQ(b.row_count, 1);
  EXPECT_THAT(b.diagnostics, Contains(HasSubstr("its position is not tracked in the Message DB")));

  // An event-store projector of the same domain still hands off, without a note.
  domain_.projectors[0].subscription_type = domain::SubscriptionType::kEventStore;
  result = Rebuild("Balances");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->hand_off_notes.empty());
  auto position = storage::ReadLastPosition(*conn_, kSubscriber, "test::user");
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_TRUE(position->has_value());
}

TEST_F(ProjectionStatusTest, UriFromADefaultSaysSoWhenItFails) {
  const std::string note = domain::DefaultedValueNote("domain.toml:12", {"MESSAGE_DB_URL"});
  domain_.event_store.database_uri = "postgresql://127.0.0.1:1/none?connect_timeout=2";
  domain_.event_store.uri_note = note;
  auto all = rebuild::CollectProjectionStatus(domain_, "", NowUnixMs());
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(all.status().message(),
              HasSubstr("(the URI is from the default in domain.toml:12; MESSAGE_DB_URL is not "
                        "set in protean-admind's environment)"));

  domain_ = MakeTestDomain(uri_, "postgresql://127.0.0.1:1/none?connect_timeout=2");
  domain_.databases[0].uri_note = domain::DefaultedValueNote("domain.toml:9", {"DATABASE_URL"});
  auto result = Rebuild("Balances");
  std::string message =
      result.ok() ? absl::StrJoin(result->errors, "; ") : std::string(result.status().message());
  EXPECT_THAT(message, HasSubstr("from the default in domain.toml:9; DATABASE_URL is not set in "
                                 "protean-admind's environment"));
}

}  // namespace
}  // namespace protean_admin::testing
