// Hardening at the edges (issue 14) through the real daemon and CLI, with raw gRPC calls
// where a client other than the CLI could send anything: a batch size that used to abort the
// daemon, the health-only listener that served reflection, a column type spliced into SQL,
// unbounded names and ids echoed into errors and logs, and a token file emptied on SIGHUP.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <climits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "health_v1.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "protean/admin/v1/admin.grpc.pb.h"
#include "proto/request_limits.h"
#include "reflection_v1alpha.grpc.pb.h"
#include "storage/pg_connection.h"
#include "tests/e2e/e2e_support.h"
#include "tests/harness/test_services.h"

namespace protean_admin::e2e {
namespace {

namespace pb = ::protean::admin::v1;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kCiToken[] = "ci-token-0123456789abcdef";
constexpr char kOpsToken[] = "ops-token-fedcba9876543210";
constexpr int kUsers = 20;
constexpr int kTransactions = 200;

class EdgesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "edges");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    root_.Write("domain.toml", TestDomainToml({.uri = uri_, .health_port = FreePort()}));
  }

  void StartDaemon(const std::vector<std::string>& extra_args = {}) {
    ASSERT_TRUE(daemon_.Start(extra_args))
        << "daemon did not come up: " << daemon_.process().Stderr();
  }
  CliRun Cli(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    return daemon_.Cli(args, std::move(env));
  }

  // kUsers registrations, then kTransactions transactions of 1.0 spread over the users.
  void WriteHistory() {
    absl::Status written = WriteTestHistory(*conn_, kUsers, kTransactions);
    ASSERT_TRUE(written.ok()) << written;
  }

  std::string Query(const std::string& sql) {
    auto r = conn_->Exec(sql);
    if (!r.ok() || r->rows() != 1) return "<error: " + std::string(r.status().message()) + ">";
    return std::string(r->Get(0, 0));
  }

  std::shared_ptr<grpc::Channel> Channel(int port = 0) const {
    return grpc::CreateChannel(port == 0 ? daemon_.server() : absl::StrCat("127.0.0.1:", port),
                               grpc::InsecureChannelCredentials());
  }

  // A raw RebuildProjection call read to its end: its final status.
  grpc::Status RawRebuild(const pb::RebuildProjectionRequest& request,
                          const std::string& requested_by = "") const {
    auto stub = pb::ProjectionAdmin::NewStub(Channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 60s);
    if (!requested_by.empty()) context.AddMetadata("x-requested-by", requested_by);
    auto reader = stub->RebuildProjection(&context, request);
    pb::RebuildEvent event;
    while (reader->Read(&event)) {
    }
    return reader->Finish();
  }

  // Every line the daemon logged so far is shorter than 4 KiB.
  void ExpectShortLogLines() const {
    for (const std::string& line : Lines(daemon_.process().Stderr())) {
      EXPECT_LT(line.size(), 4096u) << line.substr(0, 200);
    }
  }

  TempDir root_;
  TempDir logs_;
  std::string uri_;
  std::optional<storage::PgConnection> conn_;
  Daemon daemon_{root_.path(), logs_.path()};
};

// ---- 1. The batch size: bounded by both sides; the largest one accepted works ----

