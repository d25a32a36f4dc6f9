#ifndef PROTEAN_ADMIN_SERVER_REBUILD_PROJECTION_STATUS_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_PROJECTION_STATUS_H_

// How far behind each projection is: Protean's `protean projection status`, read from the
// position streams the server (and the hand-off) write and from the projection stores
// (docs/design.md "Projection status"). Reads only; no gRPC.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/model.h"
#include "storage/pg_connection.h"

namespace protean_admin::rebuild {

enum class StatusKind { kOk, kLagging, kUnknown };

// "ok", "lagging", "unknown".
std::string_view StatusName(StatusKind kind);

// One projector reading one category.
struct FeederStatus {
  std::string projector;
  std::string category;
  domain::SubscriptionType subscription_type = domain::SubscriptionType::kEventStore;
  // Events of the category after the last position record (all of them when there is
  // none); nullopt when unknown (stream subscription, no subscriber declared).
  std::optional<int64_t> lag;
  std::optional<int64_t> position;              // of the last record
  std::optional<int64_t> last_updated_unix_ms;  // the last record's time
};

struct ProjectionStatus {
  std::string projection_name;
  std::vector<std::string> projectors;  // distinct, sorted
  std::optional<int64_t> last_updated_unix_ms;
  std::optional<double> staleness_seconds;
  std::optional<int64_t> lag;
  std::optional<int64_t> row_count;
  StatusKind status = StatusKind::kUnknown;
  std::vector<FeederStatus> feeders;
  std::vector<std::string> diagnostics;  // why something is unknown or worth knowing
};

// Folds `status->feeders` into the projection's fields (pure):
//   lag          the largest known feeder lag; nullopt when none is known;
//   last_updated the latest feeder record time;
//   staleness    per feeder with a known lag: 0 when its lag is 0, else the seconds from
//                its last record to `now_unix_ms` (none without a record); the largest;
//   status       lagging when a known lag is above 0, else unknown when a feeder's lag is
//                unknown (or there is no feeder), else ok.
void AggregateFeeders(int64_t now_unix_ms, ProjectionStatus* status);

// The feeder status of `projector` on `category`, read on `event_store`. A stream
// subscription or a projector without `subscriber` has an unknown lag and a diagnostic; a
// missing position record reads as position 0 (the server would read the category from the
// start) with a diagnostic.
absl::StatusOr<FeederStatus> ReadFeederStatus(storage::PgConnection& event_store,
                                              const domain::Projector& projector,
                                              const std::string& category,
                                              std::vector<std::string>* diagnostics);

// The status of every projection of `domain` (or only `only`, when not empty: NotFound
// "Projection 'X' not found" when the domain has none of that name), in declaration order.
// Unavailable (with the URI's default note) when the event store or a store cannot be
// reached; a missing projection table leaves row_count unset with a diagnostic.
absl::StatusOr<std::vector<ProjectionStatus>> CollectProjectionStatus(const domain::Domain& domain,
                                                                      std::string_view only,
                                                                      int64_t now_unix_ms);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_PROJECTION_STATUS_H_
