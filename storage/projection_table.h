#ifndef PROTEAN_ADMIN_STORAGE_PROJECTION_TABLE_H_
#define PROTEAN_ADMIN_STORAGE_PROJECTION_TABLE_H_

// The projection table as PostgreSQL sees it: its schema, columns and their types.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

struct ColumnInfo {
  std::string name;
  std::string type_sql;   // format_type(): "double precision", "numeric(12,2)"
  std::string type_name;  // pg_type.typname: "float8", "numeric", "int4", "varchar"
  int32_t typmod = -1;
  bool generated = false;  // GENERATED ALWAYS AS (...) STORED: never written
};

struct TableInfo {
  std::string schema;
  std::string table;
  std::string qualified;  // quoted "schema"."table"
  std::vector<ColumnInfo> columns;

  // Index of a column by name, -1 when absent.
  int ColumnIndex(std::string_view name) const;
};

// Looks the table up (in `schema`, or through the search_path when schema is empty).
// nullopt when it does not exist.
absl::StatusOr<std::optional<TableInfo>> LoadTableInfo(PgConnection& conn, std::string_view schema,
                                                       std::string_view table);

// CREATE TABLE with the declared columns; `key` becomes the primary key when declared. Names
// are quoted; each column's type is spliced as it is, so it must be a checked type
// (domain/sql_type.h), never client input.
absl::Status CreateTable(PgConnection& conn, std::string_view schema, std::string_view table,
                         const std::vector<std::pair<std::string, std::string>>& columns,
                         std::string_view key);

// Compares an existing table with declared columns (name, SQL type): every declared column
// must exist with the same type as PostgreSQL spells it (varchar(255) is character
// varying(255); serial is integer). FailedPrecondition listing each difference with both types
// (or the declared type PostgreSQL does not know); columns only in the table are fine.
absl::Status CheckDeclaredColumns(PgConnection& conn, const TableInfo& table,
                                  const std::vector<std::pair<std::string, std::string>>& columns);

std::string QuoteIdent(std::string_view identifier);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_PROJECTION_TABLE_H_
