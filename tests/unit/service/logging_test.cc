#include "server/service/logging.h"

#include "gtest/gtest.h"

namespace protean_admin::service {
namespace {

TEST(LoggingTest, RecordsRenderAsTextAndAsJson) {
  std::string payload = EncodeRecord("rebuild finished", {{"job", "0001"},
                                                          {"peer", "ipv4:127.0.0.1:5"},
                                                          {"events", 42},
                                                          {"error", "a \"quoted\" reason"}});
  std::string text = RenderText(payload);
  EXPECT_EQ(text.rfind("rebuild finished ", 0), 0u) << text;
  EXPECT_NE(text.find("job=0001"), std::string::npos) << text;
  EXPECT_NE(text.find("events=42"), std::string::npos) << text;
  EXPECT_NE(text.find("error=\"a \\\"quoted\\\" reason\""), std::string::npos) << text;

  auto json = nlohmann::json::parse("{" + RenderJsonMembers(payload) + "}");
  EXPECT_EQ(json["msg"], "rebuild finished");
  EXPECT_EQ(json["job"], "0001");
  EXPECT_EQ(json["events"], 42);
  EXPECT_EQ(json["error"], "a \"quoted\" reason");

  // A plain message (from any layer) stays valid JSON.
  auto plain = nlohmann::json::parse("{" + RenderJsonMembers("say \"hi\"\n") + "}");
  EXPECT_EQ(plain["msg"], "say \"hi\"\n");
  EXPECT_EQ(RenderText("plain"), "plain");
}

}  // namespace
}  // namespace protean_admin::service
