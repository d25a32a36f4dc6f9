#ifndef PROTEAN_ADMIN_SERVER_REBUILD_SHADOW_SQL_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_SHADOW_SQL_H_

// Can an SQL-form statement be redirected to a shadow table? During a shadow build the
// live table's unqualified name resolves to the shadow (storage/shadow_table.h), but a
// statement naming `schema.table` would write the live table while it serves: such a
// handler is refused at planning (docs/design.md §4).

#include <string_view>

namespace protean_admin::rebuild {

// True when `sql` names `table` qualified by `schema` (schema.table, also quoted parts and a
// database prefix), outside string literals and comments. Unquoted names compare as
// PostgreSQL folds them (lower case); quoted ones exactly.
bool NamesTableQualified(std::string_view sql, std::string_view schema, std::string_view table);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_SHADOW_SQL_H_
