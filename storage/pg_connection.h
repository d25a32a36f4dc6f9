#ifndef PROTEAN_ADMIN_STORAGE_PG_CONNECTION_H_
#define PROTEAN_ADMIN_STORAGE_PG_CONNECTION_H_

// RAII wrappers over libpq: one connection, one result. Errors are absl::Status values
// carrying PostgreSQL's message (and SQLSTATE when there is one).

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace protean_admin::storage {

// An owned PGresult. Rows and columns are 0-based.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* result) : result_(result) {}

  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  int columns() const { return result_ ? PQnfields(result_.get()) : 0; }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column); }
  std::string_view Get(int row, int column) const {
    return std::string_view(PQgetvalue(result_.get(), row, column),
                            PQgetlength(result_.get(), row, column));
  }
  // Affected rows of an INSERT/UPDATE/DELETE, 0 otherwise.
  int64_t AffectedRows() const;
  PGresult* get() const { return result_.get(); }

 private:
  struct Deleter {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Deleter> result_;
};

// A text parameter; nullopt binds SQL NULL.
using PgParam = std::optional<std::string>;

// One libpq connection. Movable, not copyable; closed on destruction.
class PgConnection {
 public:
  // Connects with a libpq URI or key=value string. Unavailable when it cannot connect;
  // the message names the target (host, port, database), never the password.
  static absl::StatusOr<PgConnection> Connect(std::string_view conninfo);

  PgConnection(PgConnection&&) noexcept = default;
  PgConnection& operator=(PgConnection&&) noexcept = default;

  // Runs one or more statements without parameters.
  absl::StatusOr<PgResult> Exec(std::string_view sql);
  // Runs one statement with text parameters $1..$n.
  absl::StatusOr<PgResult> ExecParams(std::string_view sql, const std::vector<PgParam>& params);

  // Prepares a named statement (parameter types inferred by the server).
  absl::Status Prepare(std::string_view name, std::string_view sql);
  // Prepares a named statement ("" names the unnamed one) with the given parameter type OIDs
  // (0: inferred by the server; missing trailing ones too) and returns the type the server
  // settled on for each parameter.
  absl::StatusOr<std::vector<uint32_t>> PrepareTyped(std::string_view name, std::string_view sql,
                                                     const std::vector<uint32_t>& types);
  // Runs a prepared statement with text parameters.
  absl::StatusOr<PgResult> ExecPrepared(std::string_view name, const std::vector<PgParam>& params);
  // COPY ... FROM STDIN: sends `data` (already in COPY text format) and ends the copy.
  absl::Status CopyIn(std::string_view copy_sql, std::string_view data);

  // True while the connection is usable.
  bool ok() const;
  // A description for messages: "host:port/dbname".
  std::string Describe() const;
  PGconn* get() const { return conn_.get(); }

  // Quotes an identifier ("my table" -> "\"my table\"").
  std::string QuoteIdentifier(std::string_view identifier) const;
  // Quotes a string literal for this connection's encoding ("it's" -> "'it''s'").
  absl::StatusOr<std::string> QuoteLiteral(std::string_view value) const;

 private:
  struct Deleter {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  explicit PgConnection(PGconn* conn) : conn_(conn) {}

  std::unique_ptr<PGconn, Deleter> conn_;
};

// Turns a failed result (or a lost connection) into a status; OK for success. The message
// starts with `context`. Codes by SQLSTATE:
//   connection lost, class 08, 57P01-57P03 (shutdown)   Unavailable
//   57014 (query cancelled)                              Cancelled
//   55P03, 40001, 40P01 (lock, serialization, deadlock)  Aborted
//   classes 22, 23 (bad data, constraint violated)       InvalidArgument: the event's values
//   class 42 (syntax, unknown table/column/type, rights) FailedPrecondition: the database
//                                                        does not fit the domain
//   anything else                                        Internal
absl::Status ResultStatus(PGconn* conn, const PGresult* result, std::string_view context);

// The SQLSTATE of a failed status produced here, or "" when none.
std::string SqlState(const absl::Status& status);
// PostgreSQL's primary message of a failed status produced here (one line: no severity,
// statement excerpt or hint), else the status message.
std::string PgPrimaryMessage(const absl::Status& status);
// The 1-based character position in the statement that PostgreSQL gave for the error, or 0.
int PgErrorPosition(const absl::Status& status);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_PG_CONNECTION_H_
