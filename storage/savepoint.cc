#include "storage/savepoint.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace protean_admin::storage {

absl::Status InSavepoint(PgConnection& conn, std::string_view name,
                         absl::FunctionRef<absl::Status()> body) {
  const std::string savepoint(name);
  auto begun = conn.Exec(absl::StrCat("SAVEPOINT ", savepoint));
  if (!begun.ok()) return begun.status();
  absl::Status status = body();
  auto ended = conn.Exec(status.ok() ? absl::StrCat("RELEASE SAVEPOINT ", savepoint)
                                     : absl::StrCat("ROLLBACK TO SAVEPOINT ", savepoint,
                                                    "; RELEASE SAVEPOINT ", savepoint));
  if (!ended.ok()) return ended.status();
  return status;
}

}  // namespace protean_admin::storage
