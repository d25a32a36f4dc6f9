#include "server/service/audit_trail.h"

#include <chrono>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/service/logging.h"

namespace protean_admin::service {
namespace {

storage::RebuildState ToRebuildState(pb::JobState state) {
  switch (state) {
    case pb::JOB_STATE_SUCCEEDED:
      return storage::RebuildState::kSucceeded;
    case pb::JOB_STATE_CANCELLED:
      return storage::RebuildState::kCancelled;
    case pb::JOB_STATE_INTERRUPTED:
      return storage::RebuildState::kInterrupted;
    case pb::JOB_STATE_RUNNING:
      return storage::RebuildState::kRunning;
    default:
      return storage::RebuildState::kFailed;
  }
}

pb::JobState ToJobState(storage::RebuildState state) {
  switch (state) {
    case storage::RebuildState::kRunning:
      return pb::JOB_STATE_RUNNING;
    case storage::RebuildState::kSucceeded:
      return pb::JOB_STATE_SUCCEEDED;
    case storage::RebuildState::kCancelled:
      return pb::JOB_STATE_CANCELLED;
    case storage::RebuildState::kInterrupted:
      return pb::JOB_STATE_INTERRUPTED;
    case storage::RebuildState::kFailed:
      return pb::JOB_STATE_FAILED;
  }
  return pb::JOB_STATE_FAILED;
}

void LogAuditError(const std::string& what, const absl::Status& status, const std::string& job_id) {
  LogRecord(spdlog::level::err, "audit trail: " + what,
            {{"job", job_id}, {"error", std::string(status.message())}});
}

}  // namespace

std::string AuditDatabaseOf(const domain::Domain& domain) {
  if (const domain::DatabaseConfig* db = domain.FindDatabase("default"); db != nullptr) {
    return db->database_uri;
  }
  for (const domain::Projection& p : domain.projections) {
    if (p.cache_backed()) continue;
    if (const domain::DatabaseConfig* db = domain.FindDatabase(p.database); db != nullptr) {
      return db->database_uri;
    }
  }
  return domain.event_store.database_uri;
}

pb::JobInfo JobInfoFromRecord(const storage::RebuildRecord& record) {
  pb::JobInfo info;
  info.set_job_id(record.id);
  info.set_domain(record.domain);
  info.set_projection(record.projection.value_or(""));
  info.set_all(!record.projection.has_value());
  info.set_strategy(record.strategy == "inplace"  ? pb::STRATEGY_INPLACE
                    : record.strategy == "shadow" ? pb::STRATEGY_SHADOW
                                                  : pb::STRATEGY_ATOMIC);
  info.set_state(ToJobState(record.state));
  info.set_requested_by(record.requested_by);
  info.set_peer(record.peer);
  info.set_started_unix_ms(record.started_unix_ms);
  info.set_finished_unix_ms(record.finished_unix_ms.value_or(0));
  info.set_error(absl::StrJoin(record.errors, "; "));
  if (record.results_json.has_value()) {
    nlohmann::json results = nlohmann::json::parse(*record.results_json, nullptr, false);
    if (results.is_array()) {
      for (const nlohmann::json& r : results) {
        if (!r.is_object()) continue;
        pb::RebuildResult* out = info.add_results();
        out->set_projection_name(r.value("projection", ""));
        out->set_events_dispatched(r.value("events_dispatched", int64_t{0}));
        out->set_events_skipped(r.value("events_skipped", int64_t{0}));
        out->set_success(r.value("success", false));
        out->set_partial(r.value("partial", false));
        out->set_duration_ms(r.value("duration_ms", int64_t{0}));
        for (const std::string& e : r.value("errors", std::vector<std::string>{})) {
          out->add_errors(e);
        }
      }
    }
  }
  return info;
}

AuditTrail::AuditTrail(std::string daemon, std::string fixed_database)
    : daemon_(std::move(daemon)),
      instance_(storage::MakeDaemonInstanceId(daemon_)),
      fixed_database_(std::move(fixed_database)) {}

AuditTrail::~AuditTrail() {
  std::vector<PendingEnd> left;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    stopping_ = true;
  }
  pending_cv_.notify_all();
  if (retrier_.joinable()) retrier_.join();
  left.swap(pending_);  // the retry thread has ended
  for (const PendingEnd& end : left) {
    absl::Status status = TryRecordEnd(end);
    if (status.code() == absl::StatusCode::kUnavailable) {
      LogAuditError(
          "gave up recording the end of a rebuild (its row stays running until a "
          "daemon finds this process gone)",
          status, end.job_id);
    }
  }
}

absl::StatusOr<storage::AuditStore*> AuditTrail::Open(const std::string& database) {
  if (database.empty()) return absl::FailedPreconditionError("the domain has no database");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stores_.find(database);
  if (it != stores_.end()) return it->second.get();
  absl::StatusOr<std::unique_ptr<storage::AuditStore>> store =
      storage::AuditStore::Open(database, instance_);
  if (!store.ok()) return store.status();
  absl::StatusOr<int64_t> marked = (*store)->MarkInterrupted();
  if (!marked.ok()) return marked.status();
  if (*marked > 0) {
    LogRecord(spdlog::level::warn,
              "audit trail: rebuilds of stopped daemon processes marked interrupted",
              {{"instance", instance_}, {"rows", *marked}});
  }
  storage::AuditStore* raw = store->get();
  stores_.emplace(database, std::move(*store));
  return raw;
}

std::string AuditTrail::DatabaseFor(const domain::Domain& domain) const {
  return fixed_database_.empty() ? AuditDatabaseOf(domain) : fixed_database_;
}

