// `protean-admin status` output: Protean's table and result envelope.

#include "client/status_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace protean_admin::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

pb::ProjectionStatusResponse Response() {
  pb::ProjectionStatusResponse r;
  pb::ProjectionStatusEntry* ok = r.add_projections();
  ok->set_projection_name("Balances");
  ok->add_projectors("BalancesProjector");
  ok->set_last_updated_unix_ms(1782561600000);  // 2026-06-27T12:00:00Z
  ok->set_staleness_seconds(0);
  ok->set_lag(0);
  ok->set_row_count(3);
  ok->set_status("ok");
  pb::ProjectionStatusEntry* unknown = r.add_projections();
  unknown->set_projection_name("Feed");
  unknown->add_projectors("FeedProjector");
  unknown->set_status("unknown");
  unknown->add_diagnostics("Projector 'FeedProjector' reads Redis streams");
  return r;
}

TEST(StatusOutputTest, IsoUtcIsPythonsIsoformat) {
  EXPECT_EQ(IsoUtc(1782561600000), "2026-06-27T12:00:00+00:00");
  EXPECT_EQ(IsoUtc(1782561600123), "2026-06-27T12:00:00.123000+00:00");
  EXPECT_EQ(IsoUtc(0), "1970-01-01T00:00:00+00:00");
}

TEST(StatusOutputTest, EnvelopeHasProteansShape) {
  nlohmann::json j = StatusEnvelope(Response());
  EXPECT_EQ(j["version"], "0.1.0");
  EXPECT_EQ(j["status"], "pass");
  ASSERT_EQ(j["data"]["projections"].size(), 2u);
  const nlohmann::json& b = j["data"]["projections"][0];
  EXPECT_EQ(b["projection_name"], "Balances");
  EXPECT_EQ(b["projectors"], nlohmann::json::array({"BalancesProjector"}));
  EXPECT_EQ(b["last_updated"], "2026-06-27T12:00:00+00:00");
  EXPECT_EQ(b["staleness_seconds"], 0.0);
  EXPECT_EQ(b["lag"], 0);
  EXPECT_EQ(b["row_count"], 3);
  EXPECT_EQ(b["status"], "ok");
  EXPECT_EQ(b.size(), 7u);
  const nlohmann::json& f = j["data"]["projections"][1];
  EXPECT_TRUE(f["last_updated"].is_null());
  EXPECT_TRUE(f["staleness_seconds"].is_null());
  EXPECT_TRUE(f["lag"].is_null());
  EXPECT_TRUE(f["row_count"].is_null());
  EXPECT_EQ(f["status"], "unknown");
  ASSERT_EQ(j["diagnostics"].size(), 1u);
  EXPECT_EQ(j["diagnostics"][0]["projection"], "Feed");
}

TEST(StatusOutputTest, ErrorEnvelope) {
  nlohmann::json j = StatusErrorEnvelope("Projection 'X' not found", "NOT_FOUND");
  EXPECT_EQ(j["status"], "error");
  EXPECT_EQ(j["data"]["error"], "Projection 'X' not found");
  EXPECT_EQ(j["data"]["code"], "NOT_FOUND");
  EXPECT_TRUE(j["diagnostics"].is_array());
}

TEST(StatusOutputTest, TableRowsSummaryAndNotes) {
  std::vector<std::string> lines = StatusTable(Response());
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_THAT(lines[0], HasSubstr("PROJECTION"));
  EXPECT_THAT(lines[1], HasSubstr("Balances"));
  EXPECT_THAT(lines[1], HasSubstr("2026-06-27T12:00:00+00:00"));
  EXPECT_THAT(lines[1], HasSubstr(" ok"));
  EXPECT_THAT(lines[2], HasSubstr("Feed"));
  EXPECT_THAT(lines[2], HasSubstr("unknown"));
  EXPECT_EQ(lines[3], "");
  EXPECT_EQ(lines[4], "2 projection(s), 1 ok, 1 unknown");
  EXPECT_EQ(lines[5], "note: [Feed] Projector 'FeedProjector' reads Redis streams");
  EXPECT_THAT(StatusTable(pb::ProjectionStatusResponse()),
              ElementsAre("No projections found in domain."));
}

}  // namespace
}  // namespace protean_admin::client
