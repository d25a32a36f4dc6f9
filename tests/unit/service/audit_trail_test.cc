#include "server/service/audit_trail.h"

#include "gtest/gtest.h"

namespace protean_admin::service {
namespace {

domain::DatabaseConfig Db(std::string name, std::string uri) {
  domain::DatabaseConfig db;
  db.name = std::move(name);
  db.database_uri = std::move(uri);
  return db;
}

TEST(AuditDatabaseOfTest, DefaultDatabaseElseFirstProjectionDatabaseElseEventStore) {
  domain::Domain d;
  d.event_store.database_uri = "postgresql:///events";
  EXPECT_EQ(AuditDatabaseOf(d), "postgresql:///events");  // cache-only (no database)

  d.databases.push_back(Db("reports", "postgresql:///reports"));
  domain::Projection cached;
  cached.name = "Cached";
  cached.cache = "default";
  domain::Projection reports;
  reports.name = "Reports";
  reports.database = "reports";
  d.projections = {cached, reports};
  EXPECT_EQ(AuditDatabaseOf(d), "postgresql:///reports");

  d.databases.push_back(Db("default", "postgresql:///projections"));
  EXPECT_EQ(AuditDatabaseOf(d), "postgresql:///projections");
}

TEST(JobInfoFromRecordTest, ConvertsStateWhoAndResults) {
  storage::RebuildRecord record;
  record.id = "0001";
  record.domain = "bank";
  record.projection = "Balances";
  record.strategy = "inplace";
  record.requested_by = "ci";
  record.peer = "ipv4:127.0.0.1:1";
  record.started_unix_ms = 1000;
  record.finished_unix_ms = 2000;
  record.state = storage::RebuildState::kInterrupted;
  record.errors = {"daemon restarted", "second"};
  record.results_json =
      R"([{"projection":"Balances","success":false,"events_dispatched":7,"events_skipped":2,)"
      R"("errors":["boom"]}])";
  pb::JobInfo info = JobInfoFromRecord(record);
  EXPECT_EQ(info.job_id(), "0001");
  EXPECT_EQ(info.state(), pb::JOB_STATE_INTERRUPTED);
  EXPECT_EQ(info.strategy(), pb::STRATEGY_INPLACE);
  EXPECT_FALSE(info.all());
  EXPECT_EQ(info.projection(), "Balances");
  EXPECT_EQ(info.requested_by(), "ci");
  EXPECT_EQ(info.finished_unix_ms(), 2000);
  EXPECT_EQ(info.error(), "daemon restarted; second");
  ASSERT_EQ(info.results_size(), 1);
  EXPECT_EQ(info.results(0).events_dispatched(), 7);
  EXPECT_EQ(info.results(0).events_skipped(), 2);
  EXPECT_EQ(info.results(0).errors(0), "boom");

  record.projection.reset();
  record.state = storage::RebuildState::kRunning;
  record.finished_unix_ms.reset();
  record.results_json = "not json";
  info = JobInfoFromRecord(record);
  EXPECT_TRUE(info.all());
  EXPECT_EQ(info.state(), pb::JOB_STATE_RUNNING);
  EXPECT_EQ(info.finished_unix_ms(), 0);
  EXPECT_EQ(info.results_size(), 0);
}

}  // namespace
}  // namespace protean_admin::service