TEST_F(EdgesTest, BatchSizeIsBoundedByTheCliAndTheDaemonAndTheLargestWorks) {
  WriteHistory();
  StartDaemon();
  for (const std::string& size :
       std::vector<std::string>{"2147483647", absl::StrCat(kMaxBatchSize + 1), "0"}) {
    CliRun refused = Cli({"rebuild", "--projection=Balances", "--batch-size=" + size});
    EXPECT_EQ(refused.exit_code, 2) << size << ": " << refused.out << refused.err;
    EXPECT_THAT(refused.err, HasSubstr("--batch-size")) << size;
    EXPECT_THAT(refused.err, HasSubstr(absl::StrCat(kMaxBatchSize))) << size;
  }
  // The CLI refused before calling: the daemon knows no job.
  EXPECT_EQ(Cli({"jobs", "--json"}).out, "");

  // A raw client: the daemon refuses on its own, and lives on.
  for (int size : {INT_MAX, kMaxBatchSize + 1, -1}) {
    pb::RebuildProjectionRequest request;
    request.set_projection("Balances");
    request.mutable_options()->set_batch_size(size);
    grpc::Status status = RawRebuild(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << size << ": " << status.error_message();
    EXPECT_EQ(status.error_message(),
              absl::StrCat("batch_size must be between 1 and 100000 (0 means the default, 500), "
                           "got ",
                           size));
    ASSERT_TRUE(daemon_.running()) << daemon_.process().Stderr();
  }
  auto stub = pb::ProjectionAdmin::NewStub(Channel());
  grpc::ClientContext context;
  pb::RebuildAllRequest all;
  all.mutable_options()->set_batch_size(INT_MAX);
  auto reader = stub->RebuildAll(&context, all);
  pb::RebuildEvent event;
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  CliRun largest =
      Cli({"rebuild", "--projection=Balances", absl::StrCat("--batch-size=", kMaxBatchSize)});
  EXPECT_EQ(largest.exit_code, 0) << largest.out << largest.err;
  EXPECT_THAT(largest.out, StartsWith(absl::StrCat("Rebuilt projection 'Balances': ",
                                                   kUsers + kTransactions, " events processed")));
  EXPECT_EQ(Query("SELECT count(*) || '/' || sum(balance) FROM balances"),
            absl::StrCat(kUsers, "/", kTransactions));
  ASSERT_TRUE(daemon_.running());
}

// ---- 5. The health-only listener serves health and nothing else ----

TEST_F(EdgesTest, HealthListenerServesHealthOnlyNotReflection) {
  root_.Write("tokens", absl::StrCat("ci:", kCiToken, "\n"));
  chmod((root_.path() + "/tokens").c_str(), 0600);
  const int health_port = FreePort();
  StartDaemon({"--auth-token-file", root_.path() + "/tokens", "--health-listen",
               absl::StrCat("127.0.0.1:", health_port)});

  // Lists the services through reflection on `port` (0: the main listener).
  auto list_services = [&](int port, const std::string& token, std::vector<std::string>* names) {
    auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(Channel(port));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    if (!token.empty()) context.AddMetadata("authorization", std::string("Bearer ") + token);
    auto stream = reflection->ServerReflectionInfo(&context);
    grpc::reflection::v1alpha::ServerReflectionRequest request;
    request.set_list_services("");
    grpc::reflection::v1alpha::ServerReflectionResponse response;
    if (stream->Write(request) && stream->Read(&response)) {
      for (const auto& s : response.list_services_response().service()) {
        names->push_back(s.name());
      }
    }
    stream->WritesDone();
    return stream->Finish();
  };

  std::vector<std::string> names;
  grpc::Status status = list_services(health_port, "", &names);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  EXPECT_THAT(names, Not(::testing::Contains("protean.admin.v1.ProjectionAdmin")));
  names.clear();
  status = list_services(health_port, kCiToken, &names);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  EXPECT_TRUE(names.empty());

  // The admin service is not there either; health is.
  auto admin = pb::ProjectionAdmin::NewStub(Channel(health_port));
  grpc::ClientContext list_context;
  pb::ListRebuildsResponse jobs;
  EXPECT_EQ(admin->ListRebuilds(&list_context, pb::ListRebuildsRequest(), &jobs).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  auto health = grpc::health::v1::Health::NewStub(Channel(health_port));
  grpc::ClientContext health_context;
  grpc::health::v1::HealthCheckResponse answer;
  ASSERT_TRUE(health->Check(&health_context, grpc::health::v1::HealthCheckRequest(), &answer).ok());
  EXPECT_EQ(answer.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // The main listener keeps reflection, behind the token.
  names.clear();
  EXPECT_EQ(list_services(0, "", &names).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  status = list_services(0, kCiToken, &names);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(names, ::testing::Contains("protean.admin.v1.ProjectionAdmin"));
}

// ---- 6. A declared column type is never spliced unchecked ----

TEST_F(EdgesTest, ColumnTypeInjectionIsRefusedWhenTheDomainLoads) {
  ASSERT_TRUE(conn_->Exec("CREATE TABLE victim (id int); INSERT INTO victim VALUES (1)").ok());
  const std::string toml = TestDomainToml({.uri = uri_, .health_port = FreePort(), .extra = R"toml(
[projections.Evil]
key = "id"
columns = { id = "text", x = "text); DROP TABLE victim; --" }

[projectors.EvilProjector]
projector_for = "Evil"
aggregates = ["User"]
)toml"});
  root_.Write("evil/domain.toml", toml);
  // Where the type's string starts: line and column (1-based).
  const size_t at = toml.find("\"text);");
  const size_t line_start = toml.rfind('\n', at) + 1;
  const std::string where =
      absl::StrCat("domain.toml:", std::count(toml.begin(), toml.begin() + at, '\n') + 1, ":",
                   at - line_start + 1,
                   ": key 'projections.Evil.columns.x': invalid SQL type: unexpected ')' at "
                   "character 5");
  WriteHistory();
  StartDaemon();

  CliRun rebuild = Cli({"rebuild", "--domain=evil", "--projection=Evil"});
  EXPECT_EQ(rebuild.exit_code, 1) << rebuild.out << rebuild.err;
  EXPECT_THAT(rebuild.out + rebuild.err, HasSubstr(where));
  CliRun all = Cli({"rebuild", "--domain=evil"});
  EXPECT_EQ(all.exit_code, 1) << all.out << all.err;
  EXPECT_THAT(all.out + all.err, HasSubstr(where));
  CliRun projections = Cli({"projections", "--domain=evil"});
  EXPECT_EQ(projections.exit_code, 1) << projections.out << projections.err;
  EXPECT_THAT(projections.out + projections.err, HasSubstr(where));

  EXPECT_EQ(Query("SELECT count(*) FROM victim"), "1");
  EXPECT_EQ(Query("SELECT to_regclass('evil') IS NULL"), "t");
}

// ---- 7. Names and ids are bounded at the RPC edge; echoes and log lines stay short ----

TEST_F(EdgesTest, LongNamesAndIdsAreRefusedAndNeverEchoedWhole) {
  WriteHistory();
  StartDaemon();
  auto stub = pb::ProjectionAdmin::NewStub(Channel());
  const std::string huge_name(100 * 1024, 'P');
  const std::string huge_id(3 * 1024 * 1024, 'j');

  pb::RebuildProjectionRequest rebuild;
  rebuild.set_projection(huge_name);
  grpc::Status status = RawRebuild(rebuild);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), StartsWith("projection is longer than 256 bytes: 'PPPP"));
  EXPECT_LT(status.error_message().size(), 200u);

  // At the bound: looked up, not found, echoed abbreviated.
  rebuild.set_projection(std::string(kMaxProjectionNameBytes, 'Q'));
  status = RawRebuild(rebuild);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_EQ(status.error_message(), absl::StrCat("Projection '", std::string(kMaxEchoBytes, 'Q'),
                                                 "…(256 bytes)' not found"));

  rebuild.set_projection("Balances");
  rebuild.mutable_options()->set_domain(huge_name);
  status = RawRebuild(rebuild);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), StartsWith("domain is longer than 1024 bytes"));

  {
    grpc::ClientContext context;
    pb::ListProjectionsRequest request;
    request.set_domain(huge_name);
    pb::ListProjectionsResponse response;
    status = stub->ListProjections(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }
  {
    grpc::ClientContext context;
    pb::ListRebuildsRequest request;
    request.set_domain(huge_name);
    pb::ListRebuildsResponse response;
    status = stub->ListRebuilds(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }
  {
    grpc::ClientContext context;
    pb::CancelRebuildRequest request;
    request.set_job_id(huge_id);
    pb::CancelRebuildResponse response;
    status = stub->CancelRebuild(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), StartsWith("job_id is longer than 256 bytes: 'jjjj"));
    EXPECT_LT(status.error_message().size(), 200u);
  }
  {
    grpc::ClientContext context;
    pb::WatchRebuildRequest request;
    request.set_job_id(huge_id);
    auto reader = stub->WatchRebuild(&context, request);
    pb::RebuildEvent event;
    while (reader->Read(&event)) {
    }
    status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }

  // An unverified x-requested-by is logged and audited abbreviated.
  rebuild.mutable_options()->clear_domain();
  status = RawRebuild(rebuild, std::string(5000, 'r'));
  EXPECT_TRUE(status.ok()) << status.error_message();
  CliRun jobs = Cli({"jobs", "--json"});
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  ASSERT_EQ(Lines(jobs.out).size(), 1u) << jobs.out;
  EXPECT_EQ(nlohmann::json::parse(Lines(jobs.out)[0])["requested_by"],
            std::string(256, 'r') + "…(5000 bytes)");

  // The CLI refuses such arguments itself.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"rebuild", "--projection=" + std::string(300, 'P')},
        {"rebuild", "--domain=" + std::string(1100, 'd')},
        {"cancel", std::string(300, 'j')},
        {"watch", std::string(300, 'j')}}) {
    CliRun refused = Cli(args);
    EXPECT_EQ(refused.exit_code, 2) << args[0] << ": " << refused.out << refused.err;
    EXPECT_THAT(refused.err, HasSubstr("is longer than")) << args[0];
  }
  ASSERT_TRUE(daemon_.running());
  ExpectShortLogLines();
}

