#ifndef PROTEAN_ADMIN_TESTS_INTEGRATION_REBUILD_REBUILD_FIXTURE_H_
#define PROTEAN_ADMIN_TESTS_INTEGRATION_REBUILD_REBUILD_FIXTURE_H_

// A gtest fixture for engine tests: a fresh scratch database with the Message DB schema (used
// as both event store and projection database), the Test domain, and small helpers.

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "storage/pg_connection.h"
#include "tests/harness/test_services.h"
#include "tests/integration/rebuild/test_domain.h"

namespace protean_admin::testing {

class RebuildFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    services_ = *services;
    auto uri = CreateScratchDatabase(services_, "rebuild");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    domain_ = MakeTestDomain(uri_, uri_);
  }

  void Write(std::string_view stream, std::string_view type, const nlohmann::json& data) {
    auto written = WriteMessage(*conn_, stream, type, data.dump());
    ASSERT_TRUE(written.ok()) << written.status();
  }
  void Register(const std::string& id, const std::string& name, const std::string& email = "") {
    Write("test::user-" + id, "Test.Registered.v1",
          {{"user_id", id}, {"name", name}, {"email", email.empty() ? name + "@x.org" : email}});
  }
  void Transact(const std::string& id, double amount) {
    Write("test::transaction-" + id, "Test.Transacted.v1", {{"user_id", id}, {"amount", amount}});
  }

  absl::StatusOr<rebuild::RebuildResult> Rebuild(std::string_view projection,
                                                 rebuild::RebuildOptions options = {}) {
    return rebuild::RebuildProjection(domain_, projection, options);
  }

  // The single value of a query, nullopt for NULL or no row.
  std::optional<std::string> Scalar(const std::string& sql) {
    auto r = conn_->Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->rows() == 0 || r->IsNull(0, 0)) return std::nullopt;
    return std::string(r->Get(0, 0));
  }
  std::optional<double> Balance(const std::string& user_id) {
    auto v = Scalar("SELECT balance FROM balances WHERE user_id = '" + user_id + "'");
    if (!v) return std::nullopt;
    return std::strtod(v->c_str(), nullptr);
  }
  int64_t Count(const std::string& table) {
    auto v = Scalar("SELECT count(*) FROM " + table);
    return v ? std::strtoll(v->c_str(), nullptr, 10) : -1;
  }
  // All rows of a query as one text (for comparing projections).
  std::string Dump(const std::string& sql) {
    auto r = conn_->Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status();
    std::string out;
    if (!r.ok()) return out;
    for (int i = 0; i < r->rows(); ++i) {
      for (int c = 0; c < r->columns(); ++c) {
        out += r->IsNull(i, c) ? "NULL" : std::string(r->Get(i, c));
        out += c + 1 < r->columns() ? "|" : "\n";
      }
    }
    return out;
  }

  TestServices services_;
  std::string uri_;
  std::optional<storage::PgConnection> conn_;
  domain::Domain domain_;
};

}  // namespace protean_admin::testing

#endif  // PROTEAN_ADMIN_TESTS_INTEGRATION_REBUILD_REBUILD_FIXTURE_H_
