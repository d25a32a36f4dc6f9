// `ir import` end to end (issue 18.1): a domain.toml written by the real `protean-admin ir
// import` from an IR of the test bank domain (tests/unit/ir/data/test-bank-ir.json) loads in
// the real protean-admind as it is (${MESSAGE_DB_URL} and ${DATABASE_URL} from the daemon's
// environment), lists its projection, rebuilds it with Protean's counts (the stubbed Closed
// handler's event counts as dispatched, as Protean counts a known event without a handler),
// fills the rows its review-marked `set` handlers write, and round-trips through `ir check`.

#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pg_connection.h"
#include "tests/e2e/e2e_support.h"
#include "tests/harness/test_services.h"

#ifndef IR_TEST_DATA_DIR
#error "IR_TEST_DATA_DIR must be defined by the build"
#endif

namespace protean_admin::e2e {
namespace {

using ::testing::HasSubstr;

class IrE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "ir_e2e");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    // The daemon inherits them: the imported file names only the variables.
    setenv("MESSAGE_DB_URL", uri_.c_str(), 1);
    setenv("DATABASE_URL", uri_.c_str(), 1);
  }

  void TearDown() override {
    EXPECT_NE(daemon_.Stop(), -1) << "daemon did not stop on SIGTERM";
    unsetenv("MESSAGE_DB_URL");
    unsetenv("DATABASE_URL");
  }

  std::string Query(const std::string& sql) {
    auto r = conn_->Exec(sql);
    if (!r.ok() || r->rows() != 1) return "<error: " + std::string(r.status().message()) + ">";
    return r->IsNull(0, 0) ? "NULL" : std::string(r->Get(0, 0));
  }

  const std::string ir_ = absl::StrCat(IR_TEST_DATA_DIR, "/test-bank-ir.json");
  TempDir root_;
  TempDir logs_;
  std::string uri_;
  std::optional<storage::PgConnection> conn_;
  e2e::Daemon daemon_{root_.path(), logs_.path()};
};

TEST_F(IrE2eTest, ImportedDomainRebuildsWithProteansCounts) {
  const std::string file = root_.path() + "/domain.toml";
  // Before the daemon runs: `ir` is local (the --server given is never dialled).
  CliRun imported = daemon_.Cli({"--server=127.0.0.1:1", "ir", "import", ir_, "-o", file});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  // The one site-specific line: where this test's (stopped) event server would answer.
  const std::string toml =
      ReadFileText(file) + absl::StrCat("\n[server.health]\nport = ", FreePort(), "\n");
  root_.Write("domain.toml", toml);
  ASSERT_TRUE(daemon_.Start()) << "daemon did not come up: " << daemon_.process().Stderr();

  CliRun listed = daemon_.Cli({"projections"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("Accounts"));
  EXPECT_THAT(listed.out, HasSubstr("AccountsProjector"));

  ASSERT_TRUE(WriteTestHistory(*conn_, 20, 100).ok());
  auto closed =
      testing::WriteMessage(*conn_, "test::user-u0", "Test.Closed.v1", R"({"account_no": "A-0"})");
  ASSERT_TRUE(closed.ok()) << closed.status();

  CliRun rebuilt = daemon_.Cli({"rebuild", "--projection=Accounts"});
  EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.out << rebuilt.err;
  EXPECT_EQ(rebuilt.out,
            "Rebuilt projection 'Accounts': 121 events processed through 1 projector(s) across 2 "
            "category/categories.\n");
  EXPECT_EQ(Query("SELECT count(*) FROM accounts"), "20");
  EXPECT_EQ(Query("SELECT concat_ws('|', email, name, amount) FROM accounts WHERE user_id = 'u3'"),
            "u3@x|U3|1");
  EXPECT_EQ(Query("SELECT data_type FROM information_schema.columns WHERE table_name = "
                  "'accounts' AND column_name = 'amount'"),
            "double precision");

  CliRun checked = daemon_.Cli({"ir", "check", ir_, "--domain", root_.path() + "/domain.toml"});
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
}

}  // namespace
}  // namespace protean_admin::e2e
