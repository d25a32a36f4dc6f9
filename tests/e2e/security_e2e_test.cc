// Security end to end (issue 8): TLS and mutual TLS, bearer tokens (none, wrong, right,
// reloaded on SIGHUP), the listen policy, and the audit trail of rebuilds (succeeded, failed,
// cancelled, interrupted by a daemon crash, and `jobs` after a restart). The real daemon and
// CLI; certificates come from tests/harness/make_certs.sh; a scratch database per test.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health_v1.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "storage/pg_connection.h"
#include "tests/e2e/e2e_support.h"
#include "tests/harness/test_services.h"

#ifndef PROTEAN_ADMIND_BINARY
#error "PROTEAN_ADMIND_BINARY must be defined by the build"
#endif

namespace protean_admin::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kClientSubjectCn[] = "CN=protean-admin-test-client";
constexpr char kCiToken[] = "ci-token-0123456789abcdef";
constexpr char kOpsToken[] = "ops-token-fedcba9876543210";

// The test domain (e2e_support.h) and a projection without projectors: a rebuild of it fails
// ("No projectors found").
std::string DomainToml(const std::string& uri, int health_port) {
  return TestDomainToml({.uri = uri, .health_port = health_port, .extra = R"toml(
[projections.Orphan]
key = "id"
columns = { id = "varchar(255)" }
)toml"});
}

// Certificates are generated once for the whole program by the harness script.
const std::string& CertDir() {
  static TempDir dir;  // removed at exit
  static const std::string path = [] {
    std::string certs = dir.path() + "/certs";
    std::string cmd = absl::StrCat("bash '", MAKE_CERTS_SCRIPT, "' '", certs, "'");
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "make_certs.sh failed";
    return certs;
  }();
  return path;
}

std::string Cert(const std::string& name) { return CertDir() + "/" + name; }

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "sec");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    root_.Write("domain.toml", DomainToml(uri_, FreePort()));
    daemon_name_ = absl::StrCat("e2e-daemon-", getpid(), "-", FreePort());
    ASSERT_FALSE(CertDir().empty());
  }

  void StopDaemon() { daemon_.Stop(); }

  // Starts the daemon on <host>:<free port> (under daemon_name_); false (its output kept)
  // when it exited instead.
  bool StartDaemon(std::vector<std::string> extra, const std::string& host = "127.0.0.1") {
    extra.insert(extra.begin(), {"--daemon-name", daemon_name_});
    return daemon_.Start(extra, host);
  }
  Process& DaemonProcess() { return daemon_.process(); }
  CliRun Cli(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    return daemon_.Cli(args, std::move(env));
  }

  std::string WriteTokenFile(const std::string& content) {
    std::string path = root_.path() + "/tokens";
    root_.Write("tokens", content);
    chmod(path.c_str(), 0600);
    return path;
  }

  void WriteHistory(int users, int transactions) {
    absl::Status written = WriteTestHistory(*conn_, users, transactions);
    ASSERT_TRUE(written.ok()) << written;
  }

  std::string AuditRow(const std::string& job_id) { return e2e::AuditRow(*conn_, job_id); }

  // The jobs `protean-admin jobs --json` lists, by id.
  std::map<std::string, nlohmann::json> Jobs(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"jobs", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun run = Cli(args);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    return JobsById(run.out);
  }

  std::string StartDetached(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"rebuild", "--projection=Balances", "--detach",
                                     "--batch-size=10"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun run = Cli(args);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    return Lines(run.out).empty() ? "" : Lines(run.out).front();
  }

  bool WaitForReplay(const std::string& job_id) { return daemon_.WaitForReplay(job_id); }

  TempDir root_;
  TempDir logs_;
  std::string uri_;
  std::optional<storage::PgConnection> conn_;
  std::string daemon_name_;
  e2e::Daemon daemon_{root_.path(), logs_.path()};
};

// ---- TLS and mutual TLS ----

TEST_F(SecurityTest, TlsNeedsTheCaOnTheClient) {
  ASSERT_TRUE(StartDaemon({"--tls-cert", Cert("server.pem"), "--tls-key", Cert("server.key")}))
      << DaemonProcess().Stderr();
  CliRun ok = Cli({"projections", "--tls-ca", Cert("ca.pem")});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("Balances"));

  CliRun plaintext = Cli({"projections"});
  EXPECT_EQ(plaintext.exit_code, 3) << plaintext.out << plaintext.err;
  EXPECT_THAT(plaintext.err, HasSubstr("If the daemon uses TLS, pass --tls-ca"));

  CliRun wrong_ca = Cli({"projections", "--tls-ca", Cert("other-ca.pem")});
  EXPECT_EQ(wrong_ca.exit_code, 3) << wrong_ca.out << wrong_ca.err;

  CliRun missing = Cli({"projections", "--tls-ca", root_.path() + "/no-such.pem"});
  EXPECT_EQ(missing.exit_code, 2) << missing.out << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("--tls-ca"));
}

