#include "client/output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace protean_admin::client {

std::vector<std::string> SingleResultLines(const pb::RebuildResult& result) {
  std::vector<std::string> lines;
  if (!result.success() || result.errors_size() > 0) {
    for (const std::string& error : result.errors()) lines.push_back("Error: " + error);
    if (lines.empty())
      lines.push_back("Error: rebuild of '" + result.projection_name() + "' failed");
    return lines;
  }
  lines.push_back(absl::StrCat("Rebuilt projection '", result.projection_name(),
                               "': ", result.events_dispatched(), " events processed through ",
                               result.projectors_processed(), " projector(s) across ",
                               result.categories_processed(), " category/categories."));
  if (result.events_skipped() > 0) {
    lines.push_back(absl::StrCat("  (", result.events_skipped(), " events skipped)"));
  }
  return lines;
}

std::vector<std::string> AllResultLines(const std::vector<pb::RebuildResult>& results) {
  if (results.empty()) return {"No projections found in domain."};
  std::vector<std::string> lines;
  int64_t total = 0;
  for (const pb::RebuildResult& r : results) {
    if (r.success() && r.errors_size() == 0) {
      lines.push_back(absl::StrCat("  ", r.projection_name(), ": ", r.events_dispatched(),
                                   " events processed"));
      total += r.events_dispatched();
    } else {
      lines.push_back(
          absl::StrCat("  ", r.projection_name(), ": ERROR - ", absl::StrJoin(r.errors(), ", ")));
    }
  }
  lines.push_back(absl::StrCat("Rebuilt ", results.size(), " projection(s), ", total,
                               " total events processed."));
  return lines;
}

std::vector<std::string> ResultDetailLines(const pb::RebuildResult& result) {
  std::vector<std::string> lines;
  for (const std::string& warning : result.warnings()) {
    lines.push_back(absl::StrCat("warning: [", result.projection_name(), "] ", warning));
  }
  for (const std::string& note : result.hand_off_notes()) {
    lines.push_back(absl::StrCat("hand-off: [", result.projection_name(), "] ", note));
  }
  if (result.skip_reasons_size() == 0) return lines;
  lines.push_back(absl::StrCat("Skipped events of ", result.projection_name(), ":"));
  for (const pb::SkipReason& r : result.skip_reasons()) {
    std::string who =
        r.projector().empty() ? r.event_type() : absl::StrCat(r.projector(), ", ", r.event_type());
    lines.push_back(absl::StrCat(
        "  ", r.count(), " x ", who, ": ", r.reason(), " (first at global position",
        r.first_positions_size() > 1 ? "s " : " ", absl::StrJoin(r.first_positions(), ", "), ")"));
  }
  return lines;
}

std::vector<std::string> ErrorLines(const grpc::Status& status, const std::string& projection) {
  const std::string& message = status.error_message();
  if (message.rfind("Error loading Protean domain:", 0) == 0) return {message};
  if (status.error_code() == grpc::StatusCode::NOT_FOUND && !projection.empty() &&
      message.rfind("Projection '", 0) == 0) {
    return {absl::StrCat("Error: Projection '", projection, "' not found in domain.")};
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return {"Error: " + message,
            "protean-admind requires a valid token: pass --token-file FILE or set "
            "PROTEAN_ADMIN_TOKEN."};
  }
  return {"Error: " + message};
}

std::vector<std::string> PartialLines(const std::vector<pb::RebuildResult>& results) {
  std::vector<std::string> lines;
  for (const pb::RebuildResult& r : results) {
    if (!r.partial()) continue;
    lines.push_back(absl::StrCat(
        "Projection '", r.projection_name(), "' is left partial: its in-place rebuild ended after ",
        r.events_dispatched(), " events were applied; rebuild it again to complete it."));
  }
  return lines;
}

