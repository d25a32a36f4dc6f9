#ifndef PROTEAN_ADMIN_SERVER_REBUILD_SQL_LOWERING_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_SQL_LOWERING_H_

// SQL-form upserts folded in memory like the action form (docs/design.md "SQL form in
// memory"). A handler of one statement that sql_waves.h recognizes and of the shape
//
//   INSERT INTO <table> [AS a] (<key>, <c>, ...) VALUES (:key, <value>, ...)
//     ON CONFLICT (<key>) DO UPDATE SET <c> = <assignment>, ...   |   DO NOTHING
//
// where each <value> is a parameter (bare, or CAST / :: to its column's own type) or a
// literal (a string, a number, NULL), and each <assignment> is `EXCLUDED.<c>`, a literal, or
// `coalesce(<table or alias>.<c>, 0) + EXCLUDED.<c>`, is the action-form handler
//
//   c = EXCLUDED.c            -> set c = value
//   c not assigned            -> insert c = value
//   c = literal               -> insert c = value, update c = literal (set when they are equal)
//   c = coalesce(t.c,0) + EXCLUDED.c -> insert c = value, increment c by value
//
// and gives the statement's results one event at a time, to the bit, when the columns it
// writes are int2/4/8, float4/8, numeric (numeric(p,s) not incremented), text or
// varchar(n): types whose every value is read in memory exactly as PostgreSQL reads it
// (column_ops.h, lua_columns.h CheckTextCell). FinishLoweredItem adds what the action form
// does not do by itself: SQL reads every VALUES expression even when the row exists, and
// `coalesce(c, 0) + NULL` is NULL where the action form refuses an increment by NULL. The
// table must not make rows depend on anything but their own events (sql_statements.h checks
// the catalog: no triggers, rules, CHECK or foreign keys, NOT NULL only on the key).

#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/model.h"
#include "server/rebuild/action_fold.h"
#include "server/rebuild/column_ops.h"
#include "server/rebuild/lua_columns.h"
#include "server/rebuild/plan.h"
#include "storage/projection_table.h"

namespace protean_admin::rebuild {

struct LoweredHandler {
  domain::Handler action;  // the equivalent action-form handler (form kAction)
  HandlerColumns columns;  // its columns' indexes in the table, by list (plan.h)
  // Per value of action.insert: read by its column's type for every event (a parameter that
  // no set or increment of the same event reads).
  std::vector<bool> check_insert;
  // Per column of the table: its type when it is text or varchar (values checked).
  std::vector<std::optional<LuaValueType>> text_types;
};

// Lowered handlers by the SQL-form handler they stand for (nodes: `action` keeps its address).
using LoweredHandlers = absl::node_hash_map<const domain::Handler*, LoweredHandler>;

// The action-form handler equivalent to `handler` (one SQL statement) on `table`, whose key
// column is `key`. InvalidArgument saying why when it is not of the shape above.
absl::StatusOr<LoweredHandler> LowerSqlHandler(const domain::Handler& handler,
                                               const storage::TableInfo& table,
                                               std::string_view key);

// Gives `item`, evaluated from `lowered.action`, the statement's semantics (see above):
// a NULL increment becomes an update to NULL, text values are checked (UTF-8, varchar(n)
// lengths; excess spaces dropped as PostgreSQL drops them) and checked insert values read by
// their columns' types. An error (the statement's error) fails the event.
absl::Status FinishLoweredItem(const LoweredHandler& lowered, const std::vector<ColumnSpec>& specs,
                               ActionItem& item);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_SQL_LOWERING_H_