TEST_F(SecurityTest, MutualTlsRefusesClientsWithoutAnAcceptedCertificate) {
  ASSERT_TRUE(StartDaemon({"--tls-cert", Cert("server.pem"), "--tls-key", Cert("server.key"),
                           "--tls-client-ca", Cert("ca.pem")}))
      << DaemonProcess().Stderr();
  CliRun no_cert = Cli({"projections", "--tls-ca", Cert("ca.pem")});
  EXPECT_NE(no_cert.exit_code, 0) << no_cert.out << no_cert.err;
  EXPECT_THAT(no_cert.out, Not(HasSubstr("Balances")));

  CliRun foreign = Cli({"projections", "--tls-ca", Cert("ca.pem"), "--tls-cert",
                        Cert("other-client.pem"), "--tls-key", Cert("other-client.key")});
  EXPECT_NE(foreign.exit_code, 0) << foreign.out << foreign.err;
  EXPECT_THAT(foreign.out, Not(HasSubstr("Balances")));

  std::vector<std::string> creds = {"--tls-ca",         Cert("ca.pem"), "--tls-cert",
                                    Cert("client.pem"), "--tls-key",    Cert("client.key")};
  std::vector<std::string> args = {"projections"};
  args.insert(args.end(), creds.begin(), creds.end());
  CliRun ok = Cli(args);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("Balances"));

  // The audit trail records the certificate subject as who asked.
  WriteHistory(10, 100);
  args = {"rebuild", "--projection=Balances", "--json"};
  args.insert(args.end(), creds.begin(), creds.end());
  CliRun rebuild = Cli(args);
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  std::string job = nlohmann::json::parse(Lines(rebuild.out).front())["job_id"];
  // gRPC reports the subject in RFC 2253 order: "O=protean-admin-tests,CN=...".
  std::string row = AuditRow(job);
  EXPECT_THAT(row, ::testing::StartsWith("succeeded|"));
  EXPECT_THAT(row, HasSubstr(kClientSubjectCn));
  EXPECT_THAT(row, HasSubstr("O=protean-admin-tests"));
  auto jobs = Jobs(creds);
  ASSERT_EQ(jobs.count(job), 1u);
  EXPECT_THAT(jobs[job]["requested_by"].get<std::string>(), HasSubstr(kClientSubjectCn));
}

// ---- Tokens ----

