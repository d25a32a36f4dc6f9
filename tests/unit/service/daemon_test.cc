// server/service/daemon.h: protean-admind started, served, reloaded and stopped in-process
// (no signals; server/main.cc maps them to these calls). No database: the audit trail is
// per-domain and no domain is loaded.

#include "server/service/daemon.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "protean/admin/v1/admin.grpc.pb.h"

namespace protean_admin::service {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr char kToken[] = "daemon-test-token-0123456789";

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("protean-admind-test-" + std::to_string(getpid()));
    fs::create_directories(root_);
    options_.listen = "127.0.0.1:0";
    options_.domain_root = root_.string();
    options_.daemon_name = "daemon-test";
    options_.shutdown_deadline = std::chrono::milliseconds(300);
  }
  void TearDown() override { fs::remove_all(root_); }

  // ListRebuilds on the daemon's --listen port, with `token` when not empty.
  grpc::Status ListRebuilds(const Daemon& daemon, const std::string& token = "") {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(daemon.port()),
                                       grpc::InsecureChannelCredentials());
    auto stub = pb::ProjectionAdmin::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!token.empty()) context.AddMetadata("authorization", std::string("Bearer ") + token);
    pb::ListRebuildsRequest request;
    pb::ListRebuildsResponse response;
    return stub->ListRebuilds(&context, request, &response);
  }

  void WriteTokens(const std::string& content) {
    std::ofstream(root_ / "tokens", std::ios::trunc) << content;
    fs::permissions(root_ / "tokens", fs::perms::owner_read | fs::perms::owner_write);
    options_.token_file = (root_ / "tokens").string();
  }

  fs::path root_;
  DaemonOptions options_;
};

TEST_F(DaemonTest, CheckUsageNamesTheFlag) {
  EXPECT_TRUE(CheckUsage(options_).ok());
  DaemonOptions bad_root = options_;
  bad_root.domain_root = (root_ / "missing").string();
  EXPECT_THAT(CheckUsage(bad_root).message(), HasSubstr("--domain-root"));
  DaemonOptions bad_probe = options_;
  bad_probe.guard.extra_urls = {"ftp://example"};
  EXPECT_THAT(CheckUsage(bad_probe).message(), HasSubstr("--health-probe: "));
  EXPECT_FALSE(StartDaemon(bad_probe).ok());
}

TEST_F(DaemonTest, RefusesToStartOnBadSecurityFlags) {
  DaemonOptions ca_only = options_;
  ca_only.tls.client_ca_file = "/x.pem";
  EXPECT_EQ(StartDaemon(ca_only).status().message(),
            "--tls-client-ca requires --tls-cert and --tls-key");
  DaemonOptions exposed = options_;
  exposed.listen = "0.0.0.0:0";  // no TLS, no tokens, no --insecure
  EXPECT_FALSE(StartDaemon(exposed).ok());
  DaemonOptions no_tokens = options_;
  no_tokens.token_file = (root_ / "missing-tokens").string();
  EXPECT_THAT(StartDaemon(no_tokens).status().message(), HasSubstr("--auth-token-file: "));
}

TEST_F(DaemonTest, ServesUntilShutdownThenStopsAndDisarmsTheWatchdog) {
  absl::StatusOr<std::unique_ptr<Daemon>> daemon = StartDaemon(options_);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_GT((*daemon)->port(), 0);
  const int port = (*daemon)->port();
  EXPECT_TRUE(ListRebuilds(**daemon).ok());

  (*daemon)->Shutdown("test");
  (*daemon)->Wait();
  daemon->reset();
  // The watchdog would end this process 500 ms after the 300 ms deadline had it not been
  // disarmed by the destructor.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  EXPECT_FALSE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::milliseconds(300)));
}

TEST_F(DaemonTest, ReloadTokensRevokesAnEmptiedFile) {
  WriteTokens(std::string("ci:") + kToken + "\n");
  absl::StatusOr<std::unique_ptr<Daemon>> daemon = StartDaemon(options_);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_EQ(ListRebuilds(**daemon).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListRebuilds(**daemon, kToken).ok());

  WriteTokens("# no tokens any more\n");
  (*daemon)->ReloadTokens();
  EXPECT_EQ(ListRebuilds(**daemon, kToken).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  (*daemon)->Shutdown("test");
}

}  // namespace
}  // namespace protean_admin::service
