#ifndef PROTEAN_ADMIN_SERVER_REBUILD_SQL_STATEMENTS_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_SQL_STATEMENTS_H_

// The SQL-form statements of one rebuild: planned against the real database before anything
// is truncated, then bound to each event's values.
//
// Parameter types (docs/domain-toml.md "Parameter types"): every parameter occurrence is its
// own "$n". PostgreSQL types it from where it stands (the column it is assigned to or
// compared with, a function's argument). Where it cannot (`json_build_object('k', :v)`,
// `:a || :b`, `coalesce(:a, :b)`), the occurrence takes the type of the event's JSON value:
// string text, number numeric, boolean boolean, object or array jsonb (null: the type the
// statement was checked with while planning). A parameter PostgreSQL types as an array
// (`tags || :tag`, `items = :items`) takes a JSON array as the array of its items and any
// other value as one element. Each combination of value types met is prepared once.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/model.h"
#include "server/rebuild/event_payload.h"
#include "server/rebuild/pg_array.h"  // PgArrayLiteral, for statements' array parameters
#include "storage/pg_connection.h"
#include "storage/pg_pipeline.h"

namespace protean_admin::rebuild {

class SqlStatements {
 public:
  explicit SqlStatements(storage::PgConnection& conn) : conn_(conn) {}

  // Prepares `statement` (outside a transaction) and learns how its parameters are typed.
  // An error carries PostgreSQL's message for the statement as written (FailedPrecondition
  // for a statement that cannot work: syntax, unknown table, column, function or operator;
  // Unavailable when the connection is lost).
  absl::Status Plan(const domain::SqlStatement& statement);

  // The command running a planned `statement` with `values` (one per parameter): the
  // statement's variant for the types these values take (prepared now, inside a savepoint of
  // the current transaction, when first met) and the values as text. An error is the event's
  // failure (e.g. its values do not fit the statement), or Unavailable. A JSON array bound to
  // an array-typed parameter is the array of its items; another value is one element where
  // the statement takes one (`tags || :tag`), else an array of that one item (`SET tags =
  // :tag`).
  absl::StatusOr<storage::PipelineCommand> Bind(const domain::SqlStatement& statement,
                                                const std::vector<Datum>& values);

 private:
  struct Typing {
    std::vector<uint32_t> settled;  // PostgreSQL's type of each parameter at planning
    std::vector<uint32_t> element;  // element type where settled is an array type, else 0
    std::vector<bool> by_value;     // typed by the event's JSON value
    uint32_t stand_in = 0;          // the type by-value parameters were checked with
    // Explicit types of a variant (0: PostgreSQL's) -> its prepared name, or why it failed.
    absl::flat_hash_map<std::vector<uint32_t>, absl::StatusOr<std::string>> variants;
  };

  absl::Status TryStandIns(const domain::SqlStatement& statement, Typing& typing);
  absl::Status LoadElementTypes(Typing& typing);
  absl::StatusOr<std::string> Variant(const domain::SqlStatement& statement, Typing& typing,
                                      const std::vector<uint32_t>& types);

  storage::PgConnection& conn_;
  std::unordered_map<const domain::SqlStatement*, Typing> typings_;
  int prepared_count_ = 0;
};

// Marks in `by_value` the parameters that PostgreSQL could not type, going by `error` of a
// prepare of `statement`: the parameter it names ("could not determine data type of
// parameter $2"), else the operands of the operator or the arguments of the function at the
// error's position, else every unmarked one. Returns how many it marked. Exposed for tests.
int MarkUntypedParameters(const domain::SqlStatement& statement, const absl::Status& error,
                          std::vector<bool>& by_value);

// True for errors of a prepare that better parameter types could cure.
bool IsParameterTypingError(const absl::Status& error);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_SQL_STATEMENTS_H_
