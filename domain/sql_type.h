#ifndef PROTEAN_ADMIN_DOMAIN_SQL_TYPE_H_
#define PROTEAN_ADMIN_DOMAIN_SQL_TYPE_H_

// The SQL type of a declared projection column (`columns = { col = "SQL type" }`), which
// CREATE TABLE splices as it is. Only a type name with optional modifiers and array brackets
// is accepted, so a type can never end the column list or the statement:
//
//   type     := word+ array*            words separated by blanks (spaces, tabs)
//   word     := name ("." name)* mods?  "double precision", "public.mood", "timestamp(3)"
//   name     := [A-Za-z_][A-Za-z0-9_$]*
//   mods     := "(" mod ("," mod)* ")"  "varchar(255)", "numeric(10, 2)", "geometry(Point, 4326)"
//   mod      := [+-]?[0-9]+ | name
//   array    := "[" [0-9]* "]"          "text[]", "integer[3][3]"
//
// Blanks may surround the modifiers, commas and brackets. Quoted identifiers are not accepted.

#include <string_view>

#include "absl/status/status.h"

namespace protean_admin::domain {

// OK for a type of the form above; InvalidArgument saying what is wrong and at which
// character (1-based) otherwise.
absl::Status CheckSqlType(std::string_view type);

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_SQL_TYPE_H_
