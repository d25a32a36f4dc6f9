#include "storage/shadow_table.h"

#include "absl/strings/str_cat.h"

namespace protean_admin::storage {

absl::StatusOr<std::string> ShadowSchemaName(PgConnection& conn, const TableInfo& live) {
  auto r =
      conn.ExecParams("SELECT $1 || md5($2)", {std::string(kShadowSchemaPrefix), live.qualified});
  if (!r.ok()) return r.status();
  return std::string(r->Get(0, 0));
}

absl::StatusOr<std::vector<ShadowSchema>> ListShadowSchemas(PgConnection& conn) {
  // LIKE with the prefix's underscores escaped: they are literal here.
  auto r = conn.ExecParams(
      "SELECT nspname, coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace "
      "WHERE nspname LIKE replace($1, '_', '\\_') || '%' ORDER BY nspname",
      {std::string(kShadowSchemaPrefix)});
  if (!r.ok()) return r.status();
  std::vector<ShadowSchema> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({std::string(r->Get(i, 0)), std::string(r->Get(i, 1))});
  }
  return out;
}

absl::Status DropShadowSchema(PgConnection& conn, std::string_view schema) {
  return conn.Exec(absl::StrCat("DROP SCHEMA IF EXISTS ", QuoteIdent(schema), " CASCADE")).status();
}

absl::StatusOr<bool> AdvisoryLockHeldElsewhere(PgConnection& conn, std::string_view lock_text) {
  // pg_advisory_lock(bigint) shows in pg_locks as classid = the key's high 32 bits, objid =
  // its low 32 bits, objsubid = 1, in the session's database.
  auto r = conn.ExecParams(
      "SELECT EXISTS (SELECT 1 FROM pg_locks l, (SELECT hashtextextended($1, 0) AS k) h "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() "
      "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
      "AND l.objsubid = 1 AND l.classid::bigint = ((h.k >> 32) & 4294967295) "
      "AND l.objid::bigint = (h.k & 4294967295))",
      {std::string(lock_text)});
  if (!r.ok()) return r.status();
  return r->Get(0, 0) == "t";
}

absl::StatusOr<bool> DropShadowSchemaIfUnowned(PgConnection& conn, const ShadowSchema& shadow,
                                               int lock_timeout_ms) {
  absl::StatusOr<bool> held = AdvisoryLockHeldElsewhere(conn, shadow.lock_text);
  if (!held.ok() || *held) return held.ok() ? absl::StatusOr<bool>(false) : held.status();
  auto begun = conn.Exec(absl::StrCat("BEGIN; SET LOCAL lock_timeout = ", lock_timeout_ms));
  if (!begun.ok()) return begun.status();
  const auto rollback = [&conn] { (void)conn.Exec("ROLLBACK"); };
  absl::Status dropped = DropShadowSchema(conn, shadow.schema);
  if (!dropped.ok()) {
    rollback();
    // lock_not_available: a session (its owner, or a reader) holds a lock on it.
    if (SqlState(dropped) == "55P03") return false;
    return dropped;
  }
  held = AdvisoryLockHeldElsewhere(conn, shadow.lock_text);
  if (!held.ok() || *held) {
    rollback();
    return held.ok() ? absl::StatusOr<bool>(false) : held.status();
  }
  auto committed = conn.Exec("COMMIT");
  if (!committed.ok()) return committed.status();
  return true;
}

absl::Status CreateShadow(PgConnection& conn, const TableInfo& live, std::string_view schema,
                          std::string_view lock_text) {
  auto exists =
      conn.ExecParams("SELECT 1 FROM pg_namespace WHERE nspname = $1", {std::string(schema)});
  if (!exists.ok()) return exists.status();
  if (exists->rows() > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("schema ", std::string(schema), " already exists"));
  }
  auto comment = conn.QuoteLiteral(lock_text);
  if (!comment.ok()) return comment.status();
  const std::string quoted = QuoteIdent(schema);
  return conn
      // One simple query: one implicit transaction, rolled back whole on any error.
      .Exec(absl::StrCat("CREATE SCHEMA ", quoted, "; COMMENT ON SCHEMA ", quoted, " IS ", *comment,
                         "; CREATE UNLOGGED TABLE ", quoted, ".", QuoteIdent(live.table), " (LIKE ",
                         live.qualified, " INCLUDING ALL)"))
      .status();
}

absl::StatusOr<int64_t> ReplaceRowsFromShadow(PgConnection& conn, const TableInfo& live,
                                              const TableInfo& shadow, std::string_view key) {
  std::string columns, live_row, shadow_row;
  for (const ColumnInfo& c : live.columns) {
    if (c.generated) continue;
    const std::string name = QuoteIdent(c.name);
    const char* comma = columns.empty() ? "" : ", ";
    absl::StrAppend(&columns, comma, name);
    absl::StrAppend(&live_row, comma, "l.", name);
    absl::StrAppend(&shadow_row, comma, "s.", name);
  }
  auto unique = conn.ExecParams(
      "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
      "AND a.attnum = i.indkey[0] WHERE i.indrelid = $1::regclass AND i.indisunique "
      "AND i.indnatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = $2)",
      {live.qualified, std::string(key)});
  if (!unique.ok()) return unique.status();
  std::string kept;  // the live rows left in place: none, or those equal to a shadow row
  if (unique->Get(0, 0) == "t") {
    const std::string k = QuoteIdent(key);
    kept = absl::StrCat(" AS l WHERE NOT EXISTS (SELECT 1 FROM ", shadow.qualified,
                        " AS s WHERE s.", k, " = l.", k, " AND ROW(", shadow_row, ")::text = ROW(",
                        live_row, ")::text)");
  }
  auto deleted = conn.Exec(absl::StrCat("DELETE FROM ", live.qualified, kept));
  if (!deleted.ok()) return deleted.status();
  std::string missing;  // the shadow rows to insert: all, or those whose key is not left
  if (!kept.empty()) {
    const std::string k = QuoteIdent(key);
    missing = absl::StrCat(" AS s WHERE NOT EXISTS (SELECT 1 FROM ", live.qualified,
                           " AS l WHERE l.", k, " = s.", k, ")");
  }
  auto inserted = conn.Exec(absl::StrCat("INSERT INTO ", live.qualified, " (", columns,
                                         ") OVERRIDING SYSTEM VALUE SELECT ", shadow_row, " FROM ",
                                         shadow.qualified, missing.empty() ? " AS s" : missing));
  if (!inserted.ok()) return inserted.status();
  return inserted->AffectedRows();
}

}  // namespace protean_admin::storage
