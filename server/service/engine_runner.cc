#include "server/service/engine_runner.h"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/service/admin_service.h"

namespace protean_admin::service {

pb::RebuildResult ToProto(const rebuild::RebuildResult& result) {
  pb::RebuildResult out;
  out.set_projection_name(result.projection_name);
  out.set_projectors_processed(result.projectors_processed);
  out.set_categories_processed(result.categories_processed);
  out.set_events_dispatched(result.events_dispatched);
  out.set_events_skipped(result.events_skipped);
  for (const std::string& e : result.errors) out.add_errors(e);
  out.set_success(result.success());
  out.set_partial(result.partial);
  out.set_duration_ms(result.duration_ms);
  for (const rebuild::SkipReason& reason : result.skip_reasons) {
    pb::SkipReason* r = out.add_skip_reasons();
    r->set_projector(reason.projector);
    r->set_event_type(reason.event_type);
    r->set_reason(reason.reason);
    r->set_count(reason.count);
    for (int64_t position : reason.first_positions) r->add_first_positions(position);
  }
  for (const std::string& warning : result.warnings) out.add_warnings(warning);
  for (const std::string& note : result.hand_off_notes) out.add_hand_off_notes(note);
  return out;
}

pb::Phase ToProto(rebuild::Phase phase) {
  switch (phase) {
    case rebuild::Phase::kPlanning:
      return pb::PHASE_PLANNING;
    case rebuild::Phase::kGuard:
      return pb::PHASE_GUARD;
    case rebuild::Phase::kSnapshot:
      return pb::PHASE_SNAPSHOT;
    case rebuild::Phase::kTruncate:
      return pb::PHASE_TRUNCATE;
    case rebuild::Phase::kReplay:
      return pb::PHASE_REPLAY;
    case rebuild::Phase::kHandOff:
      return pb::PHASE_HAND_OFF;
    case rebuild::Phase::kCommit:
      return pb::PHASE_COMMIT;
    case rebuild::Phase::kDone:
      return pb::PHASE_DONE;
    case rebuild::Phase::kWaiting:
      return pb::PHASE_WAITING;
    case rebuild::Phase::kCatchUp:
      return pb::PHASE_CATCH_UP;
    case rebuild::Phase::kSwap:
      return pb::PHASE_SWAP;
  }
  return pb::PHASE_UNSPECIFIED;
}

rebuild::Strategy FromProto(pb::Strategy strategy) {
  if (strategy == pb::STRATEGY_SHADOW) return rebuild::Strategy::kShadow;
  return strategy == pb::STRATEGY_INPLACE ? rebuild::Strategy::kInplace
                                          : rebuild::Strategy::kAtomic;
}

pb::RebuildEvent ProgressTranslator::Translate(const rebuild::ProgressEvent& event,
                                               Clock::time_point now) {
  pb::RebuildEvent out;
  switch (event.kind) {
    case rebuild::ProgressEvent::Kind::kPhase: {
      if (event.phase == rebuild::Phase::kReplay) replay_started_[event.projection] = now;
      out.mutable_phase()->set_projection(event.projection);
      out.mutable_phase()->set_phase(ToProto(event.phase));
      out.mutable_phase()->set_since_unix_ms(event.since_unix_ms);
      break;
    }
    case rebuild::ProgressEvent::Kind::kProgress: {
      auto it = replay_started_.find(event.projection);
      if (it == replay_started_.end()) {
        it = replay_started_.emplace(event.projection, now).first;
      }
      double seconds = std::chrono::duration<double>(now - it->second).count();
      double rate = seconds > 0 ? static_cast<double>(event.processed) / seconds : 0;
      double eta = -1;
      if (rate > 0 && event.total >= event.processed) {
        eta = static_cast<double>(event.total - event.processed) / rate;
      }
      pb::Progress* p = out.mutable_progress();
      p->set_projection(event.projection);
      p->set_projector(event.projector);
      p->set_processed(event.processed);
      p->set_total(event.total);
      p->set_skipped(event.skipped);
      p->set_events_per_second(rate);
      p->set_eta_seconds(eta);
      break;
    }
    case rebuild::ProgressEvent::Kind::kWarning:
      out.mutable_warning()->set_projection(event.projection);
      out.mutable_warning()->set_message(event.message);
      break;
  }
  return out;
}

namespace {

rebuild::RebuildOptions EngineOptions(const JobSpec& spec, JobContext& context,
                                      std::shared_ptr<const EventServerGuard> guard,
                                      std::shared_ptr<ProgressTranslator> translator,
                                      int64_t row_cache_bytes) {
  rebuild::RebuildOptions options;
  options.batch_size = spec.batch_size;
  options.row_cache_bytes = row_cache_bytes;
  options.strategy = FromProto(spec.strategy);
  options.hand_off = spec.hand_off;
  options.max_skipped = spec.max_skipped;
  options.wait_timeout = std::chrono::seconds(spec.wait_timeout_seconds);
  options.cancel = &context.cancel_token();
  const bool force = spec.force;
  const std::string job_id = context.job_id();
  options.guard = [guard, force, job_id, &context](const domain::Domain& domain,
                                                   const domain::Projection& projection) {
    if (force) {
      spdlog::warn(
          "job {}: --force: NOT checking whether the Protean event server is running before "
          "truncating projection '{}' (health {}:{})",
          job_id, projection.name, domain.health.host, domain.health.port);
      pb::RebuildEvent warning;
      warning.mutable_warning()->set_projection(projection.name);
      warning.mutable_warning()->set_message(
          "--force: the event-server guard was skipped; make sure the Protean server is "
          "stopped");
      context.Emit(std::move(warning));
      return absl::OkStatus();
    }
    if (guard == nullptr) return absl::OkStatus();
    return guard->Check(domain);
  };
  options.on_progress = [translator, &context](const rebuild::ProgressEvent& event) {
    context.Emit(translator->Translate(event, ProgressTranslator::Clock::now()));
  };
  return options;
}

// An in-place rebuild cancelled after its truncation returns a partial result rather than a
// status: the job still ends cancelled (or interrupted), saying the projection is partial.
absl::Status CancelledIfPartial(const rebuild::RebuildResult& result, const JobContext& context) {
  if (!result.partial || !context.cancelled() || result.errors.empty()) return absl::OkStatus();
  return absl::CancelledError(result.errors.back());
}

}  // namespace

Runner MakeEngineRunner(std::shared_ptr<const EventServerGuard> guard, int64_t row_cache_bytes) {
  return [guard, row_cache_bytes](const JobSpec& spec, JobContext& context) -> absl::Status {
    if (spec.loaded_domain == nullptr) return absl::InternalError("job without a domain");
    const domain::Domain& domain = *spec.loaded_domain;
    auto translator = std::make_shared<ProgressTranslator>();
    rebuild::RebuildOptions options =
        EngineOptions(spec, context, guard, translator, row_cache_bytes);
    if (!spec.all) {
      absl::StatusOr<rebuild::RebuildResult> result =
          rebuild::RebuildProjection(domain, spec.projection, options);
      if (!result.ok()) return result.status();
      context.AddResult(ToProto(*result));
      return CancelledIfPartial(*result, context);
    }
    pb::Summary summary;
    bool success = true;
    absl::Status partial_cancel;  // an in-place rebuild cancelled part-way
    absl::StatusOr<std::vector<rebuild::RebuildResult>> all =
        rebuild::RebuildAllProjections(domain, options, [&](const rebuild::RebuildResult& result) {
          summary.set_projections(summary.projections() + 1);
          if (result.success()) {
            summary.set_total_events(summary.total_events() + result.events_dispatched);
          } else {
            success = false;
          }
          context.AddResult(ToProto(result));
          if (partial_cancel.ok()) partial_cancel = CancelledIfPartial(result, context);
        });
    if (!partial_cancel.ok()) return partial_cancel;
    if (!all.ok()) return all.status();
    summary.set_success(success);
    pb::RebuildEvent event;
    *event.mutable_summary() = summary;
    context.Emit(std::move(event));
    return absl::OkStatus();
  };
}

std::unique_ptr<JobRegistry> MakeDaemonJobRegistry(const JobRegistryOptions& options,
                                                   AuditTrail* audit,
                                                   std::shared_ptr<const EventServerGuard> guard,
                                                   int64_t row_cache_bytes) {
  Runner engine = MakeEngineRunner(std::move(guard), row_cache_bytes);
  Runner runner = [audit, engine](const JobSpec& spec, JobContext& context) {
    audit->JobStarted(context.job_id(), spec);
    return engine(spec, context);
  };
  return std::make_unique<JobRegistry>(runner, options, [audit](const Job& job) {
    LogJobFinished(job);
    audit->JobFinished(job);
  });
}

}  // namespace protean_admin::service
