// Tokens, TLS and mutual TLS enforced by a real in-process gRPC server: the generated
// ProjectionAdmin service (two methods implemented for the test) plus the default health
// service, on loopback TCP or a Unix socket.

#include <grpcpp/create_channel.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "protean/admin/v1/admin.grpc.pb.h"
#include "server/service/auth.h"
#include "server/service/listen_policy.h"
#include "server/service/tls_config.h"
#include "transport/client_credentials.h"
#include "transport/file_contents.h"

namespace protean_admin::service {
namespace {

namespace v1 = ::protean::admin::v1;
using transport::AttachToken;
using transport::BuildChannelCredentials;
using transport::ClientTlsOptions;
using transport::ReadPemFile;

constexpr char kAliceToken[] = "alice-secret-token-0123456789";
constexpr char kBobToken[] = "bob-secret-token-9876543210";

// ListRebuilds checks the token in the handler (as every real handler must) and reports the
// principal; ListProjections does NOT check, to show what the pre-handler gate covers.
class TestAdminService final : public v1::ProjectionAdmin::Service {
 public:
  explicit TestAdminService(const TokenStore* tokens) : tokens_(tokens) {}

  grpc::Status ListRebuilds(grpc::ServerContext* context, const v1::ListRebuildsRequest*,
                            v1::ListRebuildsResponse* response) override {
    calls++;
    Principal principal;
    grpc::Status status = AuthorizeCallStatus(*context, tokens_, &principal);
    if (!status.ok()) return status;
    v1::JobInfo* job = response->add_jobs();
    job->set_requested_by(principal.RequestedBy());
    job->set_peer(principal.peer);
    job->set_error(principal.cert_subject);
    return grpc::Status::OK;
  }

  grpc::Status ListProjections(grpc::ServerContext*, const v1::ListProjectionsRequest*,
                               v1::ListProjectionsResponse*) override {
    calls++;
    return grpc::Status::OK;
  }

  std::atomic<int> calls{0};

