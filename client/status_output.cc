#include "client/status_output.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace protean_admin::client {
namespace {

std::string OrDash(bool has, const std::string& text) { return has ? text : "-"; }

}  // namespace

std::string IsoUtc(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  if (millis == 0) return absl::StrCat(buffer, "+00:00");
  return absl::StrFormat("%s.%03d000+00:00", buffer, millis);
}

nlohmann::json ProjectionStatusJson(const pb::ProjectionStatusEntry& e) {
  nlohmann::json j;
  j["projection_name"] = e.projection_name();
  j["projectors"] = std::vector<std::string>(e.projectors().begin(), e.projectors().end());
  j["last_updated"] =
      e.has_last_updated_unix_ms() ? nlohmann::json(IsoUtc(e.last_updated_unix_ms())) : nullptr;
  j["staleness_seconds"] =
      e.has_staleness_seconds() ? nlohmann::json(e.staleness_seconds()) : nullptr;
  j["lag"] = e.has_lag() ? nlohmann::json(e.lag()) : nullptr;
  j["row_count"] = e.has_row_count() ? nlohmann::json(e.row_count()) : nullptr;
  j["status"] = e.status();
  return j;
}

nlohmann::json StatusEnvelope(const pb::ProjectionStatusResponse& response) {
  nlohmann::json projections = nlohmann::json::array();
  nlohmann::json diagnostics = nlohmann::json::array();
  for (const pb::ProjectionStatusEntry& e : response.projections()) {
    projections.push_back(ProjectionStatusJson(e));
    for (const std::string& d : e.diagnostics()) {
      diagnostics.push_back({{"projection", e.projection_name()}, {"message", d}});
    }
  }
  return {{"version", kEnvelopeVersion},
          {"status", "pass"},
          {"data", {{"projections", projections}}},
          {"diagnostics", diagnostics}};
}

nlohmann::json StatusErrorEnvelope(const std::string& message, const std::string& code) {
  return {{"version", kEnvelopeVersion},
          {"status", "error"},
          {"data", {{"error", message}, {"code", code}}},
          {"diagnostics", nlohmann::json::array()}};
}

std::vector<std::string> StatusTable(const pb::ProjectionStatusResponse& response) {
  if (response.projections().empty()) return {"No projections found in domain."};
  constexpr char kRow[] = "%-24s %-32s %-32s %13s %8s %8s %s";
  std::vector<std::string> lines;
  lines.push_back(absl::StrFormat(kRow, "PROJECTION", "PROJECTORS", "LAST UPDATED", "STALENESS (S)",
                                  "LAG", "ROWS", "STATUS"));
  int ok = 0, lagging = 0, unknown = 0;
  std::vector<std::string> notes;
  for (const pb::ProjectionStatusEntry& e : response.projections()) {
    lines.push_back(absl::StrFormat(
        kRow, e.projection_name(),
        e.projectors().empty() ? "-" : absl::StrJoin(e.projectors(), ", "),
        OrDash(e.has_last_updated_unix_ms(), IsoUtc(e.last_updated_unix_ms())),
        OrDash(e.has_staleness_seconds(), absl::StrFormat("%.0f", e.staleness_seconds())),
        OrDash(e.has_lag(), absl::StrCat(e.lag())),
        OrDash(e.has_row_count(), absl::StrCat(e.row_count())), e.status()));
    ok += e.status() == "ok";
    lagging += e.status() == "lagging";
    unknown += e.status() == "unknown";
    for (const std::string& d : e.diagnostics()) {
      notes.push_back(absl::StrCat("note: [", e.projection_name(), "] ", d));
    }
  }
  std::vector<std::string> summary = {absl::StrCat(response.projections_size(), " projection(s)")};
  if (ok > 0) summary.push_back(absl::StrCat(ok, " ok"));
  if (lagging > 0) summary.push_back(absl::StrCat(lagging, " lagging"));
  if (unknown > 0) summary.push_back(absl::StrCat(unknown, " unknown"));
  lines.push_back("");
  lines.push_back(absl::StrJoin(summary, ", "));
  lines.insert(lines.end(), notes.begin(), notes.end());
  return lines;
}

}  // namespace protean_admin::client
