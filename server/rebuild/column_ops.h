#ifndef PROTEAN_ADMIN_SERVER_REBUILD_COLUMN_OPS_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_COLUMN_OPS_H_

// Typed assignment and increment of projection columns in memory, giving exactly what
// PostgreSQL gives for `SET col = $1` and `SET col = coalesce(col, 0) + $1` one event at a
// time: int64 arithmetic with range checks for integer types, IEEE additions in event order
// for float4/float8, exact decimals (rounded to the column's typmod) for numeric.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/projection_table.h"

namespace protean_admin::rebuild {

enum class ColumnKind { kOther, kInt16, kInt32, kInt64, kFloat4, kFloat8, kNumeric };

// How a column takes a JSON value of the action form (action_values.h): as its text, as a
// JSON value (json, jsonb), or as the items of an array (arrays; json[] and jsonb[] items are
// JSON values).
enum class ValueShape { kScalar, kJson, kArray, kJsonArray };

struct ColumnSpec {
  std::string name;
  std::string type_sql;
  ColumnKind kind = ColumnKind::kOther;
  int precision = -1;  // numeric(p, s); -1 when unconstrained
  int scale = -1;
  ValueShape shape = ValueShape::kScalar;

  static ColumnSpec From(const storage::ColumnInfo& column);
  bool numeric_kind() const { return kind != ColumnKind::kOther; }
};

// The value a column stores for `text` (canonical for numeric kinds; unchanged otherwise).
absl::StatusOr<std::string> CoerceValue(const ColumnSpec& column, std::string_view text);

// current (NULL counts as 0) + delta, as the column's type computes it; with `subtract`,
// current - delta (a negated increment: `coalesce(col, 0) - delta`, exact also where -delta
// would not fit the type).
absl::StatusOr<std::string> IncrementValue(const ColumnSpec& column,
                                           const std::optional<std::string>& current,
                                           std::string_view delta, bool subtract = false);

// float8 increments on a running double (the row cache keeps sums between events): parsing,
// adding and formatting give exactly what IncrementValue gives on the formatted text.
absl::StatusOr<double> ParseFloat8(const ColumnSpec& column, std::string_view text);
absl::StatusOr<double> AddFloat8(const ColumnSpec& column, double current, std::string_view delta,
                                 bool subtract = false);
std::string FormatFloat8(double value);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_COLUMN_OPS_H_