TEST_F(SecurityTest, TokensNoneWrongRightAndReloadedOnSighup) {
  std::string tokens = WriteTokenFile(absl::StrCat("# test tokens\nci:", kCiToken, "\n"));
  std::string socket = root_.path() + "/admin.sock";
  int health_port = FreePort();
  ASSERT_TRUE(StartDaemon({"--auth-token-file", tokens, "--unix-socket", socket, "--health-listen",
                           absl::StrCat("127.0.0.1:", health_port)}))
      << DaemonProcess().Stderr();

  CliRun none = Cli({"projections"});
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_THAT(none.out, HasSubstr("missing bearer token"));
  EXPECT_THAT(none.out, HasSubstr("--token-file"));
  CliRun none_json = Cli({"jobs", "--json"});
  EXPECT_EQ(none_json.exit_code, 1);
  EXPECT_THAT(none_json.out, HasSubstr("\"code\":\"UNAUTHENTICATED\""));

  CliRun wrong = Cli({"projections"}, {{"PROTEAN_ADMIN_TOKEN", "not-the-right-token-123"}});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  EXPECT_THAT(wrong.out, HasSubstr("invalid bearer token"));
  EXPECT_THAT(wrong.out + wrong.err, Not(HasSubstr("not-the-right-token-123")));

  root_.Write("ci.token", std::string(kCiToken) + "\n");
  CliRun right = Cli({"projections", "--token-file", root_.path() + "/ci.token"});
  EXPECT_EQ(right.exit_code, 0) << right.out << right.err;
  EXPECT_THAT(right.out, HasSubstr("Balances"));
  CliRun env = Cli({"projections"}, {{"PROTEAN_ADMIN_TOKEN", kCiToken}});
  EXPECT_EQ(env.exit_code, 0) << env.out << env.err;

  // The Unix socket needs the token too.
  EXPECT_EQ(Cli({"projections", "--server=unix:" + socket}).exit_code, 1);
  EXPECT_EQ(Cli({"projections", "--server=unix:" + socket}, {{"PROTEAN_ADMIN_TOKEN", kCiToken}})
                .exit_code,
            0);

  // The token name is who asked in the audit trail.
  WriteHistory(10, 100);
  CliRun rebuild =
      Cli({"rebuild", "--projection=Balances", "--json"}, {{"PROTEAN_ADMIN_TOKEN", kCiToken}});
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  std::string job = nlohmann::json::parse(Lines(rebuild.out).front())["job_id"];
  EXPECT_THAT(AuditRow(job), HasSubstr("succeeded|ci|"));

  // Health answers without a token, on the main listener and on the health listener.
  for (int port : {daemon_.port(), health_port}) {
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::health::v1::HealthCheckRequest check;
    grpc::health::v1::HealthCheckResponse answer;
    grpc::Status status = health->Check(&context, check, &answer);
    EXPECT_TRUE(status.ok()) << port << ": " << status.error_message();
    EXPECT_EQ(answer.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }

  // An invalid file on SIGHUP keeps the old tokens.
  WriteTokenFile("this line is not a token entry\n");
  DaemonProcess().Signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Cli({"projections"}, {{"PROTEAN_ADMIN_TOKEN", kCiToken}}).exit_code, 0);
  EXPECT_THAT(DaemonProcess().Stderr(), HasSubstr("token reload failed"));

  // Rotation: the new file replaces the old tokens on SIGHUP.
  WriteTokenFile(absl::StrCat("ops:", kOpsToken, "\n"));
  DaemonProcess().Signal(SIGHUP);
  int code = -1;
  for (int i = 0; i < 100 && code != 0; ++i) {
    std::this_thread::sleep_for(50ms);
    code = Cli({"projections"}, {{"PROTEAN_ADMIN_TOKEN", kOpsToken}}).exit_code;
  }
  EXPECT_EQ(code, 0);
  CliRun old = Cli({"projections"}, {{"PROTEAN_ADMIN_TOKEN", kCiToken}});
  EXPECT_EQ(old.exit_code, 1) << old.out << old.err;
  EXPECT_THAT(old.out, HasSubstr("invalid bearer token"));
  EXPECT_THAT(DaemonProcess().Stderr(), Not(HasSubstr(kCiToken)));
  EXPECT_THAT(DaemonProcess().Stderr(), Not(HasSubstr(kOpsToken)));
}

// ---- Listen policy ----

TEST_F(SecurityTest, RefusesNonLoopbackWithoutTlsAndTokensUnlessInsecure) {
  EXPECT_FALSE(StartDaemon({}, "0.0.0.0"));
  EXPECT_EQ(DaemonProcess().Wait(10s), 1);
  EXPECT_THAT(DaemonProcess().Stderr(), HasSubstr("refusing to listen on non-loopback address"));
  EXPECT_THAT(DaemonProcess().Stderr(), HasSubstr("--insecure"));

  // TLS alone is not enough.
  std::vector<std::string> tls = {"--tls-cert", Cert("server.pem"), "--tls-key",
                                  Cert("server.key")};
  EXPECT_FALSE(StartDaemon(tls, "0.0.0.0"));
  EXPECT_EQ(DaemonProcess().Wait(10s), 1);
  EXPECT_THAT(DaemonProcess().Stderr(), HasSubstr("refusing to listen on non-loopback address"));

  // TLS and tokens: allowed.
  std::string tokens = WriteTokenFile(absl::StrCat("ci:", kCiToken, "\n"));
  std::vector<std::string> secure = tls;
  secure.insert(secure.end(), {"--auth-token-file", tokens});
  ASSERT_TRUE(StartDaemon(secure, "0.0.0.0")) << DaemonProcess().Stderr();
  CliRun ok = Cli({"projections", "--tls-ca", Cert("ca.pem")}, {{"PROTEAN_ADMIN_TOKEN", kCiToken}});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(Cli({"projections", "--tls-ca", Cert("ca.pem")}).exit_code, 1);
  StopDaemon();

  // --insecure overrides, loudly; tokens are then still checked in the handlers.
  ASSERT_TRUE(StartDaemon({"--auth-token-file", tokens, "--insecure"}, "0.0.0.0"))
      << DaemonProcess().Stderr();
  EXPECT_THAT(DaemonProcess().Stderr(), HasSubstr("because --insecure was given"));
  CliRun refused = Cli({"projections"});
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_THAT(refused.out, HasSubstr("missing bearer token"));
  CliRun allowed = Cli({"projections"}, {{"PROTEAN_ADMIN_TOKEN", kCiToken}});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  StopDaemon();

  // --insecure without tokens: allowed too (loudly).
  ASSERT_TRUE(StartDaemon({"--insecure"}, "0.0.0.0")) << DaemonProcess().Stderr();
  EXPECT_THAT(DaemonProcess().Stderr(), HasSubstr("because --insecure was given"));
  EXPECT_EQ(Cli({"projections"}).exit_code, 0);
}

