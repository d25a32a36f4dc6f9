#include "storage/advisory_lock.h"

#include "absl/strings/str_cat.h"

namespace protean_admin::storage {

std::string ProjectionLockText(std::string_view database, std::string_view projection) {
  return absl::StrCat("protean-admin:", std::string(database), ":", std::string(projection));
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
