#include "server/service/listen_policy.h"

#include <gtest/gtest.h>

#include <string>

namespace protean_admin::service {
namespace {

TEST(ListenPolicyTest, LoopbackDetection) {
  for (const char* address :
       {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "LOCALHOST:1", "[::1]:50051", "::1",
        "[::ffff:127.0.0.1]:50051", "unix:/run/protean-admin/admin.sock",
        "unix-abstract:protean-admin", "ipv4:127.0.0.1:50051", "dns:localhost:50051"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address :
       {"0.0.0.0:50051", "[::]:50051", "10.0.0.5:50051", "128.0.0.1:50051", "example.com:50051",
        "localhost.example.com:50051", "[2001:db8::1]:50051", "[::ffff:10.0.0.1]:50051",
        "126.255.255.255:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

TEST(ListenPolicyTest, LoopbackAndUnixAlwaysAllowed) {
  for (const char* address : {"127.0.0.1:50051", "[::1]:50051", "localhost:1", "unix:/tmp/s"}) {
    ListenDecision decision = CheckListenPolicy(address, {});
    EXPECT_TRUE(decision.status.ok()) << address << ": " << decision.status;
    EXPECT_EQ(decision.warning, "");
  }
}

TEST(ListenPolicyTest, NonLoopbackNeedsTlsAndTokens) {
  ListenDecision decision = CheckListenPolicy("0.0.0.0:50051", {});
  ASSERT_EQ(decision.status.code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(decision.status.message());
  EXPECT_NE(message.find("0.0.0.0:50051"), std::string::npos) << message;
  EXPECT_NE(message.find("--tls-cert and --tls-key"), std::string::npos) << message;
  EXPECT_NE(message.find("--auth-token-file"), std::string::npos) << message;
  EXPECT_NE(message.find("--insecure"), std::string::npos) << message;

  decision = CheckListenPolicy("[::]:50051", {.tls = true});
  ASSERT_EQ(decision.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(decision.status.message()).find("--auth-token-file"), std::string::npos);
  EXPECT_EQ(std::string(decision.status.message()).find("--tls-cert"), std::string::npos);

  decision = CheckListenPolicy("10.1.2.3:50051", {.tokens = true});
  ASSERT_EQ(decision.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(decision.status.message()).find("--tls-cert"), std::string::npos);
  EXPECT_EQ(std::string(decision.status.message()).find("--auth-token-file"), std::string::npos);

  decision = CheckListenPolicy("0.0.0.0:50051", {.tls = true, .tokens = true});
  EXPECT_TRUE(decision.status.ok()) << decision.status;
  EXPECT_EQ(decision.warning, "");
}

TEST(ListenPolicyTest, InsecureOverridesWithWarning) {
  ListenDecision decision = CheckListenPolicy("0.0.0.0:50051", {.insecure = true});
  EXPECT_TRUE(decision.status.ok());
  EXPECT_NE(decision.warning.find("INSECURE"), std::string::npos);
  EXPECT_NE(decision.warning.find("0.0.0.0:50051"), std::string::npos);
  // --insecure on a loopback address changes nothing and warns about nothing.
  decision = CheckListenPolicy("127.0.0.1:50051", {.insecure = true});
  EXPECT_TRUE(decision.status.ok());
  EXPECT_EQ(decision.warning, "");
}

TEST(ListenPolicyTest, UnparsableAddress) {
  EXPECT_EQ(CheckListenPolicy("", {}).status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckListenPolicy("[::1:50051", {}).status.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace protean_admin::service
