#ifndef PROTEAN_ADMIN_CLIENT_OUTPUT_H_
#define PROTEAN_ADMIN_CLIENT_OUTPUT_H_

// What protean-admin prints, as plain functions.
//
// stdout carries the result lines of docs/protean-compatibility.md §6 exactly, and also the error
// lines of that table ("Error: ...", "Error loading Protean domain: ...") because Protean
// prints them to stdout too; other daemon-side failures (guard refusal, already rebuilding,
// cancelled) follow the same "Error: <message>" form on stdout. Progress, warnings and
// hints go to stderr; "cannot reach the daemon" and usage errors go to stderr.

#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "protean/admin/v1/admin.pb.h"
#include "proto/job_state_name.h"

namespace protean_admin::client {

namespace pb = ::protean::admin::v1;

// Exit codes (docs/design.md §12).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// Rebuild of one projection: the success line (+ skipped line) or one "Error: ..." per error.
std::vector<std::string> SingleResultLines(const pb::RebuildResult& result);
// Rebuild of all: per-projection lines and the summary, or "No projections found in domain."
std::vector<std::string> AllResultLines(const std::vector<pb::RebuildResult>& results);
// stderr lines explaining a result: its warnings, then why events were skipped, e.g.
// "  3 x TransactionProjector, Test.Transacted.v1: invalid input syntax for type double
// precision: "bad" (first at global positions 17, 45, 90)". Empty when there is nothing.
std::vector<std::string> ResultDetailLines(const pb::RebuildResult& result);
// A call that ended with an error status. `projection` is the projection asked for (empty
// for a rebuild of all). "Projection 'X' not found" -> "Error: Projection 'X' not found in
// domain."; a domain load error is printed as is; anything else "Error: <message>".
std::vector<std::string> ErrorLines(const grpc::Status& status, const std::string& projection);

// Lines for stderr, one per result an in-place rebuild left partial (naming the projection,
// the events applied, and what to do). stdout keeps Protean's result lines.
std::vector<std::string> PartialLines(const std::vector<pb::RebuildResult>& results);
// What Ctrl-C prints while it cancels job `job_id` of `projections`: an atomic rebuild rolls
// back, those in `inplace` (JobStarted.inplace_projections) are left partial.
std::string InterruptMessage(const std::string& job_id, const std::vector<std::string>& projections,
                             const std::vector<std::string>& inplace);

// "4s", "1m05s", "2h03m", "?" (negative = unknown).
std::string FormatDuration(double seconds);
// "950", "12.3k", "1.2M".
std::string FormatCount(double value);
// "[#########...........]  45%  45000/100000 events  12.3k ev/s  ETA 4s  Balances"
std::string ProgressBarLine(const pb::Progress& progress, int width);
// "[Balances] 45000/100000 events (45.0%), 12.3k events/s, ETA 4s"
std::string ProgressPlainLine(const pb::Progress& progress);

std::string PhaseName(pb::Phase phase);
std::string StatusCodeName(int code);

// One RebuildEvent as a JSON object for --json (one line per event).
nlohmann::json EventJson(const pb::RebuildEvent& event);
nlohmann::json ResultJson(const pb::RebuildResult& result);
nlohmann::json JobJson(const pb::JobInfo& job);
nlohmann::json ProjectionJson(const pb::ProjectionInfo& projection);
nlohmann::json ErrorJson(const grpc::Status& status);

// `jobs` and `projections` tables (header + one row each). A job that left a projection
// partial says so first in its DETAIL.
std::vector<std::string> JobsTable(const std::vector<pb::JobInfo>& jobs, int64_t now_unix_ms);
std::vector<std::string> ProjectionsTable(const std::vector<pb::ProjectionInfo>& projections);

enum class ProgressMode { kTerminal, kPlain, kJson };

// Consumes the events of one rebuild stream (RebuildProjection, RebuildAll, WatchRebuild):
// progress to `err`, and at the end the result lines (or JSON lines) to `out`.
class RebuildRenderer {
 public:
  using Clock = std::chrono::steady_clock;
  RebuildRenderer(std::ostream& out, std::ostream& err, ProgressMode mode,
                  std::function<Clock::time_point()> now = Clock::now, int terminal_width = 80);

  void OnEvent(const pb::RebuildEvent& event);
  // The stream ended with `status`. Prints the result lines or the error (and PartialLines
  // on stderr); returns the exit code (0 only when every projection succeeded).
  int Finish(const grpc::Status& status);

  // What `started` said (empty until then).
  const std::string& job_id() const { return job_id_; }
  bool saw_failed() const { return saw_failed_; }
  // For a single rebuild: the projection asked for (names the not-found line).
  void set_requested_projection(std::string projection) {
    requested_projection_ = std::move(projection);
  }
  void set_all(bool all) { all_ = all; }

 private:
  void ClearBar();
  // A progress event: the bar (at most every 100 ms) or a plain line (at most every second
  // per projection); the final one always.
  void ShowProgress(const pb::Progress& progress);

  std::ostream& out_;
  std::ostream& err_;
  ProgressMode mode_;
  std::function<Clock::time_point()> now_;
  int terminal_width_;
  std::string job_id_;
  std::string requested_projection_;
  bool all_ = false;
  bool bar_shown_ = false;
  bool saw_failed_ = false;
  bool saw_summary_ = false;
  std::vector<pb::RebuildResult> results_;
  std::map<std::string, Clock::time_point> last_plain_;
  Clock::time_point last_bar_{};
};

}  // namespace protean_admin::client

#endif  // PROTEAN_ADMIN_CLIENT_OUTPUT_H_
