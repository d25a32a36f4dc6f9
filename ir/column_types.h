#ifndef PROTEAN_ADMIN_IR_COLUMN_TYPES_H_
#define PROTEAN_ADMIN_IR_COLUMN_TYPES_H_

// The PostgreSQL column type Protean's SQLAlchemy provider creates for a field
// (src/protean/adapters/repository/sqlalchemy.py in proteanhq/protean, SqlalchemyModel's
// field_mapping with its PostgreSQL upgrades; the table is in docs/ir.md):
//
//   String(max_length n)  varchar(n)  (Protean's default max_length: 255)
//   Text                  text
//   Integer               integer
//   Float                 double precision   (SQLAlchemy Float is PostgreSQL FLOAT)
//   Boolean               boolean
//   Date                  date
//   DateTime              timestamp          (without time zone)
//   Identifier, Reference,
//   Auto (no increment)   the domain's identity type: varchar / integer / uuid
//   Auto(increment=True)  integer
//   Dict                  json
//   List(content_type=T)  T's type with [] (no content type: text[]; dicts: bytea[])
//   Status                varchar(n) like String

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ir/ir_model.h"

namespace protean_admin::ir {

// The column type of `field`; identity_type is the IR's domain.identity_type. Kinds that are
// no single column (value_object, has_one, has_many, value_object_list) are InvalidArgument
// with the reason.
absl::StatusOr<std::string> ColumnTypeFor(const IrField& field, std::string_view identity_type);

// A column type in one spelling, so that equal PostgreSQL types compare equal:
// lower case, single blanks, "character varying" -> "varchar", "float8" -> "double precision",
// "int"/"int4" -> "integer", "bool" -> "boolean", "timestamp without time zone" ->
// "timestamp".
std::string CanonicalColumnType(std::string_view sql_type);

}  // namespace protean_admin::ir

#endif  // PROTEAN_ADMIN_IR_COLUMN_TYPES_H_
