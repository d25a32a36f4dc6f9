#ifndef PROTEAN_ADMIN_SERVER_SERVICE_ENGINE_RUNNER_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_ENGINE_RUNNER_H_

// The Runner that puts the rebuild engine (server/rebuild/rebuild.h) behind a job: the
// event-server guard as options.guard (skipped, loudly, with force), engine progress turned
// into RebuildEvents (rate and ETA computed here), results recorded per projection.
//
// The path of a rebuild RPC to the engine, all in server/service/ up to the last step:
//   AdminService::RebuildProjection / RebuildAll (admin_service.cc: validate, load the domain)
//   -> AdminService::StartAndFollow -> JobRegistry::Start (job_registry.cc: a thread per job)
//   -> the runner of MakeDaemonJobRegistry (below): AuditTrail::JobStarted, then
//   -> MakeEngineRunner's runner -> rebuild::RebuildProjection / RebuildAllProjections
//   and, when the job ends, LogJobFinished and AuditTrail::JobFinished.

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "server/rebuild/rebuild.h"
#include "server/service/audit_trail.h"
#include "server/service/job_registry.h"
#include "server/service/server_guard.h"

namespace protean_admin::service {

// rebuild:: <-> pb conversions.
pb::RebuildResult ToProto(const rebuild::RebuildResult& result);
pb::Phase ToProto(rebuild::Phase phase);
rebuild::Strategy FromProto(pb::Strategy strategy);

// Turns engine progress events into RebuildEvents for one job (rate and ETA from the time
// the projection's replay started).
class ProgressTranslator {
 public:
  using Clock = std::chrono::steady_clock;
  pb::RebuildEvent Translate(const rebuild::ProgressEvent& event, Clock::time_point now);

 private:
  std::map<std::string, Clock::time_point> replay_started_;
};

// The runner of rebuild jobs: a job for one projection runs rebuild::RebuildProjection, a
// rebuild of all rebuild::RebuildAllProjections (each result recorded as soon as it exists,
// then a summary). An in-place rebuild cancelled part-way records its partial result and ends
// the job Cancelled with the result's error ("... left the projection partial").
// `row_cache_bytes` is RebuildOptions::row_cache_bytes (memory for the
// action form's rows, per rebuild).
Runner MakeEngineRunner(std::shared_ptr<const EventServerGuard> guard,
                        int64_t row_cache_bytes = rebuild::RebuildOptions().row_cache_bytes);

// The job registry of protean-admind: each job's start is recorded in `audit`, then it runs
// MakeEngineRunner(guard, row_cache_bytes); its end is logged (LogJobFinished) and recorded in
// `audit`. `audit` must outlive the registry.
std::unique_ptr<JobRegistry> MakeDaemonJobRegistry(const JobRegistryOptions& options,
                                                   AuditTrail* audit,
                                                   std::shared_ptr<const EventServerGuard> guard,
                                                   int64_t row_cache_bytes);

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_ENGINE_RUNNER_H_
