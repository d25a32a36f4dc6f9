// The Message DB fixture on the scratch PostgreSQL: messages written with write_message
// read back by category in global_position order, the way the engine will read them.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pg_connection.h"
#include "tests/harness/test_services.h"

namespace protean_admin {
namespace {

using storage::PgConnection;
using ::testing::ElementsAre;

class MessageStoreFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "fixture");
    ASSERT_TRUE(uri.ok()) << uri.status();
    auto conn = PgConnection::Connect(*uri);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
  }

  std::optional<PgConnection> conn_;
};

TEST_F(MessageStoreFixtureTest, ReadsACategoryBackInGlobalPositionOrder) {
  ASSERT_TRUE(testing::WriteMessage(*conn_, "test::user-1", "Test.Registered.v1",
                                    R"({"user_id": "1", "name": "John"})")
                  .ok());
  ASSERT_TRUE(testing::WriteMessage(*conn_, "test::transaction-9", "Test.Transacted.v1",
                                    R"({"user_id": "1", "amount": 10})")
                  .ok());
  ASSERT_TRUE(testing::WriteMessage(*conn_, "test::user-2", "Test.Registered.v1",
                                    R"({"user_id": "2", "name": "Jane"})")
                  .ok());
  ASSERT_TRUE(testing::WriteMessage(*conn_, "test::user-1", "Test.ProfileUpdated.v1",
                                    R"({"user_id": "1", "new_name": "Johnny"})")
                  .ok());
  ASSERT_TRUE(
      testing::WriteMessage(*conn_, "test::user:snapshot-1", "SNAPSHOT", R"({})").ok());

  auto rows = conn_->ExecParams(
      "SELECT stream_name, position, type FROM message_store.messages "
      "WHERE message_store.category(stream_name) = $1 ORDER BY global_position",
      {std::string("test::user")});
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::vector<std::string> seen;
  for (int i = 0; i < rows->rows(); ++i) {
    seen.push_back(std::string(rows->Get(i, 0)) + "@" + std::string(rows->Get(i, 1)) + " " +
                   std::string(rows->Get(i, 2)));
  }
  EXPECT_THAT(seen, ElementsAre("test::user-1@0 Test.Registered.v1",
                                "test::user-2@0 Test.Registered.v1",
                                "test::user-1@1 Test.ProfileUpdated.v1"));
}

TEST_F(MessageStoreFixtureTest, CategoryIndexIsUsableByTheCategoryExpression) {
  auto plan = conn_->Exec(
      "SET enable_seqscan = off; EXPLAIN SELECT global_position FROM message_store.messages "
      "WHERE message_store.category(stream_name) = 'test::user' AND global_position > 0 "
      "ORDER BY global_position");
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::string text;
  for (int i = 0; i < plan->rows(); ++i) text += std::string(plan->Get(i, 0)) + "\n";
  EXPECT_THAT(text, ::testing::HasSubstr("messages_category"));
}

TEST_F(MessageStoreFixtureTest, StreamPositionsAreUniqueAndExpectedVersionIsChecked) {
  ASSERT_TRUE(testing::WriteMessage(*conn_, "test::user-7", "Test.Registered.v1", "{}").ok());
  auto wrong = conn_->Exec(
      "SELECT message_store.write_message(gen_random_uuid()::text, 'test::user-7', "
      "'Test.Registered.v1', '{}'::jsonb, NULL, 5)");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(std::string(wrong.status().message()), ::testing::HasSubstr("Wrong expected version"));
  auto duplicate = conn_->Exec(
      "INSERT INTO message_store.messages (stream_name, position, type, data) "
      "VALUES ('test::user-7', 0, 'X', '{}')");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(storage::SqlState(duplicate.status()), "23505");
}

}  // namespace
}  // namespace protean_admin
