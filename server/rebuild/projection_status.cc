#include "server/rebuild/projection_status.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "domain/env_substitution.h"
#include "server/rebuild/plan.h"
#include "storage/projection_table.h"
#include "storage/redis_client.h"
#include "storage/subscription_position.h"

namespace protean_admin::rebuild {
namespace {

// Keys SCANned per round trip when counting a cache-backed projection.
constexpr char kScanCount[] = "1000";

// The keys "<prefix>:::*" of a cache-backed projection (SCAN; keys written meanwhile may or
// may not be counted).
absl::StatusOr<int64_t> CountCacheKeys(const domain::Domain& domain,
                                       const domain::Projection& projection) {
  const domain::CacheConfig* cache = domain.FindCache(*projection.cache);
  if (cache == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("Projection '", projection.name, "': cache '",
                                                      *projection.cache, "' is not configured"));
  }
  absl::StatusOr<storage::RedisClient> client = storage::RedisClient::Connect(cache->uri);
  if (!client.ok()) return domain::WithUriNote(client.status(), cache->uri_note);
  const std::string pattern = storage::EscapeGlob(projection.cache_prefix) + ":::*";
  std::string cursor = "0";
  int64_t count = 0;
  do {
    ASSIGN_OR_RETURN(storage::RedisReply reply,
                     client->Command({"SCAN", cursor, "MATCH", pattern, "COUNT", kScanCount}));
    if (reply.type != storage::RedisReply::Type::kArray || reply.elements.size() != 2) {
      return absl::InternalError(
          absl::StrCat("unexpected SCAN reply from Redis at ", client->Describe()));
    }
    cursor = reply.elements[0].str;
    count += static_cast<int64_t>(reply.elements[1].elements.size());
  } while (cursor != "0");
  return count;
}

// Rows of a database-backed projection; nullopt (with a diagnostic) when its table is missing.
absl::StatusOr<std::optional<int64_t>> CountRows(
    const domain::Domain& domain, const domain::Projection& projection,
    std::map<std::string, storage::PgConnection>& connections,
    std::vector<std::string>* diagnostics) {
  ASSIGN_OR_RETURN(RebuildPlan plan, PlanRebuild(domain, projection));
  auto it = connections.find(plan.database_uri);
  if (it == connections.end()) {
    ASSIGN_OR_RETURN(storage::PgConnection conn,
                     ConnectNoted(plan.database_uri, plan.database_uri_note));
    it = connections.emplace(plan.database_uri, std::move(conn)).first;
  }
  ASSIGN_OR_RETURN(std::optional<storage::TableInfo> table,
                   storage::LoadTableInfo(it->second, plan.schema, projection.table));
  if (!table.has_value()) {
    diagnostics->push_back(absl::StrCat("Projection '", projection.name, "': table '",
                                        plan.schema.empty() ? "" : plan.schema + ".",
                                        projection.table, "' does not exist"));
    return std::optional<int64_t>();
  }
  ASSIGN_OR_RETURN(storage::PgResult r,
                   it->second.Exec(absl::StrCat("SELECT count(*) FROM ", table->qualified)));
  return std::optional<int64_t>(std::strtoll(std::string(r.Get(0, 0)).c_str(), nullptr, 10));
}

}  // namespace

