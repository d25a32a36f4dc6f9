// The storage pieces of a rebuild on the scratch PostgreSQL: head snapshots, keyset pages
// merged across categories, pipelines with per-statement status, advisory locks, COPY.

#include "storage/message_reader.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/advisory_lock.h"
#include "storage/pg_connection.h"
#include "storage/pg_pipeline.h"
#include "storage/projection_store.h"
#include "storage/projection_table.h"
#include "tests/harness/test_services.h"

namespace protean_admin::storage {
namespace {

using ::testing::ElementsAre;

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "storage");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
  }
  int64_t Write(const std::string& stream, const std::string& type) {
    auto gp = testing::WriteMessage(*conn_, stream, type, R"({"n": 1})");
    EXPECT_TRUE(gp.ok()) << gp.status();
    return gp.ok() ? *gp : -1;
  }

  std::string uri_;
  std::optional<PgConnection> conn_;
};

TEST_F(StorageTest, MergesCategoriesInGlobalOrderUpToTheHead) {
  Write("a-1", "X");           // 1
  Write("b-1", "X");           // 2
  Write("a-2", "X");           // 3
  Write("a:snapshot-1", "X");  // 4: another category
  Write("a-1", "SNAPSHOT");    // 5: never an event
  Write("b-fact-2", "X");      // 6: same category b
  Write("a-3", "X");           // 7
  auto a = SnapshotHead(*conn_, "a");
  auto b = SnapshotHead(*conn_, "b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->head, 7);
  EXPECT_EQ(a->count, 3);
  EXPECT_EQ(b->head, 6);
  EXPECT_EQ(b->count, 2);
  Write("a-4", "X");  // after the head
  for (int page : {1, 2, 100}) {
    std::vector<CategoryReader> readers;
    readers.emplace_back(&*conn_, "a", a->head, page, ReadColumns{});
    readers.emplace_back(&*conn_, "b", b->head, page, ReadColumns{true, true});
    MessageMerger merger(std::move(readers));
    std::vector<std::string> seen;
    while (true) {
      auto next = merger.Next();
      ASSERT_TRUE(next.ok()) << next.status();
      if (!next->has_value()) break;
      seen.push_back(std::to_string((*next)->GlobalPosition()) + " " +
                     std::string((*next)->StreamName()));
    }
    EXPECT_THAT(seen, ElementsAre("1 a-1", "2 b-1", "3 a-2", "6 b-fact-2", "7 a-3"))
        << "page " << page;
  }
  // Reading a range (after, head].
  CategoryReader range(&*conn_, "a", 7, 10, ReadColumns{}, /*after=*/1);
  ASSERT_TRUE(*range.Ready());
  EXPECT_EQ(range.CurrentPosition(), 3);
}

TEST_F(StorageTest, StreamsSeveralCategoriesInOnePassEachUpToItsOwnHead) {
  Write("a-1", "X");           // 1
  Write("b-1", "X");           // 2
  Write("a:snapshot-1", "X");  // 3: another category
  Write("a-2", "SNAPSHOT");    // 4: never an event
  Write("c-1", "X");           // 5: not asked for
  Write("b-2", "X");           // 6
  auto heads = SnapshotHeads(*conn_, {"a", "b", "empty"});
  ASSERT_TRUE(heads.ok()) << heads.status();
  ASSERT_EQ(heads->size(), 3u);
  EXPECT_EQ((*heads)[0].head, 4);
  EXPECT_EQ((*heads)[1].head, 6);
  EXPECT_EQ((*heads)[2].head, 0);
  // Events after a category's head are not that category's (a commit after the snapshot).
  (*heads)[1].head = 2;
  Write("a-3", "X");  // 7: after every head
  for (int page : {1, 2, 100}) {
    auto conn = PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(PrepareEventStoreConnection(*conn).ok());
    std::vector<CategoryReader> readers;
    readers.push_back(CategoryReader::Streaming(std::move(*conn), *heads, page, ReadColumns{}));
    MessageMerger merger(std::move(readers));
    std::vector<std::string> seen;
    while (true) {
      auto next = merger.Next();
      ASSERT_TRUE(next.ok()) << next.status();
      if (!next->has_value()) break;
      seen.push_back(absl::StrCat((*next)->GlobalPosition(), " ",
                                  std::string((*next)->StreamName()), " ", (*next)->source));
    }
    EXPECT_THAT(seen, ElementsAre("1 a-1 0", "2 b-1 1")) << "page " << page;
  }
}

TEST_F(StorageTest, HeadCountsAreExactWithoutStatisticsAndEstimatedWithThem) {
  for (int i = 0; i < 40; ++i) Write("a-" + std::to_string(i), "X");
  Write("a-0", "SNAPSHOT");
  auto exact = SnapshotHeads(*conn_, {"a"});
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_TRUE((*exact)[0].count_exact);
  EXPECT_EQ((*exact)[0].count, 40);
  ASSERT_TRUE(conn_->Exec("ANALYZE message_store.messages").ok());
  auto estimated = SnapshotHeads(*conn_, {"a", "b"});
  ASSERT_TRUE(estimated.ok()) << estimated.status();
  EXPECT_FALSE((*estimated)[0].count_exact);
  EXPECT_EQ((*estimated)[0].head, 41);
  EXPECT_GT((*estimated)[0].count, 0);
  EXPECT_EQ((*estimated)[1].count, 0);  // an empty category is known empty
}

TEST_F(StorageTest, PipelineReportsTheFirstFailureAndSkipsTheRest) {
  ASSERT_TRUE(conn_->Exec("CREATE TABLE t (k int PRIMARY KEY)").ok());
  ASSERT_TRUE(conn_->Prepare("ins", "INSERT INTO t VALUES ($1)").ok());
  ASSERT_TRUE(conn_->Exec("BEGIN; SAVEPOINT s").ok());
  std::vector<PipelineCommand> commands;
  for (const char* v : {"1", "2", "1", "3"}) commands.push_back({"ins", {std::string(v)}});
  auto statuses = RunPipeline(*conn_, commands, /*chunk_size=*/2);
  ASSERT_TRUE(statuses.ok()) << statuses.status();
  EXPECT_EQ(FirstFailure(*statuses), 2);
  EXPECT_EQ(SqlState((*statuses)[2]), "23505");
  EXPECT_FALSE((*statuses)[3].ok());
  ASSERT_TRUE(conn_->Exec("ROLLBACK TO SAVEPOINT s").ok());
  commands.erase(commands.begin() + 2);
  statuses = RunPipeline(*conn_, commands);
  ASSERT_TRUE(statuses.ok());
  EXPECT_EQ(FirstFailure(*statuses), -1);
  ASSERT_TRUE(conn_->Exec("COMMIT").ok());
  auto n = conn_->Exec("SELECT count(*) FROM t");
  EXPECT_EQ(n->Get(0, 0), "3");
}

TEST_F(StorageTest, AdvisoryLockIsExclusiveAcrossSessions) {
  auto other = PgConnection::Connect(uri_);
  ASSERT_TRUE(other.ok());
  absl::StatusOr<std::string> text = TableLockText(*conn_, "", "balances");
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<std::string> other_table = TableLockText(*conn_, "", "other");
  ASSERT_TRUE(other_table.ok()) << other_table.status();
  EXPECT_TRUE(*TryAdvisoryLock(*conn_, *text));
  EXPECT_FALSE(*TryAdvisoryLock(*other, *text));
  EXPECT_TRUE(*TryAdvisoryLock(*other, *other_table));
  ASSERT_TRUE(AdvisoryUnlock(*conn_, *text).ok());
  EXPECT_TRUE(*TryAdvisoryLock(*other, *text));
}

// The lock text names the table a rebuild writes, as PostgreSQL resolves it, whatever
// spelling (schema given, or found through the search_path) led there.
TEST_F(StorageTest, TableLockTextNamesTheResolvedTable) {
  auto db = conn_->Exec("SELECT current_database()");
  ASSERT_TRUE(db.ok());
  const std::string prefix = absl::StrCat("protean-admin:table:", std::string(db->Get(0, 0)), "/");
  // Missing tables: where CREATE TABLE would put them.
  EXPECT_EQ(TableLockText(*conn_, "", "balances").value_or(""), prefix + "public.balances");
  EXPECT_EQ(TableLockText(*conn_, "reports", "Balances").value_or(""),
            prefix + "reports.\"Balances\"");
  ASSERT_TRUE(conn_
                  ->Exec("CREATE SCHEMA \"Odd Schema\"; "
                         "CREATE TABLE \"Odd Schema\".\"My Table\" (id int); "
                         "CREATE TABLE public.\"My Table\" (id int)")
                  .ok());
  const std::string odd = prefix + "\"Odd Schema\".\"My Table\"";
  EXPECT_EQ(TableLockText(*conn_, "Odd Schema", "My Table").value_or(""), odd);
  EXPECT_EQ(TableLockText(*conn_, "", "My Table").value_or(""), prefix + "public.\"My Table\"");
  // The same table found through the search_path (as a projection without a schema whose
  // database sets none, on a connection whose role defaults to that path).
  ASSERT_TRUE(conn_->Exec("SET search_path TO \"Odd Schema\", public").ok());
  EXPECT_EQ(TableLockText(*conn_, "", "My Table").value_or(""), odd);
  // A missing table under that search_path would be created in its first schema.
  EXPECT_EQ(TableLockText(*conn_, "", "later").value_or(""), prefix + "\"Odd Schema\".later");
}

TEST_F(StorageTest, ProjectionStoreFetchesCanonicalKeysAndWritesRows) {
  ASSERT_TRUE(
      CreateTable(*conn_, "", "p", {{"id", "int"}, {"v", "text"}, {"d", "int DEFAULT 7"}}, "id")
          .ok());
  auto info = LoadTableInfo(*conn_, "", "p");
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->qualified, "\"public\".\"p\"");
  ASSERT_EQ((*info)->columns.size(), 3u);
  EXPECT_EQ((*info)->columns[0].type_name, "int4");
  PgProjectionStore store(&*conn_, **info, 0);
  WriteSet writes;
  writes.groups.push_back(
      {{0, 1}, {{std::string("1"), std::string("tab\there")}, {std::string("2"), std::nullopt}}});
  ASSERT_TRUE(store.Write(writes).ok());
  auto fetched = store.Fetch({"01", "2", "3"});
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_THAT(fetched->canonical, ElementsAre("1", "2", "3"));
  ASSERT_EQ(fetched->rows.size(), 2u);
  EXPECT_FALSE(store.Fetch({"x"}).ok());  // not an int
  auto rows = conn_->Exec("SELECT id, v, d FROM p ORDER BY id");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->Get(0, 1), "tab\there");
  EXPECT_EQ(rows->Get(1, 2), "7");  // default for the unassigned column
  EXPECT_TRUE(rows->IsNull(1, 1));
  ASSERT_TRUE(store.Truncate().ok());
  EXPECT_EQ(conn_->Exec("SELECT count(*) FROM p")->Get(0, 0), "0");
  auto missing = LoadTableInfo(*conn_, "public", "nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

}  // namespace
}  // namespace protean_admin::storage