std::string InterruptMessage(const std::string& job_id, const std::vector<std::string>& projections,
                             const std::vector<std::string>& inplace) {
  std::string how;
  if (inplace.empty()) {
    how = "the atomic strategy rolls back";
  } else if (inplace.size() >= projections.size()) {
    how = absl::StrCat("in place, nothing is rolled back: the rows written so far stay and ",
                       inplace.size() == 1 ? "the projection is" : "the projections are",
                       " left partial");
  } else {
    how = absl::StrCat("atomic rebuilds roll back; ", absl::StrJoin(inplace, ", "),
                       inplace.size() == 1 ? " is" : " are",
                       " rebuilt in place and left partial once begun");
  }
  return absl::StrCat("Interrupted: cancelling job ", job_id, " and waiting for it to end (", how,
                      ")...");
}

std::string FormatDuration(double seconds) {
  if (seconds < 0 || !std::isfinite(seconds)) return "?";
  int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

std::string FormatCount(double value) {
  if (value < 1000) return absl::StrFormat("%.0f", value);
  if (value < 1e6) return absl::StrFormat("%.1fk", value / 1e3);
  return absl::StrFormat("%.1fM", value / 1e6);
}

namespace {

double Fraction(const pb::Progress& p) {
  if (p.total() <= 0) return 1.0;
  return std::clamp(static_cast<double>(p.processed()) / static_cast<double>(p.total()), 0.0, 1.0);
}

}  // namespace

std::string ProgressBarLine(const pb::Progress& progress, int width) {
  // Fields padded to their widest, so that the bar keeps its width while the numbers grow.
  const int count_width = static_cast<int>(absl::StrCat(progress.total()).size());
  std::string tail =
      absl::StrFormat(" %3d%%  %*d/%d events  %6s ev/s  ETA %-5s  %s",
                      static_cast<int>(Fraction(progress) * 100), count_width, progress.processed(),
                      progress.total(), FormatCount(progress.events_per_second()),
                      FormatDuration(progress.eta_seconds()), progress.projection());
  int bar = std::max(10, std::min(40, width - static_cast<int>(tail.size()) - 3));
  int filled = static_cast<int>(std::floor(Fraction(progress) * bar));
  std::string line = "[" + std::string(filled, '#') + std::string(bar - filled, '.') + "]" + tail;
  if (width > 0 && static_cast<int>(line.size()) > width - 1) line.resize(width - 1);
  return line;
}

std::string ProgressPlainLine(const pb::Progress& progress) {
  std::string line = absl::StrFormat(
      "[%s] %d/%d events (%.1f%%), %s events/s, ETA %s", progress.projection(),
      progress.processed(), progress.total(), Fraction(progress) * 100,
      FormatCount(progress.events_per_second()), FormatDuration(progress.eta_seconds()));
  if (progress.skipped() > 0) absl::StrAppend(&line, ", ", progress.skipped(), " skipped");
  return line;
}

std::string PhaseName(pb::Phase phase) {
  switch (phase) {
    case pb::PHASE_PLANNING:
      return "planning";
    case pb::PHASE_GUARD:
      return "guard";
    case pb::PHASE_SNAPSHOT:
      return "snapshot";
    case pb::PHASE_TRUNCATE:
      return "truncate";
    case pb::PHASE_REPLAY:
      return "replay";
    case pb::PHASE_HAND_OFF:
      return "hand-off";
    case pb::PHASE_COMMIT:
      return "commit";
    case pb::PHASE_DONE:
      return "done";
    case pb::PHASE_WAITING:
      return "waiting";
    case pb::PHASE_CATCH_UP:
      return "catch-up";
    case pb::PHASE_SWAP:
      return "swap";
    default:
      return "unspecified";
  }
}

std::string StatusCodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return absl::StrCat("CODE_", code);
  return kNames[code];
}

namespace {

nlohmann::json SkipReasonsJson(const pb::RebuildResult& result) {
  nlohmann::json reasons = nlohmann::json::array();
  for (const pb::SkipReason& r : result.skip_reasons()) {
    reasons.push_back({{"projector", r.projector()},
                       {"event_type", r.event_type()},
                       {"reason", r.reason()},
                       {"count", r.count()},
                       {"first_positions", std::vector<int64_t>(r.first_positions().begin(),
                                                                r.first_positions().end())}});
  }
  return reasons;
}

}  // namespace

