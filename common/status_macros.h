#ifndef PROTEAN_ADMIN_COMMON_STATUS_MACROS_H_
#define PROTEAN_ADMIN_COMMON_STATUS_MACROS_H_

// Early returns for absl::Status and absl::StatusOr, for every layer of the project.
//
//   RETURN_IF_ERROR(conn.Exec("BEGIN").status());
//   ASSIGN_OR_RETURN(TableInfo table, LoadTableInfo(conn, schema, name));
//   ASSIGN_OR_RETURN(table_, LoadTableInfo(conn, schema, name));  // assigns to an existing one

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PA_STATUS_MACROS_CONCAT_INNER(a, b) a##b
#define PA_STATUS_MACROS_CONCAT(a, b) PA_STATUS_MACROS_CONCAT_INNER(a, b)

// Evaluates `expr` (an absl::Status) once; returns it from the enclosing function when not OK.
#define RETURN_IF_ERROR(expr)                                          \
  do {                                                                 \
    ::absl::Status pa_status_macros_status = (expr);                   \
    if (!pa_status_macros_status.ok()) return pa_status_macros_status; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>) once; returns its status from the enclosing
// function when not OK, otherwise moves its value into `lhs` (a declaration or an lvalue).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  PA_ASSIGN_OR_RETURN_IMPL(PA_STATUS_MACROS_CONCAT(pa_status_or_, __LINE__), lhs, rexpr)

#define PA_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                             \
  if (!statusor.ok()) return statusor.status();        \
  lhs = *std::move(statusor)

#endif  // PROTEAN_ADMIN_COMMON_STATUS_MACROS_H_