// ---- 8. A token file emptied and reloaded revokes every token ----

TEST_F(EdgesTest, EmptiedTokenFileRevokesEveryTokenOnSighup) {
  const std::string tokens = root_.path() + "/tokens";
  root_.Write("tokens", absl::StrCat("ci:", kCiToken, "\n"));
  chmod(tokens.c_str(), 0600);
  StartDaemon({"--auth-token-file", tokens});
  const std::map<std::string, std::string> ci = {{"PROTEAN_ADMIN_TOKEN", kCiToken}};
  const std::map<std::string, std::string> ops = {{"PROTEAN_ADMIN_TOKEN", kOpsToken}};
  EXPECT_EQ(Cli({"projections"}, ci).exit_code, 0);

  // The exit code of `projections` with `env` once it is `expected` (waiting for the reload).
  auto settles_at = [&](const std::map<std::string, std::string>& env, int expected) {
    int code = -1;
    for (int i = 0; i < 100 && code != expected; ++i) {
      std::this_thread::sleep_for(50ms);
      code = Cli({"projections"}, env).exit_code;
    }
    return code;
  };

  root_.Write("tokens", "# every token revoked\n");
  daemon_.process().Signal(SIGHUP);
  EXPECT_EQ(settles_at(ci, 1), 1);
  CliRun refused = Cli({"projections"}, ci);
  EXPECT_THAT(refused.out, HasSubstr("invalid bearer token"));
  EXPECT_THAT(daemon_.process().Stderr(), HasSubstr("TOKENS REVOKED"));
  EXPECT_THAT(daemon_.process().Stderr(), HasSubstr("critical"));
  // Health needs no token and still answers.
  auto health = grpc::health::v1::Health::NewStub(Channel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckResponse answer;
  EXPECT_TRUE(health->Check(&context, grpc::health::v1::HealthCheckRequest(), &answer).ok());

  // Tokens added again and reloaded work again.
  root_.Write("tokens", absl::StrCat("ops:", kOpsToken, "\n"));
  daemon_.process().Signal(SIGHUP);
  EXPECT_EQ(settles_at(ops, 0), 0);
  EXPECT_EQ(Cli({"projections"}, ci).exit_code, 1);
  EXPECT_THAT(daemon_.process().Stderr(), Not(HasSubstr(kCiToken)));
}

// Under the asan preset the daemon's and the CLI's sanitizer reports land on their captured
// stderr only; Process must turn one into a test failure, or a leak in the daemon (exit code
// 23, never checked) or a CLI's ASan error (exit code 1, the ordinary error code) passes.
TEST(ProcessTest, SanitizerReportOnAChildsStderrFailsTheTest) {
  TempDir dir;
  Process reporting({"/bin/sh", "-c",
                     "echo 'SUMMARY: AddressSanitizer: 8 byte(s) leaked in 1 allocation(s).' >&2; "
                     "exit 23"},
                    {}, dir.path());
  EXPECT_NONFATAL_FAILURE(EXPECT_EQ(reporting.Wait(10s), 23), "sanitizer report from /bin/sh");
  Process clean({"/bin/sh", "-c", "echo 'an ordinary error' >&2; exit 1"}, {}, dir.path());
  EXPECT_EQ(clean.Wait(10s), 1);
}

}  // namespace
}  // namespace protean_admin::e2e
