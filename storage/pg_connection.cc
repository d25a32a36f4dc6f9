#include "storage/pg_connection.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace protean_admin::storage {
namespace {

constexpr char kSqlStatePayload[] = "protean-admin/sqlstate";
constexpr char kPrimaryPayload[] = "protean-admin/pg-primary";
constexpr char kPositionPayload[] = "protean-admin/pg-position";

absl::StatusCode CodeForSqlState(std::string_view state) {
  if (state.size() < 2) return absl::StatusCode::kInternal;
  std::string_view cls = state.substr(0, 2);
  if (cls == "08" || state == "57P01" || state == "57P02" || state == "57P03") {
    return absl::StatusCode::kUnavailable;  // connection exception, admin shutdown
  }
  if (state == "57014") return absl::StatusCode::kCancelled;  // query_canceled
  if (state == "55P03" || state == "40001" || state == "40P01") {
    return absl::StatusCode::kAborted;  // lock not available, serialization, deadlock
  }
  if (cls == "22" || cls == "23") return absl::StatusCode::kInvalidArgument;
  if (cls == "42") return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

std::string TrimMessage(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

int64_t PgResult::AffectedRows() const {
  if (!result_) return 0;
  const char* n = PQcmdTuples(result_.get());
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

absl::StatusOr<PgConnection> PgConnection::Connect(std::string_view conninfo) {
  std::string info(conninfo);
  PgConnection conn(PQconnectdb(info.c_str()));
  if (conn.get() == nullptr) return absl::ResourceExhaustedError("libpq: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL at ", conn.Describe(),
                                               ": ", TrimMessage(PQerrorMessage(conn.get()))));
  }
  // Quiet NOTICEs (e.g. "relation already exists, skipping").
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  return conn;
}

absl::StatusOr<PgResult> PgConnection::Exec(std::string_view sql) {
  std::string text(sql);
  PgResult result(PQexec(conn_.get(), text.c_str()));
  absl::Status status = ResultStatus(conn_.get(), result.get(), "query failed");
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<PgResult> PgConnection::ExecParams(std::string_view sql,
                                                  const std::vector<PgParam>& params) {
  std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  PgResult result(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
  absl::Status status = ResultStatus(conn_.get(), result.get(), "query failed");
  if (!status.ok()) return status;
  return result;
}

absl::Status PgConnection::Prepare(std::string_view name, std::string_view sql) {
  std::string n(name), text(sql);
  PgResult result(PQprepare(conn_.get(), n.c_str(), text.c_str(), 0, nullptr));
  return ResultStatus(conn_.get(), result.get(), "prepare failed");
}

absl::StatusOr<std::vector<uint32_t>> PgConnection::PrepareTyped(
    std::string_view name, std::string_view sql, const std::vector<uint32_t>& types) {
  std::string n(name), text(sql);
  std::vector<Oid> oids(types.begin(), types.end());
  PgResult prepared(PQprepare(conn_.get(), n.c_str(), text.c_str(), static_cast<int>(oids.size()),
                              oids.empty() ? nullptr : oids.data()));
  absl::Status status = ResultStatus(conn_.get(), prepared.get(), "prepare failed");
  if (!status.ok()) return status;
  PgResult described(PQdescribePrepared(conn_.get(), n.c_str()));
  status = ResultStatus(conn_.get(), described.get(), "describe failed");
  if (!status.ok()) return status;
  std::vector<uint32_t> settled(PQnparams(described.get()));
  for (size_t i = 0; i < settled.size(); ++i) {
    settled[i] = PQparamtype(described.get(), static_cast<int>(i));
  }
  return settled;
}

absl::StatusOr<PgResult> PgConnection::ExecPrepared(std::string_view name,
                                                    const std::vector<PgParam>& params) {
  std::string n(name);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  PgResult result(PQexecPrepared(conn_.get(), n.c_str(), static_cast<int>(values.size()),
                                 values.data(), nullptr, nullptr, 0));
  absl::Status status = ResultStatus(conn_.get(), result.get(), "query failed");
  if (!status.ok()) return status;
  return result;
}

absl::Status PgConnection::CopyIn(std::string_view copy_sql, std::string_view data) {
  std::string text(copy_sql);
  PgResult start(PQexec(conn_.get(), text.c_str()));
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) {
    absl::Status status = ResultStatus(conn_.get(), start.get(), "copy failed");
    return status.ok() ? absl::InternalError("copy failed: server did not enter COPY IN") : status;
  }
  constexpr size_t kChunk = 1 << 20;
  for (size_t offset = 0; offset < data.size(); offset += kChunk) {
    size_t n = std::min(kChunk, data.size() - offset);
    if (PQputCopyData(conn_.get(), data.data() + offset, static_cast<int>(n)) != 1) break;
  }
  PQputCopyEnd(conn_.get(), nullptr);
  absl::Status status = absl::OkStatus();
  while (PGresult* r = PQgetResult(conn_.get())) {
    PgResult owned(r);
    absl::Status s = ResultStatus(conn_.get(), r, "copy failed");
    if (status.ok() && !s.ok()) status = s;
  }
  if (status.ok() && PQstatus(conn_.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("copy failed: connection to PostgreSQL lost: ",
                                               TrimMessage(PQerrorMessage(conn_.get()))));
  }
  return status;
}

bool PgConnection::ok() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

std::string PgConnection::Describe() const {
  if (!conn_) return "(no connection)";
  const char* host = PQhost(conn_.get());
  const char* port = PQport(conn_.get());
  const char* db = PQdb(conn_.get());
  return absl::StrCat(host ? host : "", ":", port ? port : "", "/", db ? db : "");
}

std::string PgConnection::QuoteIdentifier(std::string_view identifier) const {
  std::string out = "\"";
  for (char c : identifier) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

absl::StatusOr<std::string> PgConnection::QuoteLiteral(std::string_view value) const {
  char* quoted = PQescapeLiteral(conn_.get(), value.data(), value.size());
  if (quoted == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot quote a literal: ", PQerrorMessage(conn_.get())));
  }
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

absl::Status ResultStatus(PGconn* conn, const PGresult* result, std::string_view context) {
  ExecStatusType st = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN ||
      st == PGRES_COPY_OUT || st == PGRES_SINGLE_TUPLE || st == PGRES_PIPELINE_SYNC ||
      st == PGRES_EMPTY_QUERY) {
    return absl::OkStatus();
  }
  if (conn != nullptr && PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat(std::string(context),
                     ": connection to PostgreSQL lost: ", TrimMessage(PQerrorMessage(conn))));
  }
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result ? TrimMessage(PQresultErrorMessage(result))
                               : TrimMessage(conn ? PQerrorMessage(conn) : "no result");
  absl::Status status(CodeForSqlState(state ? state : ""),
                      absl::StrCat(std::string(context), ": ", message));
  if (state != nullptr) status.SetPayload(kSqlStatePayload, absl::Cord(state));
  if (result != nullptr) {
    if (const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) {
      status.SetPayload(kPrimaryPayload, absl::Cord(primary));
    }
    if (const char* position = PQresultErrorField(result, PG_DIAG_STATEMENT_POSITION)) {
      status.SetPayload(kPositionPayload, absl::Cord(position));
    }
  }
  return status;
}

std::string SqlState(const absl::Status& status) {
  auto payload = status.GetPayload(kSqlStatePayload);
  return payload ? std::string(*payload) : std::string();
}

std::string PgPrimaryMessage(const absl::Status& status) {
  auto payload = status.GetPayload(kPrimaryPayload);
  return payload ? std::string(*payload) : std::string(status.message());
}

int PgErrorPosition(const absl::Status& status) {
  auto payload = status.GetPayload(kPositionPayload);
  return payload ? std::atoi(std::string(*payload).c_str()) : 0;
}

}  // namespace protean_admin::storage
