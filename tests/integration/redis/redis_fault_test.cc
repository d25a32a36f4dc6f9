// RedisClient when things go wrong: credentials, unreachable or silent servers, and
// connections lost mid-way (CLIENT KILL, SHUTDOWN NOSAVE, SIGKILL, a server that hangs up in
// the middle of a reply, a peer gone while a large pipeline is being written: EPIPE).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/redis_client.h"
#include "tests/harness/test_services.h"
#include "tests/integration/redis/scratch_redis.h"

namespace protean_admin {
namespace {

using storage::CacheKey;
using storage::RedisClient;
using storage::RedisReply;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScratchRedis;
using ::testing::StartsWith;
using Writes = std::vector<std::pair<std::string, std::optional<std::string>>>;

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// A TCP listener on 127.0.0.1 that speaks just enough RESP to get through Connect (answers
// one PING) and then misbehaves as told, in a thread of its own.
class FakeRedis {
 public:
  enum class Mode {
    kPartialReplyThenClose,  // after PONG: half a SCAN reply to the next command, then close
    kCloseAfterPong,         // after PONG: close (FIN); later writes meet a reset, then EPIPE
  };

  explicit FakeRedis(Mode mode) : mode_(mode) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(listener_, 4);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeRedis() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }

  int port() const { return port_; }
  std::string Uri() const { return absl::StrCat("redis://127.0.0.1:", port_, "/0"); }
  bool served() const { return served_.load(); }

 private:
  void Serve() {
    int fd = accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    std::string received;
    char buffer[4096];
    while (received.find("PING\r\n") == std::string::npos) {
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        close(fd);
        return;
      }
      received.append(buffer, static_cast<size_t>(n));
    }
    send(fd, "+PONG\r\n", 7, MSG_NOSIGNAL);
    if (mode_ == Mode::kPartialReplyThenClose) {
      recv(fd, buffer, sizeof(buffer), 0);  // the next command (at least its start)
      const std::string partial = "*2\r\n$1\r\n0\r\n*3\r\n$5\r\nkey";
      send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
    }
    served_.store(true);
    close(fd);
  }

  Mode mode_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> served_{false};
  std::thread thread_;
};

TEST(RedisFaultTest, UnreachableServerIsUnavailableAtConnect) {
  const int port = testing::FreePort();
  const auto start = std::chrono::steady_clock::now();
  auto client = RedisClient::Connect(absl::StrCat("redis://:hunter2@127.0.0.1:", port, "/2"),
                                     std::chrono::milliseconds(2000));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(client.status().message()),
              StartsWith(absl::StrCat("cannot connect to Redis at 127.0.0.1:", port, "/2: ")));
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("refused"));
  EXPECT_THAT(std::string(client.status().message()), Not(HasSubstr("hunter2")));
  EXPECT_LT(MillisSince(start), 2000);
}

TEST(RedisFaultTest, UnresolvableHostIsUnavailable) {
  auto client =
      RedisClient::Connect("redis://no-such-host.invalid:6379/0", std::chrono::milliseconds(2000));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(client.status().message()),
              StartsWith("cannot connect to Redis at no-such-host.invalid:6379/0: "));
}

TEST(RedisFaultTest, InvalidUriIsInvalidArgument) {
  auto client = RedisClient::Connect("redis://:pw@h:99999/0");
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("invalid port"));
  auto zero = RedisClient::Connect("redis://127.0.0.1:1/0", std::chrono::milliseconds(0));
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RedisFaultTest, SilentServerTimesOut) {
  // A listening socket nobody accepts on: the TCP connect succeeds (backlog), PING is never
  // answered.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  ASSERT_EQ(listen(listener, 4), 0);
  const int port = ntohs(addr.sin_port);

  const auto start = std::chrono::steady_clock::now();
  auto client = RedisClient::Connect(absl::StrCat("redis://127.0.0.1:", port),
                                     std::chrono::milliseconds(300));
  const int64_t elapsed = MillisSince(start);
  close(listener);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(client.status().message()),
              StartsWith(absl::StrCat("cannot connect to Redis at 127.0.0.1:", port, "/0: ")));
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("no answer to PING within 300 ms"));
  EXPECT_GE(elapsed, 250);
  EXPECT_LT(elapsed, 3000);
}

