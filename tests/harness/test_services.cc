#include "tests/harness/test_services.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"

#ifndef PROTEAN_ADMIN_SOURCE_DIR
#error "PROTEAN_ADMIN_SOURCE_DIR must be defined by the build"
#endif

namespace protean_admin::testing {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::string TestServices::PgUri(std::string_view database) const {
  return absl::StrCat("postgresql://", pg_user, "@", pg_host, ":", pg_port, "/",
                      std::string(database));
}

absl::StatusOr<TestServices> LoadTestServices() {
  const char* env_path = std::getenv("PROTEAN_TEST_SERVICES");
  if (env_path == nullptr) {
    return absl::FailedPreconditionError(
        "PROTEAN_TEST_SERVICES is not set: run the tests through ctest, which starts the "
        "scratch PostgreSQL and Redis (tests/harness/services.sh)");
  }
  return LoadTestServicesFrom(env_path);
}

absl::StatusOr<TestServices> LoadTestServicesFrom(const std::string& env_path) {
  absl::StatusOr<std::string> text = ReadFile(env_path);
  if (!text.ok()) return text.status();
  std::map<std::string, std::string> vars;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  TestServices s;
  s.pg_host = vars["PGHOST"];
  s.pg_port = std::atoi(vars["PGPORT"].c_str());
  s.pg_user = vars["PGUSER"];
  s.redis_host = vars["REDIS_HOST"];
  s.redis_port = std::atoi(vars["REDIS_PORT"].c_str());
  s.scratch_dir = vars["SCRATCH_DIR"];
  if (s.pg_port == 0) {
    return absl::FailedPreconditionError(absl::StrCat(env_path, ": no PGPORT"));
  }
  return s;
}

absl::StatusOr<std::string> CreateScratchDatabase(const TestServices& services,
                                                  std::string_view prefix, bool message_store) {
  static std::atomic<int> counter{0};
  std::string name = absl::StrCat(std::string(prefix), "_", getpid(), "_", counter++);
  {
    absl::StatusOr<storage::PgConnection> admin =
        storage::PgConnection::Connect(services.PgUri("postgres"));
    if (!admin.ok()) return admin.status();
    auto dropped = admin->Exec(absl::StrCat("DROP DATABASE IF EXISTS \"", name, "\""));
    if (!dropped.ok()) return dropped.status();
    auto created = admin->Exec(absl::StrCat("CREATE DATABASE \"", name, "\""));
    if (!created.ok()) return created.status();
  }
  std::string uri = services.PgUri(name);
  if (message_store) {
    absl::StatusOr<std::string> fixture =
        ReadFile(std::string(PROTEAN_ADMIN_SOURCE_DIR) + "/storage/sql/message_db.sql");
    if (!fixture.ok()) return fixture.status();
    absl::StatusOr<storage::PgConnection> conn = storage::PgConnection::Connect(uri);
    if (!conn.ok()) return conn.status();
    auto loaded = conn->Exec(*fixture);
    if (!loaded.ok()) return loaded.status();
  }
  return uri;
}

absl::StatusOr<int64_t> WriteMessage(storage::PgConnection& conn, std::string_view stream_name,
                                     std::string_view type, std::string_view data_json,
                                     std::string_view metadata_json) {
  auto written = conn.ExecParams(
      "SELECT message_store.write_message(gen_random_uuid()::text, $1, $2, $3::jsonb, "
      "$4::jsonb)",
      {std::string(stream_name), std::string(type), std::string(data_json),
       std::string(metadata_json)});
  if (!written.ok()) return written.status();
  auto result = conn.ExecParams(
      "SELECT global_position FROM message_store.messages WHERE stream_name = $1 AND "
      "position = $2",
      {std::string(stream_name), std::string(written->Get(0, 0))});
  if (!result.ok()) return result.status();
  if (result->rows() != 1) return absl::InternalError("write_message wrote no row");
  return std::strtoll(std::string(result->Get(0, 0)).c_str(), nullptr, 10);
}

namespace {

// Runs services.sh `command` on `state_dir`; the script's output goes to the test's output.
absl::Status RunServicesScript(const std::string& command, const std::string& state_dir) {
  std::string line = absl::StrCat("PROTEAN_TEST_NO_REDIS=1 bash '", PROTEAN_ADMIN_SOURCE_DIR,
                                  "/tests/harness/services.sh' ", command, " '", state_dir, "'");
  int rc = std::system(line.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat(line, " failed (status ", rc, ")"));
  return absl::OkStatus();
}

}  // namespace

PrivatePostgres::~PrivatePostgres() {
  if (state_dir_.empty()) return;
  (void)RunServicesScript("stop", state_dir_);
  std::filesystem::remove_all(state_dir_);
}

absl::Status PrivatePostgres::Start() {
  char tmpl[] = "/tmp/protean-admin-private-pg.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  state_dir_ = tmpl;
  absl::Status started = RunServicesScript("start", state_dir_);
  if (!started.ok()) return started;
  absl::StatusOr<TestServices> services = LoadTestServicesFrom(state_dir_ + "/env");
  if (!services.ok()) return services.status();
  services_ = *services;
  return absl::OkStatus();
}

absl::Status PrivatePostgres::Restart() { return RunServicesScript("restart-pg", state_dir_); }

}  // namespace protean_admin::testing
