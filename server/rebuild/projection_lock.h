#ifndef PROTEAN_ADMIN_SERVER_REBUILD_PROJECTION_LOCK_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_PROJECTION_LOCK_H_

// What a rebuild locks: what it writes, not the projection's name (storage/advisory_lock.h).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "domain/model.h"
#include "storage/pg_connection.h"

namespace protean_admin::rebuild {

// The advisory lock text of a rebuild of `projection`, taken on `writer`: for a database
// projection, its table in `schema` (the effective schema, "" for the search_path) resolved
// on `writer`, a session of the projection database; for a cache-backed one, its cache's
// Redis instance and key prefix (`writer` is then a session of the event store, where the
// lock is taken). FailedPrecondition for an unconfigured cache.
absl::StatusOr<std::string> ProjectionLockText(storage::PgConnection& writer,
                                               const domain::Domain& domain,
                                               const domain::Projection& projection,
                                               std::string_view schema);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_PROJECTION_LOCK_H_
