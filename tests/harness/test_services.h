#ifndef PROTEAN_ADMIN_TESTS_HARNESS_TEST_SERVICES_H_
#define PROTEAN_ADMIN_TESTS_HARNESS_TEST_SERVICES_H_

// What integration and e2e tests know of the scratch services that tests/harness/services.sh
// started (its env file is named by PROTEAN_TEST_SERVICES).

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/pg_connection.h"

namespace protean_admin::testing {

struct TestServices {
  std::string pg_host;
  int pg_port = 0;
  std::string pg_user;
  std::string redis_host;
  int redis_port = 0;  // 0 when redis-server is not installed
  std::string scratch_dir;

  // A libpq URI for `database` on the scratch server.
  std::string PgUri(std::string_view database) const;
};

// Reads the services' env file. Fails with a message saying how to run the tests.
absl::StatusOr<TestServices> LoadTestServices();
// Reads the env file services.sh wrote at `env_path`.
absl::StatusOr<TestServices> LoadTestServicesFrom(const std::string& env_path);

// A PostgreSQL of a test's own (services.sh with PROTEAN_TEST_NO_REDIS=1), for tests that
// restart it: the shared scratch server serves tests running in parallel. Stopped and
// removed on destruction.
class PrivatePostgres {
 public:
  PrivatePostgres() = default;
  ~PrivatePostgres();
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  // initdb and start (a few seconds).
  absl::Status Start();
  // Restarts with a fast shutdown (every session is cut) and waits until it accepts
  // connections again.
  absl::Status Restart();
  const TestServices& services() const { return services_; }

 private:
  std::string state_dir_;
  TestServices services_;
};

// Creates a fresh, uniquely named database on the scratch server (prefix + counter + pid)
// and returns its URI. With `message_store`, the Message DB schema fixture
// (storage/sql/message_db.sql) is loaded into it.
absl::StatusOr<std::string> CreateScratchDatabase(const TestServices& services,
                                                  std::string_view prefix,
                                                  bool message_store = true);

// Appends one message with Message DB's write_message; returns its global_position.
absl::StatusOr<int64_t> WriteMessage(storage::PgConnection& conn, std::string_view stream_name,
                                     std::string_view type, std::string_view data_json,
                                     std::string_view metadata_json = "{}");

}  // namespace protean_admin::testing

#endif  // PROTEAN_ADMIN_TESTS_HARNESS_TEST_SERVICES_H_
