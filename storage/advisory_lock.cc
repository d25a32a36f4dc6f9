#include "storage/advisory_lock.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/projection_table.h"
#include "storage/redis_client.h"

namespace protean_admin::storage {

absl::StatusOr<std::string> TableLockText(PgConnection& conn, std::string_view schema,
                                          std::string_view table) {
  std::string regclass =
      schema.empty() ? QuoteIdent(table) : absl::StrCat(QuoteIdent(schema), ".", QuoteIdent(table));
  // An existing table is where to_regclass finds it (LoadTableInfo looks it up the same
  // way); a missing one is where CREATE TABLE would put it.
  auto r = conn.ExecParams(
      "SELECT current_database(), "
      "quote_ident(coalesce((SELECT n.nspname FROM pg_class c JOIN pg_namespace n "
      "ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)), nullif($2, ''), "
      "current_schema(), '')), quote_ident($3)",
      {regclass, std::string(schema), std::string(table)});
  if (!r.ok()) return r.status();
  return absl::StrCat("protean-admin:table:", std::string(r->Get(0, 0)), "/",
                      std::string(r->Get(0, 1)), ".", std::string(r->Get(0, 2)));
}

absl::StatusOr<std::string> CacheLockText(std::string_view redis_uri, std::string_view prefix) {
  absl::StatusOr<RedisUri> uri = RedisUri::Parse(redis_uri);
  if (!uri.ok()) return uri.status();
  uri->host = absl::AsciiStrToLower(uri->host);
  return absl::StrCat("protean-admin:redis:", uri->Describe(), ":", std::string(prefix));
}

absl::StatusOr<bool> TryAdvisoryLock(PgConnection& conn, std::string_view lock_text) {
  auto r = conn.ExecParams("SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                           {std::string(lock_text)});
  if (!r.ok()) return r.status();
  return r->Get(0, 0) == "t";
}

absl::Status AdvisoryUnlock(PgConnection& conn, std::string_view lock_text) {
  auto r = conn.ExecParams("SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                           {std::string(lock_text)});
  return r.ok() ? absl::OkStatus() : r.status();
}

}  // namespace protean_admin::storage
