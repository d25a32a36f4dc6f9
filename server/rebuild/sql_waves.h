#ifndef PROTEAN_ADMIN_SERVER_REBUILD_SQL_WAVES_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_SQL_WAVES_H_

// Set-based execution of SQL-form statements (docs/design.md "SQL form: set-based waves").
//
// A statement of the shape
//
//   INSERT INTO <table> [AS a] (<cols>) VALUES (<exprs>)
//     ON CONFLICT (<key>) DO UPDATE SET ... [WHERE ...]   |   ON CONFLICT (<key>) DO NOTHING
//
// where <table> is the projection's table (unqualified), <key> its key column, the key's value
// a plain parameter, parameters appear only in VALUES and every expression uses only the
// table's own columns (a., EXCLUDED.), literals, operators, CAST and a short list of functions
// that read no table, reads and writes only the row of its key. Events of such statements on
// different keys commute, so a batch runs as waves: wave k holds the k-th occurrence of each
// key, each statement's rows of a wave as one
//
//   INSERT INTO <table> [AS a] (<cols>) SELECT <exprs, $i -> u.p<i>>
//     FROM unnest($1, ..., $n) AS u(p1, ..., pn) ON CONFLICT ...
//
// whose $i is the array of the per-event $i values, typed as the array of the per-event
// parameter's type (the same input function reads each value: bit-identical results).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/model.h"
#include "storage/pg_connection.h"

namespace protean_admin::rebuild {

struct WaveForm {
  std::string text;       // the set-based statement, its $i the arrays of the parameters
  int key_parameter = 0;  // index into SqlStatement::parameters of the key's value
  std::vector<std::string> inserted;  // the columns of the INSERT list (lower case)
};

// Recognizes `statement` (domain::RewriteSql's output) for set-based execution against
// `table` (its unqualified name), whose key column is `key` and whose columns are `columns`.
// InvalidArgument saying why it is not of the shape above.
absl::StatusOr<WaveForm> RecognizeWaveStatement(const domain::SqlStatement& statement,
                                                std::string_view table, std::string_view key,
                                                const std::vector<std::string>& columns);

// A statement RecognizeWaveStatement accepts, split into its parts (sql_lowering.h reads
// them). Each expression is the texts of its tokens: words lower case, "$n" for parameter n
// (1-based), literals and operators as written.
struct UpsertParts {
  std::string alias;                             // of the table ("" without AS)
  std::vector<std::string> columns;              // inserted, lower case
  std::vector<std::vector<std::string>> values;  // per inserted column
  int key_parameter = 0;                         // as WaveForm::key_parameter
  bool do_nothing = false;
  std::vector<std::pair<std::string, std::vector<std::string>>> assignments;  // DO UPDATE SET
  bool has_where = false;  // DO UPDATE SET ... WHERE
};

// The parts of `statement`, or RecognizeWaveStatement's error.
absl::StatusOr<UpsertParts> SplitUpsert(const domain::SqlStatement& statement,
                                        std::string_view table, std::string_view key,
                                        const std::vector<std::string>& columns);

// How key values compare: as text (text), as text but for trailing spaces (varchar(n)
// silently cuts them off a too long value: a key ending in a space runs per event), or as
// integers (int2/4/8, where only the canonical spelling "0", "-12" identifies a key: "012"
// runs per event).
enum class WaveKeyKind { kText, kVarchar, kInteger };

// True when `value` (a bound key value) names its key unambiguously.
bool IsCanonicalWaveKey(WaveKeyKind kind, const storage::PgParam& value);

// The PostgreSQL array literal of `values` ({"a","b\"c",NULL}).
std::string WaveArrayLiteral(const std::vector<const storage::PgParam*>& values);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_SQL_WAVES_H_
