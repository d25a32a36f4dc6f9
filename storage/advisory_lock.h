#ifndef PROTEAN_ADMIN_STORAGE_ADVISORY_LOCK_H_
#define PROTEAN_ADMIN_STORAGE_ADVISORY_LOCK_H_

// Session-level PostgreSQL advisory locks keyed by a text (hashed with hashtextextended).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

// The lock text of a projection rebuild: "protean-admin:<database>:<projection>".
std::string ProjectionLockText(std::string_view database, std::string_view projection);

// Tries to take the lock without waiting: true when taken, false when another session
// holds it.
absl::StatusOr<bool> TryAdvisoryLock(PgConnection& conn, std::string_view lock_text);
absl::Status AdvisoryUnlock(PgConnection& conn, std::string_view lock_text);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_ADVISORY_LOCK_H_
