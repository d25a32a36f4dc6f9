#include "storage/pg_connection.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace protean_admin::storage {
namespace {

using ::testing::HasSubstr;

TEST(PgConnectionTest, ConnectFailureIsUnavailableAndNamesTheTarget) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  absl::StatusOr<PgConnection> conn =
      PgConnection::Connect("postgresql://nobody:secret@127.0.0.1:1/nodb?connect_timeout=2");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(conn.status().message(), HasSubstr("127.0.0.1:1/nodb"));
  EXPECT_THAT(conn.status().message(), ::testing::Not(HasSubstr("secret")));
}

}  // namespace
}  // namespace protean_admin::storage
