#ifndef PROTEAN_ADMIN_SERVER_REBUILD_ACTION_VALUES_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_ACTION_VALUES_H_

// How the action form's values (JSON values read from the event or written in domain.toml)
// become column text, by the column's shape (column_ops.h ValueShape; docs/domain-toml.md
// "Values and column types"):
//  - json, jsonb: the JSON value itself, so a string is a JSON string ("abc" -> "\"abc\"");
//  - arrays (text[], varchar[], json[], jsonb[], int4[], ...): a JSON array is the array of
//    its items (pg_array.h PgArrayLiteral: json[] and jsonb[] items are JSON values), any
//    other value an array of that one item, as the SQL form binds array parameters;
//  - any other column: the value's text (a string unquoted, a number as written,
//    true/false, the JSON text of an object or array), which the column's type then reads.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/rebuild/column_ops.h"
#include "server/rebuild/event_payload.h"

namespace protean_admin::rebuild {

// The text `value` (not NULL) gives in `column`, before the column's type reads it
// (CoerceValue). InvalidArgument naming the column when an array cannot be written.
absl::StatusOr<std::string> ActionValueText(const ColumnSpec& column, const Datum& value);

// The value of "-:param": a number (a JSON number, or a string holding a decimal number, as
// events often carry decimals) with its sign flipped in its text, so that every type reads
// exactly the negated value; NULL stays NULL. InvalidArgument naming `parameter` otherwise.
absl::StatusOr<Datum> NegateValue(Datum value, std::string_view parameter);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_ACTION_VALUES_H_
