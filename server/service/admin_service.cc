#include "server/service/admin_service.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "domain/loader.h"
#include "proto/job_state_name.h"
#include "proto/request_limits.h"
#include "server/service/logging.h"
#include "server/service/status_convert.h"

namespace protean_admin::service {
namespace {

// Audit rows read per database for ListRebuilds.
constexpr int kAuditListLimit = 200;

std::string StrategyName(pb::Strategy strategy) {
  if (strategy == pb::STRATEGY_SHADOW) return "shadow";
  return strategy == pb::STRATEGY_INPLACE ? "inplace" : "atomic";
}

// A week: past it a forgotten shadow job is surely not wanted.
constexpr int kMaxWaitTimeoutSeconds = 7 * 24 * 3600;

}  // namespace

std::string RequestedByOf(const grpc::ServerContext& context, const Principal& principal) {
  if (!principal.token_name.empty() || !principal.cert_subject.empty()) {
    return principal.RequestedBy();
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kRequestedByMetadata);
  if (it == metadata.end() || it->second.empty()) return "anonymous";
  return Abbreviate(std::string_view(it->second.data(), it->second.size()), kMaxRequestedByBytes);
}

absl::Status ApplyOptions(const pb::RebuildOptions& options, JobSpec* spec) {
  if (absl::Status s = CheckBatchSize(options.batch_size()); !s.ok()) return s;
  if (absl::Status s = CheckLength("domain", options.domain(), kMaxDomainSpecBytes); !s.ok()) {
    return s;
  }
  if (!pb::Strategy_IsValid(options.strategy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown strategy ", static_cast<int>(options.strategy())));
  }
  if (options.wait_timeout_seconds() < 0 ||
      options.wait_timeout_seconds() > kMaxWaitTimeoutSeconds) {
    return absl::InvalidArgumentError(absl::StrCat("wait_timeout_seconds must be 0 to ",
                                                   kMaxWaitTimeoutSeconds, ", got ",
                                                   options.wait_timeout_seconds()));
  }
  spec->domain = options.domain().empty() ? "." : options.domain();
  spec->batch_size = options.batch_size() == 0 ? kDefaultBatchSize : options.batch_size();
  spec->strategy =
      options.strategy() == pb::STRATEGY_UNSPECIFIED ? pb::STRATEGY_ATOMIC : options.strategy();
  spec->wait_timeout_seconds = options.wait_timeout_seconds();
  spec->force = options.force();
  spec->hand_off = !options.skip_hand_off();
  if (options.has_max_skipped()) {
    if (options.max_skipped() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_skipped must not be negative, got ", options.max_skipped()));
    }
    spec->max_skipped = options.max_skipped();
  }
  return absl::OkStatus();
}

pb::ProjectionInfo DescribeProjection(const domain::Domain& domain,
                                      const domain::Projection& projection) {
  pb::ProjectionInfo info;
  info.set_name(projection.name);
  if (projection.cache_backed()) {
    info.set_kind("cache");
    info.set_target(absl::StrCat(projection.cache_prefix, ":::*"));
  } else {
    info.set_kind("database");
    std::string schema = projection.schema;
    if (schema.empty()) {
      const domain::DatabaseConfig* db = domain.FindDatabase(projection.database);
      if (db != nullptr) schema = db->schema;
    }
    info.set_target(schema.empty() ? projection.table
                                   : absl::StrCat(schema, ".", projection.table));
  }
  std::vector<std::string> categories;
  for (const domain::Projector* projector : domain.ProjectorsFor(projection.name)) {
    info.add_projectors(projector->name);
    for (const std::string& c : projector->categories) {
      if (std::find(categories.begin(), categories.end(), c) == categories.end()) {
        categories.push_back(c);
      }
    }
  }
  for (const std::string& c : categories) info.add_categories(c);
  return info;
}

pb::ProjectionStatusEntry ToProto(const rebuild::ProjectionStatus& status) {
  pb::ProjectionStatusEntry entry;
  entry.set_projection_name(status.projection_name);
  for (const std::string& p : status.projectors) entry.add_projectors(p);
  if (status.last_updated_unix_ms) entry.set_last_updated_unix_ms(*status.last_updated_unix_ms);
  if (status.staleness_seconds) entry.set_staleness_seconds(*status.staleness_seconds);
  if (status.lag) entry.set_lag(*status.lag);
  if (status.row_count) entry.set_row_count(*status.row_count);
  entry.set_status(std::string(rebuild::StatusName(status.status)));
  for (const rebuild::FeederStatus& f : status.feeders) {
    pb::FeederStatus* feeder = entry.add_feeders();
    feeder->set_projector(f.projector);
    feeder->set_category(f.category);
    feeder->set_subscription_type(
        f.subscription_type == domain::SubscriptionType::kStream ? "stream" : "event_store");
    if (f.lag) feeder->set_lag(*f.lag);
    if (f.last_updated_unix_ms) feeder->set_last_updated_unix_ms(*f.last_updated_unix_ms);
    if (f.position) feeder->set_position(*f.position);
  }
  for (const std::string& d : status.diagnostics) entry.add_diagnostics(d);
  return entry;
}

void LogJobFinished(const Job& job) {
  pb::JobInfo info = job.Info();
  int64_t dispatched = 0;
  int64_t skipped = 0;
  int failed = 0;
  for (const pb::RebuildResult& r : info.results()) {
    dispatched += r.events_dispatched();
    skipped += r.events_skipped();
    failed += r.success() ? 0 : 1;
  }
  nlohmann::json fields = {
      {"job", info.job_id()},
      {"peer", info.peer()},
      {"requested_by", info.requested_by()},
      {"domain", info.domain()},
      {"projection", info.all() ? std::string("*all*") : info.projection()},
      {"strategy", StrategyName(info.strategy())},
      {"force", job.spec().force},
      {"outcome", JobStateName(info.state())},
      {"projections", info.results_size()},
      {"failed_projections", failed},
      {"events_dispatched", dispatched},
      {"events_skipped", skipped},
      {"duration_ms", info.finished_unix_ms() - info.started_unix_ms()},
  };
  if (!info.error().empty()) fields["error"] = info.error();
  spdlog::level::level_enum level =
      info.state() == pb::JOB_STATE_SUCCEEDED ? spdlog::level::info : spdlog::level::warn;
  LogRecord(level, "rebuild finished", fields);
}

absl::StatusOr<std::shared_ptr<const domain::Domain>> AdminService::Load(
    const std::string& spec) const {
  domain::LoadOptions load_options;
  load_options.domain_root = options_.domain_root;
  absl::StatusOr<domain::Domain> loaded =
      domain::LoadDomain(spec.empty() ? std::string(".") : spec, load_options);
  if (!loaded.ok()) return loaded.status();
  return std::make_shared<const domain::Domain>(std::move(*loaded));
}

grpc::Status AdminService::Follow(grpc::ServerContext* context, Job& job,
                                  grpc::ServerWriter<pb::RebuildEvent>* writer, bool detach) {
  size_t cursor = 0;
  std::vector<pb::RebuildEvent> batch;
  while (true) {
    batch.clear();
    bool finished = job.ReadEvents(&cursor, &batch, std::chrono::milliseconds(200));
    for (const pb::RebuildEvent& event : batch) {
      if (!writer->Write(event)) {
        // The client went away; the job keeps running (it can be watched again).
        return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
      if (detach && event.has_started()) return grpc::Status::OK;
    }
    if (finished) return ToGrpcStatus(job.final_status());
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
  }
}

grpc::Status AdminService::StartAndFollow(grpc::ServerContext* context, const Principal& principal,
                                          JobSpec spec,
                                          grpc::ServerWriter<pb::RebuildEvent>* writer,
                                          bool detach) {
  spec.peer = principal.peer.empty() ? context->peer() : principal.peer;
  spec.requested_by = RequestedByOf(*context, principal);
  nlohmann::json fields = {
      {"peer", spec.peer},
      {"requested_by", spec.requested_by},
      {"domain", spec.domain},
      {"projection", spec.all ? std::string("*all*") : spec.projection},
      {"strategy", StrategyName(spec.strategy)},
      {"batch_size", spec.batch_size},
      {"force", spec.force},
      {"detach", detach},
  };
  absl::StatusOr<std::shared_ptr<Job>> job = registry_->Start(std::move(spec));
  if (!job.ok()) {
    fields["error"] = std::string(job.status().message());
    LogRecord(spdlog::level::warn, "rebuild refused", fields);
    return ToGrpcStatus(job.status());
  }
  fields["job"] = (*job)->id();
  LogRecord(spdlog::level::info, "rebuild started", fields);
  return Follow(context, **job, writer, detach);
}

grpc::Status AdminService::RebuildProjection(grpc::ServerContext* context,
                                             const pb::RebuildProjectionRequest* request,
                                             grpc::ServerWriter<pb::RebuildEvent>* writer) {
  Principal principal;
  if (grpc::Status s = AuthorizeCallStatus(*context, tokens_, &principal); !s.ok()) return s;
  if (request->projection().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "projection must be given");
  }
  if (absl::Status s = CheckLength("projection", request->projection(), kMaxProjectionNameBytes);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  JobSpec spec;
  absl::Status status = ApplyOptions(request->options(), &spec);
  if (!status.ok()) return ToGrpcStatus(status);
  absl::StatusOr<std::shared_ptr<const domain::Domain>> domain = Load(spec.domain);
  if (!domain.ok()) return ToGrpcStatus(domain.status());
  if ((*domain)->FindProjection(request->projection()) == nullptr) {
    return ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("Projection '", Abbreviate(request->projection()), "' not found")));
  }
  spec.all = false;
  spec.projection = request->projection();
  spec.projections = {request->projection()};
  spec.lock_keys = {absl::StrCat((*domain)->source_file, "#", request->projection())};
  spec.loaded_domain = *domain;
  return StartAndFollow(context, principal, std::move(spec), writer, request->options().detach());
}

grpc::Status AdminService::RebuildAll(grpc::ServerContext* context,
                                      const pb::RebuildAllRequest* request,
                                      grpc::ServerWriter<pb::RebuildEvent>* writer) {
  Principal principal;
  if (grpc::Status s = AuthorizeCallStatus(*context, tokens_, &principal); !s.ok()) return s;
  JobSpec spec;
  absl::Status status = ApplyOptions(request->options(), &spec);
  if (status.ok() && spec.strategy == pb::STRATEGY_SHADOW) {
    // Each projection would wait for the server to stop (docs/design.md §4).
    status = absl::InvalidArgumentError(
        "the shadow strategy rebuilds one projection at a time: pass --projection");
  }
  if (!status.ok()) return ToGrpcStatus(status);
  absl::StatusOr<std::shared_ptr<const domain::Domain>> domain = Load(spec.domain);
  if (!domain.ok()) return ToGrpcStatus(domain.status());
  spec.all = true;
  for (const domain::Projection& p : (*domain)->projections) {
    spec.projections.push_back(p.name);
    spec.lock_keys.push_back(absl::StrCat((*domain)->source_file, "#", p.name));
  }
  spec.loaded_domain = *domain;
  return StartAndFollow(context, principal, std::move(spec), writer, request->options().detach());
}

grpc::Status AdminService::ListProjections(grpc::ServerContext* context,
                                           const pb::ListProjectionsRequest* request,
                                           pb::ListProjectionsResponse* response) {
  Principal principal;
  if (grpc::Status s = AuthorizeCallStatus(*context, tokens_, &principal); !s.ok()) return s;
  if (absl::Status s = CheckLength("domain", request->domain(), kMaxDomainSpecBytes); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<std::shared_ptr<const domain::Domain>> domain = Load(request->domain());
  if (!domain.ok()) return ToGrpcStatus(domain.status());
  // Opening the domain's audit table marks rebuilds of a crashed earlier run interrupted.
  if (audit_ != nullptr) audit_->ForDomain(**domain);
  for (const domain::Projection& p : (*domain)->projections) {
    *response->add_projections() = DescribeProjection(**domain, p);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ListRebuilds(grpc::ServerContext* context,
                                        const pb::ListRebuildsRequest* request,
                                        pb::ListRebuildsResponse* response) {
  Principal principal;
  if (grpc::Status s = AuthorizeCallStatus(*context, tokens_, &principal); !s.ok()) return s;
  if (absl::Status s = CheckLength("domain", request->domain(), kMaxDomainSpecBytes); !s.ok()) {
    return ToGrpcStatus(s);
  }
  std::vector<pb::JobInfo> jobs = registry_->List(request->running_only());
  if (audit_ != nullptr) {
    if (!request->domain().empty()) {
      absl::StatusOr<std::shared_ptr<const domain::Domain>> domain = Load(request->domain());
      if (!domain.ok()) return ToGrpcStatus(domain.status());
      audit_->ForDomain(**domain);
    }
    // The audit trail adds rebuilds this process no longer (or never) had in memory;
    // the in-memory view of a job wins (it has live progress).
    std::set<std::string> known;
    for (const pb::JobInfo& info : jobs) known.insert(info.job_id());
    for (pb::JobInfo& info : audit_->List(request->running_only(), kAuditListLimit)) {
      if (known.insert(info.job_id()).second) jobs.push_back(std::move(info));
    }
    std::stable_sort(jobs.begin(), jobs.end(), [](const pb::JobInfo& a, const pb::JobInfo& b) {
      return a.started_unix_ms() < b.started_unix_ms();
    });
  }
  for (pb::JobInfo& info : jobs) *response->add_jobs() = std::move(info);
  return grpc::Status::OK;
}

grpc::Status AdminService::WatchRebuild(grpc::ServerContext* context,
                                        const pb::WatchRebuildRequest* request,
                                        grpc::ServerWriter<pb::RebuildEvent>* writer) {
  Principal principal;
  if (grpc::Status s = AuthorizeCallStatus(*context, tokens_, &principal); !s.ok()) return s;
  if (absl::Status s = CheckLength("job_id", request->job_id(), kMaxJobIdBytes); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<std::shared_ptr<Job>> job = registry_->Find(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  return Follow(context, **job, writer, /*detach=*/false);
}

grpc::Status AdminService::CancelRebuild(grpc::ServerContext* context,
                                         const pb::CancelRebuildRequest* request,
                                         pb::CancelRebuildResponse* response) {
  Principal principal;
  if (grpc::Status s = AuthorizeCallStatus(*context, tokens_, &principal); !s.ok()) return s;
  if (absl::Status s = CheckLength("job_id", request->job_id(), kMaxJobIdBytes); !s.ok()) {
    return ToGrpcStatus(s);
  }
  std::chrono::milliseconds wait = options_.cancel_wait;
  auto deadline = context->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::system_clock::now());
    if (wait.count() < 0) wait = std::chrono::milliseconds(0);
  }
  LogRecord(spdlog::level::info, "rebuild cancel requested",
            {{"job", request->job_id()},
             {"peer", context->peer()},
             {"requested_by", RequestedByOf(*context, principal)}});
  absl::StatusOr<pb::JobInfo> info = registry_->Cancel(request->job_id(), wait);
  if (!info.ok()) return ToGrpcStatus(info.status());
  *response->mutable_job() = std::move(*info);
  return grpc::Status::OK;
}

grpc::Status AdminService::ProjectionStatus(grpc::ServerContext* context,
                                            const pb::ProjectionStatusRequest* request,
                                            pb::ProjectionStatusResponse* response) {
  Principal principal;
  if (grpc::Status s = AuthorizeCallStatus(*context, tokens_, &principal); !s.ok()) return s;
  if (absl::Status s = CheckLength("domain", request->domain(), kMaxDomainSpecBytes); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = CheckLength("projection", request->projection(), kMaxProjectionNameBytes);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<std::shared_ptr<const domain::Domain>> domain = Load(request->domain());
  if (!domain.ok()) return ToGrpcStatus(domain.status());
  if (!request->projection().empty() &&
      (*domain)->FindProjection(request->projection()) == nullptr) {
    return ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("Projection '", Abbreviate(request->projection()), "' not found")));
  }
  const int64_t now_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  absl::StatusOr<std::vector<rebuild::ProjectionStatus>> statuses =
      rebuild::CollectProjectionStatus(**domain, request->projection(), now_unix_ms);
  if (!statuses.ok()) return ToGrpcStatus(statuses.status());
  for (const rebuild::ProjectionStatus& s : *statuses) *response->add_projections() = ToProto(s);
  response->set_now_unix_ms(now_unix_ms);
  return grpc::Status::OK;
}

}  // namespace protean_admin::service