storage::AuditStore* AuditTrail::ForDomain(const domain::Domain& domain) {
  absl::StatusOr<storage::AuditStore*> store = Open(DatabaseFor(domain));
  if (!store.ok()) {
    LogAuditError("cannot open the audit table", store.status(), "");
    return nullptr;
  }
  return *store;
}

void AuditTrail::JobStarted(const std::string& job_id, const JobSpec& spec) {
  if (spec.loaded_domain == nullptr && fixed_database_.empty()) return;
  std::string database =
      fixed_database_.empty() ? AuditDatabaseOf(*spec.loaded_domain) : fixed_database_;
  absl::StatusOr<storage::AuditStore*> store = Open(database);
  if (!store.ok()) {
    LogAuditError("cannot open the audit table", store.status(), job_id);
    return;
  }
  storage::RebuildRecord record;
  record.id = job_id;
  record.domain = spec.domain;
  if (!spec.all) record.projection = spec.projection;
  record.strategy = spec.strategy == pb::STRATEGY_INPLACE  ? "inplace"
                    : spec.strategy == pb::STRATEGY_SHADOW ? "shadow"
                                                           : "atomic";
  record.requested_by = spec.requested_by.empty() ? "anonymous" : spec.requested_by;
  record.peer = spec.peer;
  record.daemon = daemon_;
  record.daemon_instance = instance_;
  if (absl::Status s = (*store)->Start(record); !s.ok()) {
    LogAuditError("cannot record the start of a rebuild", s, job_id);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  job_database_[job_id] = database;
}

void AuditTrail::JobFinished(const Job& job) {
  std::string database;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = job_database_.find(job.id());
    if (it == job_database_.end()) return;  // its start was not recorded
    database = it->second;
    job_database_.erase(it);
  }
  pb::JobInfo info = job.Info();
  storage::RebuildOutcome outcome;
  outcome.state = ToRebuildState(info.state());
  if (outcome.state == storage::RebuildState::kRunning) {
    outcome.state = storage::RebuildState::kFailed;
  }
  nlohmann::json results = nlohmann::json::array();
  for (const pb::RebuildResult& r : info.results()) {
    outcome.events_dispatched += r.events_dispatched();
    outcome.events_skipped += r.events_skipped();
    std::vector<std::string> errors(r.errors().begin(), r.errors().end());
    for (const std::string& e : errors) {
      outcome.errors.push_back(absl::StrCat(r.projection_name(), ": ", e));
    }
    results.push_back({{"projection", r.projection_name()},
                       {"success", r.success()},
                       {"partial", r.partial()},
                       {"events_dispatched", r.events_dispatched()},
                       {"events_skipped", r.events_skipped()},
                       {"duration_ms", r.duration_ms()},
                       {"errors", errors}});
  }
  if (!info.error().empty()) outcome.errors.insert(outcome.errors.begin(), info.error());
  outcome.results_json = results.dump();
  outcome.finished_unix_ms = info.finished_unix_ms();
  RecordEnd({database, job.id(), std::move(outcome)});
}

absl::Status AuditTrail::TryRecordEnd(const PendingEnd& end) {
  absl::StatusOr<storage::AuditStore*> store = Open(end.database);
  absl::Status status = store.ok() ? (*store)->Finish(end.job_id, end.outcome) : store.status();
  if (!status.ok() && status.code() != absl::StatusCode::kUnavailable) {
    LogAuditError("cannot record the end of a rebuild", status, end.job_id);
  }
  return status;
}

void AuditTrail::RecordEnd(PendingEnd end) {
  absl::Status status = TryRecordEnd(end);
  if (status.code() != absl::StatusCode::kUnavailable) return;
  LogAuditError("cannot record the end of a rebuild yet; retrying every second", status,
                end.job_id);
  std::lock_guard<std::mutex> lock(pending_mu_);
  pending_.push_back(std::move(end));
  if (!retrier_.joinable()) retrier_ = std::thread([this] { RetryPendingEnds(); });
}

void AuditTrail::RetryPendingEnds() {
  std::unique_lock<std::mutex> lock(pending_mu_);
  while (!stopping_) {
    pending_cv_.wait_for(lock, std::chrono::seconds(1));
    if (stopping_ || pending_.empty()) continue;
    std::vector<PendingEnd> batch;
    batch.swap(pending_);
    lock.unlock();
    std::vector<PendingEnd> again;
    for (PendingEnd& end : batch) {
      absl::Status status = TryRecordEnd(end);
      if (status.ok()) {
        LogRecord(spdlog::level::info, "audit trail: end of a rebuild recorded after a retry",
                  {{"job", end.job_id}});
      } else if (status.code() == absl::StatusCode::kUnavailable) {
        again.push_back(std::move(end));
      }
    }
    lock.lock();
    pending_.insert(pending_.end(), std::make_move_iterator(again.begin()),
                    std::make_move_iterator(again.end()));
  }
}

std::vector<pb::JobInfo> AuditTrail::List(bool running_only, int limit) {
  std::vector<storage::AuditStore*> stores;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [db, store] : stores_) stores.push_back(store.get());
  }
  std::vector<pb::JobInfo> out;
  for (storage::AuditStore* store : stores) {
    if (absl::StatusOr<int64_t> marked = store->MarkInterrupted(); !marked.ok()) {
      LogAuditError("cannot mark the rebuilds of stopped daemon processes", marked.status(), "");
    }
    absl::StatusOr<std::vector<storage::RebuildRecord>> rows = store->List(limit, running_only);
    if (!rows.ok()) {
      LogAuditError("cannot read the audit table", rows.status(), "");
      continue;
    }
    for (const storage::RebuildRecord& r : *rows) out.push_back(JobInfoFromRecord(r));
  }
  return out;
}

}  // namespace protean_admin::service