// ---- Audit trail ----

TEST_F(SecurityTest, AuditRowsForEveryOutcomeAndJobsAfterARestart) {
  WriteHistory(1000, 40000);
  ASSERT_TRUE(StartDaemon({})) << DaemonProcess().Stderr();

  // Succeeded.
  CliRun success = Cli({"rebuild", "--projection=Balances", "--json"});
  ASSERT_EQ(success.exit_code, 0) << success.out << success.err;
  std::string succeeded = nlohmann::json::parse(Lines(success.out).front())["job_id"];
  std::string row = AuditRow(succeeded);
  EXPECT_THAT(row, HasSubstr("succeeded|"));
  EXPECT_THAT(row, HasSubstr("|41000|[]|true"));

  // Failed: a projection without projectors.
  CliRun failure = Cli({"rebuild", "--projection=Orphan", "--json"});
  EXPECT_EQ(failure.exit_code, 1) << failure.out << failure.err;
  std::string failed = nlohmann::json::parse(Lines(failure.out).front())["job_id"];
  row = AuditRow(failed);
  EXPECT_THAT(row, HasSubstr("failed|"));
  EXPECT_THAT(row, HasSubstr("No projectors found"));

  // Cancelled.
  std::string cancelled = StartDetached();
  ASSERT_FALSE(cancelled.empty());
  CliRun cancel = Cli({"cancel", cancelled});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  EXPECT_THAT(AuditRow(cancelled), HasSubstr("cancelled|"));

  // Interrupted: the daemon dies (SIGKILL) mid-rebuild; its row stays running ...
  std::string interrupted = StartDetached();
  ASSERT_FALSE(interrupted.empty());
  ASSERT_TRUE(WaitForReplay(interrupted));
  DaemonProcess().Signal(SIGKILL);
  DaemonProcess().Wait(10s);
  EXPECT_THAT(AuditRow(interrupted), HasSubstr("running|"));

  // ... until the daemon starts again and touches the domain's database.
  ASSERT_TRUE(StartDaemon({})) << DaemonProcess().Stderr();
  auto jobs = Jobs({"--domain", "."});
  ASSERT_EQ(jobs.count(interrupted), 1u);
  EXPECT_EQ(jobs[interrupted]["state"], "interrupted");
  EXPECT_THAT(jobs[interrupted]["error"].get<std::string>(), HasSubstr("interrupted"));
  ASSERT_EQ(jobs.count(succeeded), 1u);
  EXPECT_EQ(jobs[succeeded]["state"], "succeeded");
  EXPECT_EQ(jobs[succeeded]["results"][0]["events_dispatched"], 41000);
  ASSERT_EQ(jobs.count(failed), 1u);
  EXPECT_EQ(jobs[failed]["state"], "failed");
  ASSERT_EQ(jobs.count(cancelled), 1u);
  EXPECT_EQ(jobs[cancelled]["state"], "cancelled");
  EXPECT_THAT(AuditRow(interrupted), HasSubstr("interrupted|"));
  // Plain `jobs` now lists the history too (the database is known).
  EXPECT_EQ(Jobs().size(), 4u);
  // The text table as well.
  CliRun table = Cli({"jobs"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_THAT(table.out, HasSubstr(interrupted));
  EXPECT_THAT(table.out, HasSubstr("interrupted"));
}

TEST_F(SecurityTest, AuditDatabaseFlagMarksInterruptedRowsAtStart) {
  WriteHistory(1000, 40000);
  ASSERT_TRUE(StartDaemon({"--audit-database", uri_})) << DaemonProcess().Stderr();
  std::string interrupted = StartDetached();
  ASSERT_FALSE(interrupted.empty());
  ASSERT_TRUE(WaitForReplay(interrupted));
  DaemonProcess().Signal(SIGKILL);
  DaemonProcess().Wait(10s);
  ASSERT_TRUE(StartDaemon({"--audit-database", uri_})) << DaemonProcess().Stderr();
  // Marked at start-up, before anything touched the domain.
  EXPECT_THAT(AuditRow(interrupted), HasSubstr("interrupted|"));
  auto jobs = Jobs();
  ASSERT_EQ(jobs.count(interrupted), 1u);
  EXPECT_EQ(jobs[interrupted]["state"], "interrupted");
}

}  // namespace
}  // namespace protean_admin::e2e