 private:
  const TokenStore* tokens_;
};

class AuthGrpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir[] = "/tmp/protean-admin-certs-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    cert_dir_ = new std::string(dir);
    const std::string command = std::string("bash ") + PROTEAN_ADMIN_SOURCE_DIR +
                                "/tests/harness/make_certs.sh " + *cert_dir_;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    grpc::EnableDefaultHealthCheckService(true);
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + *cert_dir_).c_str());
    delete cert_dir_;
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    if (!token_path_.empty()) std::remove(token_path_.c_str());
    if (!socket_path_.empty()) std::remove(socket_path_.c_str());
  }

  static std::string Cert(const std::string& name) { return *cert_dir_ + "/" + name; }

  void WriteTokens(const std::string& content) {
    if (token_path_.empty()) {
      char name[] = "/tmp/protean-admin-tokens-XXXXXX";
      const int fd = mkstemp(name);
      ASSERT_GE(fd, 0);
      close(fd);
      token_path_ = name;
    }
    std::ofstream(token_path_, std::ios::trunc) << content;
  }

  void LoadTokens() {
    auto store = TokenStore::Load(token_path_);
    ASSERT_TRUE(store.ok()) << store.status();
    tokens_ = *std::move(store);
  }

  // Starts the server on `address` ("127.0.0.1:0" or "unix:PATH") with listener
  // credentials built for `policy_address` (the address the daemon was told to listen on).
  void StartServer(const std::string& address, const ServerTlsOptions& tls,
                   const std::string& policy_address = "") {
    auto credentials = BuildListenerCredentials(policy_address.empty() ? address : policy_address,
                                                tls, tokens_.get());
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    service_ = std::make_unique<TestAdminService>(tokens_.get());
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, *credentials, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    target_ = address.rfind("unix:", 0) == 0 ? address : "127.0.0.1:" + std::to_string(port_);
  }

  std::shared_ptr<grpc::Channel> Channel(const ClientTlsOptions& tls,
                                         const std::string& target = "") {
    auto credentials = BuildChannelCredentials(tls);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return grpc::CreateChannel(target.empty() ? target_ : target, *credentials);
  }

  static void Deadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  // grpc.health.v1.Health/Check with an empty request (the whole server's health).
  // Expects SERVING unless `payload` is given, which then receives the response bytes.
  static grpc::Status Health(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& token = "", std::string* payload = nullptr) {
    grpc::ClientContext context;
    Deadline(&context);
    if (!token.empty()) AttachToken(&context, token);
    grpc::Slice empty("", 0);
    grpc::ByteBuffer request(&empty, 1);  // empty HealthCheckRequest
    grpc::ByteBuffer response;
    grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
        channel.get(),
        grpc::internal::RpcMethod("/grpc.health.v1.Health/Check",
                                  grpc::internal::RpcMethod::NORMAL_RPC),
        &context, request, &response);
    if (status.ok()) {
      std::vector<grpc::Slice> slices;
      EXPECT_TRUE(response.Dump(&slices).ok());
      std::string bytes;
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      if (payload != nullptr) {
        *payload = bytes;
      } else {
        EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << "expected status SERVING";
      }
    }
    return status;
  }

  // grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo with one list_services
  // request (a bidirectional stream called with one message); `payload` receives the answer.
  static grpc::Status ListServices(const std::shared_ptr<grpc::Channel>& channel,
                                   std::string* payload) {
    grpc::ClientContext context;
    Deadline(&context);
    grpc::Slice list_services("\x3a\x00", 2);  // field 7 (list_services) = ""
    grpc::ByteBuffer request(&list_services, 1);
    grpc::ByteBuffer response;
    grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
        channel.get(),
        grpc::internal::RpcMethod("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                  grpc::internal::RpcMethod::NORMAL_RPC),
        &context, request, &response);
    payload->clear();
    std::vector<grpc::Slice> slices;
    if (status.ok() && response.Dump(&slices).ok()) {
      for (const auto& s : slices)
        payload->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return status;
  }

  static grpc::Status ListRebuilds(const std::shared_ptr<grpc::Channel>& channel,
                                   const std::string& token, v1::ListRebuildsResponse* response,
                                   const std::string& raw_authorization = "") {
    auto stub = v1::ProjectionAdmin::NewStub(channel);
    grpc::ClientContext context;
    Deadline(&context);
    if (!token.empty()) AttachToken(&context, token);
    if (!raw_authorization.empty()) context.AddMetadata("authorization", raw_authorization);
    v1::ListRebuildsRequest request;
    return stub->ListRebuilds(&context, request, response);
  }

  static grpc::Status ListProjections(const std::shared_ptr<grpc::Channel>& channel,
                                      const std::string& token) {
    auto stub = v1::ProjectionAdmin::NewStub(channel);
    grpc::ClientContext context;
    Deadline(&context);
    if (!token.empty()) AttachToken(&context, token);
    v1::ListProjectionsRequest request;
    v1::ListProjectionsResponse response;
    return stub->ListProjections(&context, request, &response);
  }

  // The common token checks, on whatever transport the server and channel use.
  void ExpectTokenEnforcement(const std::shared_ptr<grpc::Channel>& channel) {
    // Health needs no token.
    EXPECT_TRUE(Health(channel).ok());

    // No token, a wrong one, a malformed header: UNAUTHENTICATED, the token never echoed,
    // and the gate stops the call before the handler.
    const int calls_before = service_->calls.load();
    v1::ListRebuildsResponse response;
    grpc::Status status = ListRebuilds(channel, "", &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
    EXPECT_NE(status.error_message().find("missing bearer token"), std::string::npos);
    status = ListRebuilds(channel, "wrong-token-long-enough-0000", &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message().find("wrong-token"), std::string::npos)
        << status.error_message();
    status = ListRebuilds(channel, "", &response, std::string("Basic ") + kAliceToken);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message().find(kAliceToken), std::string::npos);
    // A method whose handler does not check is still gated.
    status = ListProjections(channel, "");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(service_->calls.load(), calls_before) << "a rejected call reached a handler";

    // The right token: the handler sees the token's name.
    response.Clear();
    status = ListRebuilds(channel, kAliceToken, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.jobs_size(), 1);
    EXPECT_EQ(response.jobs(0).requested_by(), "alice");
    EXPECT_FALSE(response.jobs(0).peer().empty());
    EXPECT_TRUE(ListProjections(channel, kAliceToken).ok());
    // Health also answers when a token is sent.
    EXPECT_TRUE(Health(channel, kAliceToken).ok());
  }

  static std::string* cert_dir_;
  std::string token_path_;
  std::string socket_path_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<TestAdminService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string target_;
};

std::string* AuthGrpcTest::cert_dir_ = nullptr;

