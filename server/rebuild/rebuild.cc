#include "server/rebuild/rebuild.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/rebuild/engine.h"

namespace protean_admin::rebuild {
namespace {

absl::Status ValidateOptions(const RebuildOptions& options) {
  if (options.batch_size > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("batch size must be a positive number, got ", options.batch_size));
}

}  // namespace

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPlanning:
      return "planning";
    case Phase::kGuard:
      return "guard";
    case Phase::kSnapshot:
      return "snapshot";
    case Phase::kTruncate:
      return "truncate";
    case Phase::kReplay:
      return "replay";
    case Phase::kHandOff:
      return "hand-off";
    case Phase::kCommit:
      return "commit";
    case Phase::kDone:
      return "done";
    case Phase::kWaiting:
      return "waiting";
    case Phase::kCatchUp:
      return "catch-up";
    case Phase::kSwap:
      return "swap";
  }
  return "unknown";
}

absl::StatusOr<RebuildResult> RebuildProjection(const domain::Domain& domain,
                                                std::string_view projection_name,
                                                const RebuildOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  const domain::Projection* projection = domain.FindProjection(projection_name);
  if (projection == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("Projection '", std::string(projection_name), "' not found"));
  }
  if (options.strategy == Strategy::kShadow && projection->cache_backed()) {
    // Redis has no table to swap in one transaction (docs/design.md §4).
    return absl::InvalidArgumentError(absl::StrCat(
        "Projection '", projection->name,
        "' is cache-backed: the shadow strategy needs a database table to swap; rebuild it "
        "with --strategy=inplace (cache-backed projections are always rebuilt in place)"));
  }
  // Cache-backed projections are always rebuilt in place (docs/design.md §4).
  RebuildOptions effective = options;
  if (projection->cache_backed()) effective.strategy = Strategy::kInplace;
  Engine engine(domain, *projection, effective);
  return engine.Run();
}

absl::StatusOr<std::vector<RebuildResult>> RebuildAllProjections(
    const domain::Domain& domain, const RebuildOptions& options,
    const std::function<void(const RebuildResult&)>& on_result) {
  RETURN_IF_ERROR(ValidateOptions(options));
  if (options.strategy == Strategy::kShadow) {
    return absl::InvalidArgumentError(
        "the shadow strategy rebuilds one projection at a time (--projection): each waits for "
        "the event server to stop");
  }
  std::vector<RebuildResult> results;
  for (const domain::Projection& projection : domain.projections) {
    if (options.cancel != nullptr && options.cancel->cancelled()) {
      return absl::CancelledError("Rebuild of all projections was cancelled");
    }
    absl::StatusOr<RebuildResult> result = RebuildProjection(domain, projection.name, options);
    if (!result.ok() && absl::IsCancelled(result.status())) return result.status();
    if (!result.ok()) {
      RebuildResult failed;
      failed.projection_name = projection.name;
      failed.errors.push_back(std::string(result.status().message()));
      result = std::move(failed);
    }
    if (on_result) on_result(*result);
    results.push_back(*std::move(result));
  }
  return results;
}

}  // namespace protean_admin::rebuild