nlohmann::json ResultJson(const pb::RebuildResult& r) {
  return {{"projection_name", r.projection_name()},
          {"projectors_processed", r.projectors_processed()},
          {"categories_processed", r.categories_processed()},
          {"events_dispatched", r.events_dispatched()},
          {"events_skipped", r.events_skipped()},
          {"errors", std::vector<std::string>(r.errors().begin(), r.errors().end())},
          {"success", r.success()},
          {"partial", r.partial()},
          {"duration_ms", r.duration_ms()},
          {"skip_reasons", SkipReasonsJson(r)},
          {"warnings", std::vector<std::string>(r.warnings().begin(), r.warnings().end())},
          {"hand_off_notes",
           std::vector<std::string>(r.hand_off_notes().begin(), r.hand_off_notes().end())}};
}

nlohmann::json EventJson(const pb::RebuildEvent& event) {
  nlohmann::json j = {{"job_id", event.job_id()}, {"time_unix_ms", event.time_unix_ms()}};
  switch (event.event_case()) {
    case pb::RebuildEvent::kStarted:
      j["type"] = "started";
      j["projections"] = std::vector<std::string>(event.started().projections().begin(),
                                                  event.started().projections().end());
      j["all"] = event.started().all();
      j["domain"] = event.started().domain();
      break;
    case pb::RebuildEvent::kPhase:
      j["type"] = "phase";
      j["projection"] = event.phase().projection();
      j["phase"] = PhaseName(event.phase().phase());
      if (event.phase().since_unix_ms() != 0) j["since_unix_ms"] = event.phase().since_unix_ms();
      break;
    case pb::RebuildEvent::kProgress: {
      const pb::Progress& p = event.progress();
      j["type"] = "progress";
      j["projection"] = p.projection();
      j["projector"] = p.projector();
      j["processed"] = p.processed();
      j["total"] = p.total();
      j["skipped"] = p.skipped();
      j["events_per_second"] = p.events_per_second();
      j["eta_seconds"] = p.eta_seconds();
      break;
    }
    case pb::RebuildEvent::kWarning:
      j["type"] = "warning";
      j["projection"] = event.warning().projection();
      j["message"] = event.warning().message();
      break;
    case pb::RebuildEvent::kResult:
      j["type"] = "result";
      j["result"] = ResultJson(event.result());
      break;
    case pb::RebuildEvent::kSummary:
      j["type"] = "summary";
      j["projections"] = event.summary().projections();
      j["total_events"] = event.summary().total_events();
      j["success"] = event.summary().success();
      break;
    case pb::RebuildEvent::kFailed:
      j["type"] = "failed";
      j["code"] = StatusCodeName(event.failed().code());
      j["message"] = event.failed().message();
      break;
    default:
      j["type"] = "unknown";
      break;
  }
  return j;
}

nlohmann::json ProjectionJson(const pb::ProjectionInfo& projection) {
  return {{"name", projection.name()},
          {"kind", projection.kind()},
          {"target", projection.target()},
          {"projectors", std::vector<std::string>(projection.projectors().begin(),
                                                  projection.projectors().end())},
          {"categories", std::vector<std::string>(projection.categories().begin(),
                                                  projection.categories().end())}};
}

namespace {

std::string_view StrategyName(pb::Strategy strategy) {
  if (strategy == pb::STRATEGY_SHADOW) return "shadow";
  return strategy == pb::STRATEGY_INPLACE ? "inplace" : "atomic";
}

}  // namespace

nlohmann::json JobJson(const pb::JobInfo& job) {
  nlohmann::json results = nlohmann::json::array();
  for (const pb::RebuildResult& r : job.results()) results.push_back(ResultJson(r));
  return {{"job_id", job.job_id()},
          {"domain", job.domain()},
          {"projection", job.projection()},
          {"all", job.all()},
          {"strategy", StrategyName(job.strategy())},
          {"state", JobStateName(job.state())},
          {"requested_by", job.requested_by()},
          {"peer", job.peer()},
          {"started_unix_ms", job.started_unix_ms()},
          {"finished_unix_ms", job.finished_unix_ms()},
          {"processed", job.processed()},
          {"total", job.total()},
          {"waiting_since_unix_ms", job.waiting_since_unix_ms()},
          {"results", results},
          {"error", job.error()}};
}

