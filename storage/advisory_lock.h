#ifndef PROTEAN_ADMIN_STORAGE_ADVISORY_LOCK_H_
#define PROTEAN_ADMIN_STORAGE_ADVISORY_LOCK_H_

// Session-level PostgreSQL advisory locks keyed by a text (hashed with hashtextextended).
//
// PostgreSQL scopes an advisory lock to the database of the session that takes it (the
// lock tag holds the database's OID), so every session connected to one physical database,
// through whatever URI, role or configuration name, meets the same locks, and sessions of
// different databases or clusters never do. A lock text therefore names what is locked
// inside the database it is taken in; it stays readable because messages quote it.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

// The lock text of a rebuild writing a table, to be taken on `conn` (a session of the
// table's database): "protean-admin:table:<database>/<schema>.<table>", both names as
// quote_ident() spells them. The table is resolved as the rebuild resolves it: in `schema`
// when given, else where the connection's search_path finds it; a table that does not exist
// yet by the schema it would be created in (the given one, else current_schema()).
absl::StatusOr<std::string> TableLockText(PgConnection& conn, std::string_view schema,
                                          std::string_view table);

// The lock text of a rebuild writing the Redis keys "<prefix>:::*":
// "protean-admin:redis:<host>:<port>/<db>:<prefix>", the host lower-cased and the default
// port and database spelled out, so that one instance written by several URIs gets one text
// (host names are not resolved: "localhost" and "127.0.0.1" differ). InvalidArgument for a
// URI that does not parse.
absl::StatusOr<std::string> CacheLockText(std::string_view redis_uri, std::string_view prefix);

// Tries to take the lock without waiting: true when taken, false when another session
// holds it.
absl::StatusOr<bool> TryAdvisoryLock(PgConnection& conn, std::string_view lock_text);
absl::Status AdvisoryUnlock(PgConnection& conn, std::string_view lock_text);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_ADVISORY_LOCK_H_