TEST(RedisFaultTest, PasswordAuthentication) {
  ScratchRedis server;
  ASSERT_TRUE(server
                  .Start({"--requirepass", "s3cr3t", "--user", "alice", "on", ">p@ss:w/rd", "~*",
                          "&*", "+@all"})
                  .ok());

  auto good = RedisClient::Connect(server.Uri(1, ":s3cr3t"));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(good->Ping().ok());
  ASSERT_TRUE(good->WriteMany({{"auth:::1", "x"}}, 300).ok());
  EXPECT_THAT(good->Describe(), Not(HasSubstr("s3cr3t")));

  auto wrong = RedisClient::Connect(server.Uri(1, ":wrongpw"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(wrong.status().message()),
              StartsWith(absl::StrCat("cannot connect to Redis at ", server.Uri(1).substr(8))));
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("WRONGPASS"));
  EXPECT_THAT(std::string(wrong.status().message()), Not(HasSubstr("wrongpw")));

  auto none = RedisClient::Connect(server.Uri(1));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("NOAUTH"));
  auto none_db0 = RedisClient::Connect(server.Uri(0));  // no SELECT: PING gets NOAUTH
  ASSERT_FALSE(none_db0.ok());
  EXPECT_EQ(none_db0.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(none_db0.status().message(), HasSubstr("NOAUTH"));

  // An ACL user; the password percent-encoded in the URI.
  auto alice = RedisClient::Connect(server.Uri(1, "alice:p%40ss%3Aw%2Frd"));
  ASSERT_TRUE(alice.ok()) << alice.status();
  auto values = alice->GetMany({"auth:::1"});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ::testing::ElementsAre(::testing::Optional(std::string("x"))));
  auto alice_wrong = RedisClient::Connect(server.Uri(1, "alice:s3cr3t"));
  ASSERT_FALSE(alice_wrong.ok());
  EXPECT_EQ(alice_wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(alice_wrong.status().message()), Not(HasSubstr("s3cr3t")));

  // A password for a server that wants none is refused too (AUTH fails), not ignored.
  ScratchRedis open_server;
  ASSERT_TRUE(open_server.Start().ok());
  auto needless = RedisClient::Connect(open_server.Uri(0, ":s3cr3t"));
  ASSERT_FALSE(needless.ok());
  EXPECT_EQ(needless.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(needless.status().message()), Not(HasSubstr("s3cr3t")));
}

TEST(RedisFaultTest, ClientKilledByTheServer) {
  auto services = testing::LoadTestServices();
  ASSERT_TRUE(services.ok()) << services.status();
  ASSERT_NE(services->redis_port, 0) << "redis-server is not installed: the harness has none";
  const std::string uri =
      absl::StrCat("redis://", services->redis_host, ":", services->redis_port, "/0");
  auto victim = RedisClient::Connect(uri);
  ASSERT_TRUE(victim.ok()) << victim.status();
  auto admin = RedisClient::Connect(uri);
  ASSERT_TRUE(admin.ok()) << admin.status();

  auto id = victim->Command({"CLIENT", "ID"});
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_EQ(id->type, RedisReply::Type::kInteger);
  auto killed = admin->Command({"CLIENT", "KILL", "ID", std::to_string(id->integer)});
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_EQ(killed->integer, 1);

  absl::Status ping = victim->Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable) << ping;
  EXPECT_THAT(std::string(ping.message()), HasSubstr(absl::StrCat("Redis at ", uri.substr(8))));
  EXPECT_THAT(std::string(ping.message()), HasSubstr("connection lost during PING"));
  EXPECT_FALSE(victim->ok());
  // The client stays broken, cleanly, for every operation.
  EXPECT_EQ(victim->GetMany({"k"}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(victim->WriteMany({{"k", "v"}}, 10).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(victim->DeleteByPrefix("k").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(victim->Ttl("k").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(admin->Ping().ok());
}

TEST(RedisFaultTest, ServerShutDownBetweenOperations) {
  ScratchRedis server;
  ASSERT_TRUE(server.Start().ok());
  auto client = RedisClient::Connect(server.Uri());
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(client->WriteMany({{"v:::1", "x"}, {"v:::2", "y"}}, 300).ok());

  auto admin = RedisClient::Connect(server.Uri());
  ASSERT_TRUE(admin.ok()) << admin.status();
  (void)admin->Command({"SHUTDOWN", "NOSAVE"});  // the server hangs up instead of replying
  ASSERT_TRUE(server.WaitForExit());

  auto removed = client->DeleteByPrefix("v");
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr("lost during SCAN"));
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr("had removed 0 keys"));
  EXPECT_EQ(client->WriteMany({{"v:::3", "z"}}, 300).code(), absl::StatusCode::kUnavailable);

  // And nobody can connect now: Unavailable before anything.
  auto again = RedisClient::Connect(server.Uri());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
}

TEST(RedisFaultTest, ServerKilledInTheMiddleOfDeleteByPrefix) {
  ScratchRedis server;
  ASSERT_TRUE(server.Start().ok());
  auto client = RedisClient::Connect(server.Uri());
  ASSERT_TRUE(client.ok()) << client.status();
  constexpr int kKeys = 100000;
  Writes writes;
  for (int i = 0; i < kKeys; ++i) writes.emplace_back(CacheKey("doomed", std::to_string(i)), "v");
  ASSERT_TRUE(client->WriteMany(writes, 300).ok());

  // Batches of 10: about 10k round trips, far longer than the 50 ms before the kill.
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    kill(server.pid(), SIGKILL);
  });
  const auto start = std::chrono::steady_clock::now();
  auto removed = client->DeleteByPrefix("doomed", 10);
  const int64_t elapsed = MillisSince(start);
  killer.join();
  server.Kill();  // reap
  ASSERT_FALSE(removed.ok()) << "finished " << *removed << " deletions in " << elapsed
                             << " ms, before the kill";
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kUnavailable) << removed.status();
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr("connection lost during"));
  EXPECT_THAT(std::string(removed.status().message()),
              HasSubstr("(DeleteByPrefix of 'doomed:::*' had removed"));
  EXPECT_FALSE(client->ok());
  std::cout << removed.status().message() << "\n";
}

