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
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/model.h"
#include "server/rebuild/event_payload.h"
#include "server/rebuild/pg_array.h"  // PgArrayLiteral, for statements' array parameters
#include "server/rebuild/sql_lowering.h"
#include "server/rebuild/sql_waves.h"
#include "storage/pg_connection.h"
#include "storage/pg_pipeline.h"
#include "storage/projection_table.h"

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
  // `types`, when given, receives the type of each parameter the command is prepared with
  // (0: PostgreSQL's, as planned).
  absl::StatusOr<storage::PipelineCommand> Bind(const domain::SqlStatement& statement,
                                                const std::vector<Datum>& values,
                                                std::vector<uint32_t>* types = nullptr);

  // Set-based execution (sql_waves.h). After Plan: recognizes `statement` for waves against
  // `table` (the table its unqualified name resolves to; `key` its key column): the shape,
  // the table (no triggers or rules, no unique index but the key's, no volatile default of a
  // column the statement leaves out, a text/varchar/integer key with a deterministic
  // collation), no array-typed parameter, and the set-based form prepares. Returns whether it
  // runs in waves (and logs why not); an error only when the connection is lost.
  absl::StatusOr<bool> PlanWave(const domain::SqlStatement& statement,
                                const storage::TableInfo& table, std::string_view key);

  // In-memory execution (sql_lowering.h). After Plan of its statement: the action-form
  // handler `handler` lowers to on `table`, or nullopt (logged why) when the statement, its
  // parameters' types or the table do not allow it (PlanWave's conditions on the table, and
  // no CHECK, foreign key or exclusion constraint, NOT NULL on the key and only there). An
  // error only when the connection is lost.
  absl::StatusOr<std::optional<LoweredHandler>> PlanLowering(const domain::Handler& handler,
                                                             const storage::TableInfo& table,
                                                             std::string_view key);

  struct Wave {
    int key_parameter = 0;
    WaveKeyKind key_kind = WaveKeyKind::kText;
  };
  // The statement's wave form, or null when it runs per event.
  const Wave* WaveOf(const domain::SqlStatement& statement) const;

  // One set-based command running `rows` (each the parameters of a Bind of `statement` with
  // `types`, on distinct keys) in their order. The set-based variant is prepared when first
  // met (in a savepoint). An error: Unavailable, or the variant cannot be prepared.
  absl::StatusOr<storage::PipelineCommand> BindWave(
      const domain::SqlStatement& statement, const std::vector<uint32_t>& types,
      const std::vector<const std::vector<storage::PgParam>*>& rows);

 private:
  struct WaveState {
    Wave wave;
    std::string text;  // the set-based statement
    absl::flat_hash_map<std::vector<uint32_t>, absl::StatusOr<std::string>> variants;
  };
  struct WaveTable {
    std::string refusal;  // why no statement on this table runs in waves ("" when they can)
    WaveKeyKind key_kind = WaveKeyKind::kText;
    std::vector<std::string> volatile_defaults;  // columns whose default calls a function
    std::string lowering_refusal;  // why no statement on it lowers (besides `refusal`)
  };
  struct ArrayType {
    uint32_t oid = 0;
    char delimiter = ',';
  };

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
  // Prepares `text` with `types` under a new name, in a savepoint: the outer error is fatal
  // (Unavailable), the inner one the prepare's.
  absl::StatusOr<absl::StatusOr<std::string>> PrepareSaved(std::string_view text,
                                                           const std::vector<uint32_t>& types);
  absl::StatusOr<WaveTable> LoadWaveTable(const storage::TableInfo& table, std::string_view key);
  // Why statements inserting `inserted` into `table` cannot run set-based ("" when they can).
  absl::StatusOr<std::string> TableRefusal(const storage::TableInfo& table, std::string_view key,
                                           const std::vector<std::string>& inserted);
  // The array types of `types` (each must have one), looked up once.
  absl::StatusOr<std::vector<uint32_t>> ArrayTypes(const std::vector<uint32_t>& types);

  storage::PgConnection& conn_;
  std::unordered_map<const domain::SqlStatement*, Typing> typings_;
  std::unordered_map<const domain::SqlStatement*, WaveState> waves_;
  std::optional<WaveTable> wave_table_;
  absl::flat_hash_map<uint32_t, ArrayType> array_types_;
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