nlohmann::json ErrorJson(const grpc::Status& status) {
  return {{"type", "error"},
          {"code", StatusCodeName(static_cast<int>(status.error_code()))},
          {"message", status.error_message()}};
}

std::vector<std::string> JobsTable(const std::vector<pb::JobInfo>& jobs, int64_t now_unix_ms) {
  if (jobs.empty()) return {"No rebuild jobs."};
  std::vector<std::string> lines;
  lines.push_back(absl::StrFormat("%-10s %-11s %-24s %-8s %9s  %s", "JOB", "STATE", "PROJECTION",
                                  "STRATEGY", "DURATION", "DETAIL"));
  for (const pb::JobInfo& job : jobs) {
    int64_t end = job.finished_unix_ms() > 0 ? job.finished_unix_ms() : now_unix_ms;
    std::string detail;
    if (job.state() == pb::JOB_STATE_RUNNING && job.waiting_since_unix_ms() > 0) {
      detail = absl::StrCat(
          "waiting for the event server to stop (",
          FormatDuration(static_cast<double>(now_unix_ms - job.waiting_since_unix_ms()) / 1000.0),
          ")");
    } else if (job.state() == pb::JOB_STATE_RUNNING) {
      detail = absl::StrCat(job.processed(), "/", job.total(), " events");
    } else if (!job.error().empty()) {
      detail = job.error();
    } else {
      int64_t dispatched = 0;
      for (const pb::RebuildResult& r : job.results()) dispatched += r.events_dispatched();
      detail = absl::StrCat(job.results_size(), " projection(s), ", dispatched, " events");
    }
    const bool partial = std::any_of(job.results().begin(), job.results().end(),
                                     [](const pb::RebuildResult& r) { return r.partial(); });
    if (partial) detail = "left partial; " + detail;
    lines.push_back(absl::StrFormat(
        "%-10s %-11s %-24s %-8s %9s  %s", job.job_id(), JobStateName(job.state()),
        job.all() ? std::string("(all)") : job.projection(), StrategyName(job.strategy()),
        FormatDuration(static_cast<double>(end - job.started_unix_ms()) / 1000.0), detail));
  }
  return lines;
}

std::vector<std::string> ProjectionsTable(const std::vector<pb::ProjectionInfo>& projections) {
  if (projections.empty()) return {"No projections found in domain."};
  std::vector<std::string> lines;
  lines.push_back(absl::StrFormat("%-24s %-8s %-28s %-32s %s", "PROJECTION", "KIND", "TARGET",
                                  "PROJECTORS", "CATEGORIES"));
  for (const pb::ProjectionInfo& p : projections) {
    std::string projectors = p.projectors().empty() ? "-" : absl::StrJoin(p.projectors(), ",");
    std::string categories = p.categories().empty() ? "-" : absl::StrJoin(p.categories(), ",");
    lines.push_back(absl::StrFormat("%-24s %-8s %-28s %-32s %s", p.name(), p.kind(), p.target(),
                                    projectors, categories));
  }
  return lines;
}

// ---- RebuildRenderer ----

RebuildRenderer::RebuildRenderer(std::ostream& out, std::ostream& err, ProgressMode mode,
                                 std::function<Clock::time_point()> now, int terminal_width)
    : out_(out), err_(err), mode_(mode), now_(std::move(now)), terminal_width_(terminal_width) {}

void RebuildRenderer::ClearBar() {
  if (bar_shown_) {
    err_ << "\r\033[K" << std::flush;
    bar_shown_ = false;
  }
}

void RebuildRenderer::ShowProgress(const pb::Progress& p) {
  Clock::time_point now = now_();
  bool final = p.total() > 0 && p.processed() >= p.total();
  if (mode_ == ProgressMode::kTerminal) {
    if (!final && bar_shown_ && now - last_bar_ < std::chrono::milliseconds(100)) return;
    last_bar_ = now;
    err_ << "\r\033[K" << ProgressBarLine(p, terminal_width_) << std::flush;
    bar_shown_ = true;
    return;
  }
  auto it = last_plain_.find(p.projection());
  if (!final && it != last_plain_.end() && now - it->second < std::chrono::seconds(1)) return;
  last_plain_[p.projection()] = now;
  err_ << ProgressPlainLine(p) << "\n";
}