TEST(RedisFaultTest, ServerKilledInTheMiddleOfWriteMany) {
  ScratchRedis server;
  ASSERT_TRUE(server.Start().ok());
  auto client = RedisClient::Connect(server.Uri());
  ASSERT_TRUE(client.ok()) << client.status();
  Writes writes;
  for (int i = 0; i < 20000; ++i) {
    writes.emplace_back(CacheKey("w", std::to_string(i)), std::string(512, 'x'));
  }
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kill(server.pid(), SIGKILL);
  });
  // Write until the server is gone: the failing call may be mid-pipeline or the next one;
  // either way it is Unavailable and nothing crashes.
  absl::Status status;
  int rounds = 0;
  const auto start = std::chrono::steady_clock::now();
  while (status.ok() && MillisSince(start) < 20000) {
    status = client->WriteMany(writes, 300);
    ++rounds;
  }
  killer.join();
  server.Kill();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("WriteMany"));
  std::cout << "WriteMany failed in round " << rounds << ": " << status.message() << "\n";
}

TEST(RedisFaultTest, ServerHangsUpInTheMiddleOfAReply) {
  FakeRedis fake(FakeRedis::Mode::kPartialReplyThenClose);
  auto client = RedisClient::Connect(fake.Uri(), std::chrono::milliseconds(2000));
  ASSERT_TRUE(client.ok()) << client.status();
  auto removed = client->DeleteByPrefix("x");
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kUnavailable) << removed.status();
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr("connection lost during SCAN"));
  EXPECT_TRUE(fake.served());
}

TEST(RedisFaultTest, PeerGoneDuringALargePipelineDoesNotRaiseSigpipe) {
  // SIGPIPE must be at its default (terminate) for this test to mean anything.
  struct sigaction current;
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &current), 0);
  ASSERT_EQ(current.sa_handler, SIG_DFL);

  FakeRedis fake(FakeRedis::Mode::kCloseAfterPong);
  auto client = RedisClient::Connect(fake.Uri(), std::chrono::milliseconds(2000));
  ASSERT_TRUE(client.ok()) << client.status();
  for (int i = 0; i < 200 && !fake.served(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(fake.served());
  Writes writes;  // ~20 MB: far more than the socket buffers, so write() meets EPIPE
  for (int i = 0; i < 10000; ++i) {
    writes.emplace_back(CacheKey("w", std::to_string(i)), std::string(2048, 'x'));
  }
  absl::Status status = client->WriteMany(writes, 300);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  // Still alive, SIGPIPE unblocked again and not left pending.
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  EXPECT_EQ(sigismember(&mask, SIGPIPE), 0);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

}  // namespace
}  // namespace protean_admin
