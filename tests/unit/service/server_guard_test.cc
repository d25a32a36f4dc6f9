// The event-server guard against tiny in-test listeners: one answering HTTP 200, one that
// accepts and never answers, and a closed port.

#include "server/service/server_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace protean_admin::service {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Listens on 127.0.0.1:<ephemeral>; answers each connection with `answer` (or, when empty,
// accepts and stays silent) until destroyed.
class TestListener {
 public:
  explicit TestListener(std::string answer) : answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestListener() {
    stop_ = true;
    thread_.join();
    for (int c : held_) close(c);
    close(fd_);
  }
  int port() const { return port_; }
  int requests() const { return requests_.load(); }
  const std::string& last_request() const { return last_request_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 20) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      if (answer_.empty()) {
        held_.push_back(c);  // silent: keep it open, never answer
        continue;
      }
      char buf[2048];
      ssize_t n = recv(c, buf, sizeof(buf), 0);
      if (n > 0) last_request_.assign(buf, static_cast<size_t>(n));
      ++requests_;
      send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
      close(c);
    }
  }

  std::string answer_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::string last_request_;
  std::vector<int> held_;
  std::thread thread_;
};

// A port nobody listens on (bound then closed).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

domain::Domain DomainWithHealth(int port) {
  domain::Domain d;
  d.name = "Test";
  d.health.host = "127.0.0.1";
  d.health.port = port;
  return d;
}

TEST(ServerGuardTest, AnAnsweringLivezMeansRunning) {
  TestListener server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
  ProbeOutcome outcome = ProbeHttp({"127.0.0.1", server.port(), "/livez"}, 1000ms);
  EXPECT_EQ(outcome.verdict, ProbeVerdict::kRunning);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_THAT(server.last_request(), HasSubstr("GET /livez HTTP/1.0\r\n"));

  EventServerGuard guard({});
  absl::Status status = guard.Check(DomainWithHealth(server.port()));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "Refusing to rebuild: the Protean event server appears to be running (GET "
            "http://127.0.0.1:" +
                std::to_string(server.port()) + "/livez answered 200). Stop it or pass --force.");
}

TEST(ServerGuardTest, AnyHttpAnswerMeansRunning) {
  TestListener server("HTTP/1.1 503 Service Unavailable\r\n\r\n");
  ProbeOutcome outcome = ProbeHttp({"127.0.0.1", server.port(), "/livez"}, 1000ms);
  EXPECT_EQ(outcome.verdict, ProbeVerdict::kRunning);
  EXPECT_THAT(outcome.evidence, HasSubstr("answered 503"));
}

TEST(ServerGuardTest, ConnectionRefusedMeansStopped) {
  int port = ClosedPort();
  ProbeOutcome outcome = ProbeHttp({"127.0.0.1", port, "/livez"}, 1000ms);
  EXPECT_EQ(outcome.verdict, ProbeVerdict::kStopped) << outcome.evidence;
  EventServerGuard guard({});
  EXPECT_TRUE(guard.Check(DomainWithHealth(port)).ok());
}

TEST(ServerGuardTest, SilenceMeansCannotTellAndRefuses) {
  TestListener silent("");
  auto started = std::chrono::steady_clock::now();
  ProbeOutcome outcome = ProbeHttp({"127.0.0.1", silent.port(), "/livez"}, 200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(outcome.verdict, ProbeVerdict::kUnknown);
  EXPECT_THAT(outcome.evidence, HasSubstr("no answer within 200 ms"));
  absl::Status status = RefusalFor(outcome);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("Refusing to rebuild: cannot tell whether the Protean event server is "
                        "running"));
}

TEST(ServerGuardTest, UnresolvableHostCannotTell) {
  ProbeOutcome outcome = ProbeHttp({"no-such-host.invalid", 8080, "/livez"}, 500ms);
  EXPECT_EQ(outcome.verdict, ProbeVerdict::kUnknown);
  EXPECT_THAT(outcome.evidence, HasSubstr("cannot resolve"));
}

TEST(ServerGuardTest, ExtraProbesAreCheckedToo) {
  int closed = ClosedPort();
  TestListener extra("HTTP/1.0 200 OK\r\n\r\n");
  GuardOptions options;
  options.extra_urls = {"http://127.0.0.1:" + std::to_string(extra.port()) + "/healthz"};
  EventServerGuard guard(options);
  ASSERT_TRUE(guard.Validate().ok());
  absl::Status status = guard.Check(DomainWithHealth(closed));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/healthz answered 200"));
  EXPECT_THAT(extra.last_request(), HasSubstr("GET /healthz HTTP/1.0"));
}

TEST(ServerGuardTest, ParsesUrls) {
  auto a = ParseHttpUrl("http://example.org:9000/x/livez");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "example.org");
  EXPECT_EQ(a->port, 9000);
  EXPECT_EQ(a->path, "/x/livez");
  auto b = ParseHttpUrl("http://localhost");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->path, "/");
  auto c = ParseHttpUrl("http://[::1]:8080/livez");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->ToString(), "http://[::1]:8080/livez");
  EXPECT_FALSE(ParseHttpUrl("https://x/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://x:notaport/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://:80/").ok());
  GuardOptions bad;
  bad.extra_urls = {"ftp://x"};
  EXPECT_FALSE(EventServerGuard(bad).Validate().ok());
}

}  // namespace
}  // namespace protean_admin::service