TEST_F(AuthGrpcTest, PlaintextLoopbackTokensAndReload) {
  WriteTokens(std::string("alice:") + kAliceToken + "\n");
  LoadTokens();
  StartServer("127.0.0.1:0", {});
  auto channel = Channel({});
  ExpectTokenEnforcement(channel);

  // Reload (what SIGHUP does): bob replaces alice.
  WriteTokens(std::string("bob:") + kBobToken + "\n");
  ASSERT_TRUE(tokens_->Reload().ok());
  v1::ListRebuildsResponse response;
  EXPECT_EQ(ListRebuilds(channel, kAliceToken, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(ListRebuilds(channel, kBobToken, &response).ok());
  EXPECT_EQ(response.jobs(0).requested_by(), "bob");

  // A broken file keeps bob.
  WriteTokens("garbage\n");
  EXPECT_FALSE(tokens_->Reload().ok());
  response.Clear();
  ASSERT_TRUE(ListRebuilds(channel, kBobToken, &response).ok());
  EXPECT_EQ(response.jobs(0).requested_by(), "bob");
}

TEST_F(AuthGrpcTest, UnixSocketTokens) {
  WriteTokens(std::string("alice:") + kAliceToken + "\n");
  LoadTokens();
  socket_path_ = "/tmp/protean-admin-test-" + std::to_string(getpid()) + ".sock";
  StartServer("unix:" + socket_path_, {});
  ExpectTokenEnforcement(Channel({}));
}

TEST_F(AuthGrpcTest, NoTokensConfiguredLetsEveryoneIn) {
  StartServer("127.0.0.1:0", {});
  auto channel = Channel({});
  v1::ListRebuildsResponse response;
  grpc::Status status = ListRebuilds(channel, "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.jobs(0).requested_by(), "anonymous");
  EXPECT_TRUE(Health(channel).ok());
}

// --insecure on a non-loopback address: plaintext InsecureServerCredentials (bound to
// loopback here: tests never listen on other addresses). Only the handlers' check applies.
TEST_F(AuthGrpcTest, InsecureListenerChecksTokensInHandlers) {
  WriteTokens(std::string("alice:") + kAliceToken + "\n");
  LoadTokens();
  StartServer("127.0.0.1:0", {}, /*policy_address=*/"0.0.0.0:50051");
  auto channel = Channel({});
  EXPECT_TRUE(Health(channel).ok());
  v1::ListRebuildsResponse response;
  grpc::Status status = ListRebuilds(channel, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  status = ListRebuilds(channel, "wrong-token-long-enough-0000", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(ListRebuilds(channel, kAliceToken, &response).ok());
  EXPECT_EQ(response.jobs(0).requested_by(), "alice");
  // The documented limitation: no pre-handler gate on insecure credentials.
  EXPECT_TRUE(ListProjections(channel, "").ok());
}

TEST_F(AuthGrpcTest, TlsWithTokens) {
  WriteTokens(std::string("alice:") + kAliceToken + "\n");
  LoadTokens();
  StartServer("127.0.0.1:0", {.cert_file = Cert("server.pem"), .key_file = Cert("server.key")});

  // A client that trusts the test CA; by IP (SAN 127.0.0.1) and by name (SAN localhost).
  ExpectTokenEnforcement(Channel({.ca_file = Cert("ca.pem")}));
  EXPECT_TRUE(
      Health(Channel({.ca_file = Cert("ca.pem")}, "localhost:" + std::to_string(port_))).ok());

  // A client that does not trust the CA (system roots), one that trusts another CA, and a
  // plaintext client: no connection.
  for (const ClientTlsOptions& options :
       {ClientTlsOptions{.use_tls = true}, ClientTlsOptions{.ca_file = Cert("other-ca.pem")},
        ClientTlsOptions{}}) {
    grpc::Status status = Health(Channel(options));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
}

TEST_F(AuthGrpcTest, MutualTls) {
  // No tokens: the certificate subject is the principal.
  StartServer("127.0.0.1:0", {.cert_file = Cert("server.pem"),
                              .key_file = Cert("server.key"),
                              .client_ca_file = Cert("ca.pem")});

  v1::ListRebuildsResponse response;
  // Without a client certificate: refused at the handshake.
  grpc::Status status = ListRebuilds(Channel({.ca_file = Cert("ca.pem")}), "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_FALSE(Health(Channel({.ca_file = Cert("ca.pem")})).ok());
  // With a certificate from another CA: refused.
  status = ListRebuilds(Channel({.ca_file = Cert("ca.pem"),
                                 .cert_file = Cert("other-client.pem"),
                                 .key_file = Cert("other-client.key")}),
                        "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(service_->calls.load(), 0);

  // With the right certificate: in, and the subject is extracted.
  status = ListRebuilds(Channel({.ca_file = Cert("ca.pem"),
                                 .cert_file = Cert("client.pem"),
                                 .key_file = Cert("client.key")}),
                        "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.jobs_size(), 1);
  const std::string subject = response.jobs(0).error();  // the test stores cert_subject here
  EXPECT_NE(subject.find("CN=protean-admin-test-client"), std::string::npos) << subject;
  EXPECT_NE(subject.find("O=protean-admin-tests"), std::string::npos) << subject;
  EXPECT_EQ(response.jobs(0).requested_by(), subject);
}

TEST_F(AuthGrpcTest, MutualTlsWithTokensPrefersTokenName) {
  WriteTokens(std::string("alice:") + kAliceToken + "\n");
  LoadTokens();
  StartServer("127.0.0.1:0", {.cert_file = Cert("server.pem"),
                              .key_file = Cert("server.key"),
                              .client_ca_file = Cert("ca.pem")});
  auto channel = Channel(
      {.ca_file = Cert("ca.pem"), .cert_file = Cert("client.pem"), .key_file = Cert("client.key")});
  ExpectTokenEnforcement(channel);
  v1::ListRebuildsResponse response;
  ASSERT_TRUE(ListRebuilds(channel, kAliceToken, &response).ok());
  EXPECT_EQ(response.jobs(0).requested_by(), "alice");
  EXPECT_NE(response.jobs(0).error().find("CN=protean-admin-test-client"), std::string::npos);
}

// The plaintext health-only listener for Kubernetes grpc probes: health answers, the admin
// service does not exist there.
TEST_F(AuthGrpcTest, HealthOnlyListener) {
  int port = 0;
  auto server = StartHealthOnlyServer("127.0.0.1:0", &port);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT(port, 0);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  EXPECT_TRUE(Health(channel).ok());
  v1::ListRebuildsResponse response;
  EXPECT_EQ(ListRebuilds(channel, kAliceToken, &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  (*server)->GetHealthCheckService()->SetServingStatus(false);
  std::string payload;
  grpc::Status status = Health(channel, "", &payload);
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(payload, std::string("\x08\x02", 2)) << "expected NOT_SERVING";
  EXPECT_FALSE(StartHealthOnlyServer("nonsense[").ok());
}

// Server reflection reaches the server it is enabled on, and never the health-only listener,
// not even when a library registered it process-wide (as
// grpc::reflection::InitProtoReflectionServerBuilderPlugin does).
TEST_F(AuthGrpcTest, ReflectionOnlyWhereEnabledNeverOnTheHealthListener) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  TestAdminService service(nullptr);
  grpc::ServerBuilder builder;
  EnableReflection(builder);
  int admin_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &admin_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> admin = builder.BuildAndStart();
  ASSERT_NE(admin, nullptr);
  int health_port = 0;
  auto health = StartHealthOnlyServer("127.0.0.1:0", &health_port);
  ASSERT_TRUE(health.ok()) << health.status();

  auto admin_channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(admin_port),
                                           grpc::InsecureChannelCredentials());
  std::string services;
  grpc::Status listed = ListServices(admin_channel, &services);
  EXPECT_TRUE(listed.ok()) << listed.error_message();
  EXPECT_NE(services.find("protean.admin.v1.ProjectionAdmin"), std::string::npos) << services;

  auto health_channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(health_port),
                                            grpc::InsecureChannelCredentials());
  EXPECT_TRUE(Health(health_channel).ok());
  EXPECT_EQ(ListServices(health_channel, &services).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(services.find("ProjectionAdmin"), std::string::npos) << services;
  (*health)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  admin->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

TEST(TlsConfigTest, ClearErrorsForBadFiles) {
  auto missing = BuildServerTlsCredentials(
      {.cert_file = "/nonexistent/server.pem", .key_file = "/nonexistent/server.key"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("--tls-cert"), std::string::npos);
  EXPECT_NE(std::string(missing.status().message()).find("/nonexistent/server.pem"),
            std::string::npos);

  auto half = BuildServerTlsCredentials({.cert_file = "/x.pem"});
  ASSERT_FALSE(half.ok());
  EXPECT_NE(std::string(half.status().message()).find("must be given together"), std::string::npos);

  auto ca_only = BuildServerTlsCredentials({.client_ca_file = "/x.pem"});
  ASSERT_FALSE(ca_only.ok());
  EXPECT_NE(std::string(ca_only.status().message()).find("--tls-client-ca requires"),
            std::string::npos);

  char name[] = "/tmp/protean-admin-notpem-XXXXXX";
  const int fd = mkstemp(name);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "hello\n", 6), 6);
  close(fd);
  auto not_pem = ReadPemFile(name, "--tls-key");
  ASSERT_FALSE(not_pem.ok());
  EXPECT_NE(std::string(not_pem.status().message()).find("is not PEM"), std::string::npos);
  auto client = BuildChannelCredentials({.ca_file = name});
  ASSERT_FALSE(client.ok());
  EXPECT_NE(std::string(client.status().message()).find("--tls-ca"), std::string::npos);
  std::remove(name);

  auto client_half = BuildChannelCredentials({.cert_file = "/x.pem"});
  ASSERT_FALSE(client_half.ok());
  EXPECT_NE(std::string(client_half.status().message()).find("must be given together"),
            std::string::npos);
}

}  // namespace
}  // namespace protean_admin::service
