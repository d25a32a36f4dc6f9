#ifndef PROTEAN_ADMIN_STORAGE_SAVEPOINT_H_
#define PROTEAN_ADMIN_STORAGE_SAVEPOINT_H_

// Per-event error isolation inside a transaction (docs/design.md §4).

#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

// Runs `body` inside savepoint `name` on `conn` (which must be in a transaction): released
// when `body` returns OK, otherwise rolled back to and released, so that none of body's
// effects stay and the transaction goes on. Returns body's status, or the error of the
// savepoint commands themselves (then the connection is unusable or lost).
absl::Status InSavepoint(PgConnection& conn, std::string_view name,
                         absl::FunctionRef<absl::Status()> body);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_SAVEPOINT_H_
