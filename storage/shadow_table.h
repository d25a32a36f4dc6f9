#ifndef PROTEAN_ADMIN_STORAGE_SHADOW_TABLE_H_
#define PROTEAN_ADMIN_STORAGE_SHADOW_TABLE_H_

// Shadow tables of the shadow strategy (docs/design.md §4). Each live table has at most one,
// in a private schema of its own, "protean_admin_shadow_<md5 of the live table's quoted
// schema-qualified name>", holding one UNLOGGED table of the live table's name built with
// LIKE ... INCLUDING ALL (columns, defaults, constraints, indexes, identity; never foreign
// keys or triggers). With that schema first on a session's search_path, the live table's
// unqualified name means the shadow. The schema's comment is the lock text of the rebuild
// that owns it (storage/advisory_lock.h): whoever can take that lock knows no rebuild is
// using the shadow, so an orphan left by a crash is recognised and removed safely.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/pg_connection.h"
#include "storage/projection_table.h"

namespace protean_admin::storage {

inline constexpr char kShadowSchemaPrefix[] = "protean_admin_shadow_";

// The shadow schema's name for the live table `live` (its TableInfo::qualified).
absl::StatusOr<std::string> ShadowSchemaName(PgConnection& conn, const TableInfo& live);

// A shadow schema of the database and the lock text its comment names ("" when none).
struct ShadowSchema {
  std::string schema;
  std::string lock_text;
};

// Every schema named with kShadowSchemaPrefix, by name.
absl::StatusOr<std::vector<ShadowSchema>> ListShadowSchemas(PgConnection& conn);

// DROP SCHEMA ... CASCADE when it exists. The caller must hold the lock its comment names.
absl::Status DropShadowSchema(PgConnection& conn, std::string_view schema);

// Whether another session than `conn`'s holds the advisory lock `lock_text`
// (storage/advisory_lock.h), read from pg_locks without taking it.
absl::StatusOr<bool> AdvisoryLockHeldElsewhere(PgConnection& conn, std::string_view lock_text);

// Drops the orphan `shadow` unless another session holds its owner's lock, without ever
// taking that lock (a rebuild of that table starting meanwhile is never refused because of
// the sweep). One transaction on `conn` (outside any other): the DROP first, with
// lock_timeout `lock_timeout_ms` (0: none), then the owner's lock checked; held, or the DROP
// timed out on a lock: rolled back. An owner taking its lock after the check waits on the
// DROP's locks before it touches the schema. True when dropped, false when left alone.
absl::StatusOr<bool> DropShadowSchemaIfUnowned(PgConnection& conn, const ShadowSchema& shadow,
                                               int lock_timeout_ms);

// Creates `schema` (commented with `lock_text`) and the unlogged shadow of `live` in it, in
// one transaction. AlreadyExists when the schema exists (drop an orphan first).
absl::Status CreateShadow(PgConnection& conn, const TableInfo& live, std::string_view schema,
                          std::string_view lock_text);

// Inside the caller's transaction, makes the rows of `live` those of `shadow` (every column
// but generated ones; OVERRIDING SYSTEM VALUE for identity columns). When `key` has a unique
// index of its own in `live`, only rows that differ are written: live rows with no shadow row
// of equal text (ROW(...)::text, so doubles, numerics and NULLs compare as stored) are
// deleted, then shadow rows whose key is no longer in live are inserted; otherwise every live
// row is deleted and every shadow row inserted. The live table keeps its identity (OID,
// grants, views, indexes, foreign keys, triggers, which fire for the rows written); readers
// see its old rows until the caller commits. Returns the rows inserted.
absl::StatusOr<int64_t> ReplaceRowsFromShadow(PgConnection& conn, const TableInfo& live,
                                              const TableInfo& shadow, std::string_view key);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_SHADOW_TABLE_H_