void RebuildRenderer::OnEvent(const pb::RebuildEvent& event) {
  if (event.has_started()) {
    job_id_ = event.job_id();
    all_ = event.started().all();
    if (!all_ && requested_projection_.empty() && event.started().projections_size() == 1) {
      requested_projection_ = event.started().projections(0);
    }
  }
  if (event.has_result()) results_.push_back(event.result());
  if (event.has_failed()) saw_failed_ = true;
  if (event.has_summary()) saw_summary_ = true;

  if (mode_ == ProgressMode::kJson) {
    out_ << EventJson(event).dump() << "\n" << std::flush;
    // The operator's cue (shadow strategy) also in JSON mode: stdout may be a pipe.
    if (event.has_phase() && event.phase().phase() == pb::PHASE_WAITING) {
      err_ << "[" << event.phase().projection()
           << "] shadow built; waiting for the event server to stop\n";
    }
    return;
  }
  switch (event.event_case()) {
    case pb::RebuildEvent::kStarted:
      err_ << "Job " << event.job_id() << " started ("
           << (all_ ? std::string("all projections")
                    : absl::StrJoin(event.started().projections(), ", "))
           << ")\n";
      break;
    case pb::RebuildEvent::kPhase:
      if (event.phase().phase() == pb::PHASE_WAITING) {
        // The operator's cue (shadow strategy), on a terminal too.
        ClearBar();
        err_ << "[" << event.phase().projection()
             << "] shadow built; waiting for the event server to stop\n";
      } else if (mode_ == ProgressMode::kPlain) {
        err_ << "[" << event.phase().projection() << "] " << PhaseName(event.phase().phase())
             << "\n";
      }
      break;
    case pb::RebuildEvent::kProgress:
      ShowProgress(event.progress());
      break;
    case pb::RebuildEvent::kWarning:
      ClearBar();
      err_ << "warning: "
           << (event.warning().projection().empty() ? ""
                                                    : "[" + event.warning().projection() + "] ")
           << event.warning().message() << "\n";
      break;
    case pb::RebuildEvent::kResult: {
      ClearBar();
      const pb::RebuildResult& r = event.result();
      if (all_) {
        err_ << "[" << r.projection_name() << "] " << (r.success() ? "done" : "failed") << " in "
             << FormatDuration(static_cast<double>(r.duration_ms()) / 1000.0) << "\n";
      }
      for (const std::string& line : ResultDetailLines(r)) err_ << line << "\n";
      break;
    }
    default:
      break;
  }
  err_ << std::flush;
}

int RebuildRenderer::Finish(const grpc::Status& status) {
  ClearBar();
  if (mode_ != ProgressMode::kJson) {
    for (const std::string& line : PartialLines(results_)) err_ << line << "\n";
    err_ << std::flush;
  }
  if (!status.ok()) {
    if (mode_ == ProgressMode::kJson) {
      if (!saw_failed_) out_ << ErrorJson(status).dump() << "\n";
    } else {
      for (const std::string& line : ErrorLines(status, all_ ? "" : requested_projection_)) {
        out_ << line << "\n";
      }
    }
    out_ << std::flush;
    return kExitFailure;
  }
  bool success = std::all_of(results_.begin(), results_.end(),
                             [](const pb::RebuildResult& r) { return r.success(); });
  if (!all_ && results_.empty()) success = false;
  if (mode_ != ProgressMode::kJson) {
    std::vector<std::string> lines;
    if (all_) {
      lines = AllResultLines(results_);
    } else if (!results_.empty()) {
      lines = SingleResultLines(results_.back());
    } else {
      lines = {"Error: the rebuild ended without a result"};
    }
    for (const std::string& line : lines) out_ << line << "\n";
  }
  out_ << std::flush;
  return success ? kExitOk : kExitFailure;
}

}  // namespace protean_admin::client