std::string_view StatusName(StatusKind kind) {
  switch (kind) {
    case StatusKind::kOk:
      return "ok";
    case StatusKind::kLagging:
      return "lagging";
    case StatusKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

void AggregateFeeders(int64_t now_unix_ms, ProjectionStatus* status) {
  status->projectors.clear();
  status->lag.reset();
  status->last_updated_unix_ms.reset();
  status->staleness_seconds.reset();
  bool any_unknown = status->feeders.empty();
  for (const FeederStatus& f : status->feeders) {
    if (std::find(status->projectors.begin(), status->projectors.end(), f.projector) ==
        status->projectors.end()) {
      status->projectors.push_back(f.projector);
    }
    if (f.last_updated_unix_ms.has_value()) {
      status->last_updated_unix_ms =
          std::max(status->last_updated_unix_ms.value_or(INT64_MIN), *f.last_updated_unix_ms);
    }
    if (!f.lag.has_value()) {
      any_unknown = true;
      continue;
    }
    status->lag = std::max(status->lag.value_or(0), *f.lag);
    std::optional<double> stale;
    if (*f.lag == 0) {
      stale = 0.0;
    } else if (f.last_updated_unix_ms.has_value()) {
      stale = std::max(0.0, static_cast<double>(now_unix_ms - *f.last_updated_unix_ms) / 1000.0);
    }
    if (stale.has_value()) {
      status->staleness_seconds = std::max(status->staleness_seconds.value_or(0.0), *stale);
    }
  }
  std::sort(status->projectors.begin(), status->projectors.end());
  if (status->lag.value_or(0) > 0) {
    status->status = StatusKind::kLagging;
  } else {
    status->status = any_unknown ? StatusKind::kUnknown : StatusKind::kOk;
  }
}

absl::StatusOr<FeederStatus> ReadFeederStatus(storage::PgConnection& event_store,
                                              const domain::Projector& projector,
                                              const std::string& category,
                                              std::vector<std::string>* diagnostics) {
  FeederStatus feeder;
  feeder.projector = projector.name;
  feeder.category = category;
  feeder.subscription_type = projector.subscription_type;
  if (projector.subscription_type == domain::SubscriptionType::kStream) {
    diagnostics->push_back(absl::StrCat(
        "Projector '", projector.name, "' reads Redis streams (subscription_type = \"stream\"): ",
        "its position is not tracked in the Message DB, so its lag on ", category, " is unknown"));
    return feeder;
  }
  if (!projector.subscriber.has_value()) {
    diagnostics->push_back(absl::StrCat("Projector '", projector.name,
                                        "' declares no subscriber (its Protean fqn): its "
                                        "position stream, and so its lag on ",
                                        category, ", is unknown"));
    return feeder;
  }
  ASSIGN_OR_RETURN(std::optional<storage::PositionRecord> record,
                   storage::ReadLastPositionRecord(event_store, *projector.subscriber, category));
  int64_t after = 0;
  if (record.has_value()) {
    after = record->position;
    feeder.position = record->position;
    feeder.last_updated_unix_ms = record->time_unix_ms;
  } else {
    diagnostics->push_back(
        absl::StrCat("Projector '", projector.name, "' has no record in ",
                     storage::PositionStreamName(*projector.subscriber, category),
                     ": the server would read ", category, " from the start"));
  }
  ASSIGN_OR_RETURN(int64_t lag, storage::CountMessagesAfter(event_store, category, after));
  feeder.lag = lag;
  return feeder;
}

absl::StatusOr<std::vector<ProjectionStatus>> CollectProjectionStatus(const domain::Domain& domain,
                                                                      std::string_view only,
                                                                      int64_t now_unix_ms) {
  if (!only.empty() && domain.FindProjection(only) == nullptr) {
    return absl::NotFoundError(absl::StrCat("Projection '", std::string(only), "' not found"));
  }
  ASSIGN_OR_RETURN(storage::PgConnection event_store,
                   ConnectNoted(domain.event_store.database_uri, domain.event_store.uri_note));
  std::map<std::string, storage::PgConnection> connections;  // by database URI
  std::vector<ProjectionStatus> out;
  for (const domain::Projection& projection : domain.projections) {
    if (!only.empty() && projection.name != only) continue;
    ProjectionStatus status;
    status.projection_name = projection.name;
    for (const domain::Projector* projector : domain.ProjectorsFor(projection.name)) {
      for (const std::string& category : projector->categories) {
        ASSIGN_OR_RETURN(FeederStatus feeder,
                         ReadFeederStatus(event_store, *projector, category, &status.diagnostics));
        status.feeders.push_back(std::move(feeder));
      }
    }
    if (status.feeders.empty()) {
      status.diagnostics.push_back(
          absl::StrCat("No projectors found for projection `", projection.name, "`"));
    }
    if (projection.cache_backed()) {
      ASSIGN_OR_RETURN(status.row_count, CountCacheKeys(domain, projection));
    } else {
      ASSIGN_OR_RETURN(status.row_count,
                       CountRows(domain, projection, connections, &status.diagnostics));
    }
    AggregateFeeders(now_unix_ms, &status);
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace protean_admin::rebuild
