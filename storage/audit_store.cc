#include "storage/audit_store.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "storage/advisory_lock.h"

namespace protean_admin::storage {
namespace {

constexpr char kSchemaSql[] = R"sql(
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('protean_admin.rebuilds schema'));
CREATE SCHEMA IF NOT EXISTS protean_admin;
CREATE TABLE IF NOT EXISTS protean_admin.rebuilds (
  id                text PRIMARY KEY,
  domain            text NOT NULL,
  projection        text,
  strategy          text NOT NULL,
  requested_by      text NOT NULL,
  peer              text NOT NULL DEFAULT '',
  started_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz,
  state             text NOT NULL
    CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
  events_dispatched bigint NOT NULL DEFAULT 0,
  events_skipped    bigint NOT NULL DEFAULT 0,
  errors            jsonb NOT NULL DEFAULT '[]'::jsonb,
  results           jsonb,
  daemon            text NOT NULL DEFAULT '',
  daemon_instance   text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS rebuilds_started_at_idx
  ON protean_admin.rebuilds (started_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS rebuilds_running_idx
  ON protean_admin.rebuilds (daemon) WHERE state = 'running';
COMMIT;
)sql";

constexpr char kSelectColumns[] =
    "id, domain, projection, strategy, requested_by, peer, "
    "(extract(epoch FROM started_at) * 1000)::bigint, "
    "(extract(epoch FROM finished_at) * 1000)::bigint, state, events_dispatched, "
    "events_skipped, errors::text, results::text, daemon, daemon_instance";

std::string ErrorsJson(const std::vector<std::string>& errors) {
  // error_handler_t::replace: invalid UTF-8 in a message becomes U+FFFD instead of throwing.
  return nlohmann::json(errors).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int64_t ParseInt(std::string_view text) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &value)) return 0;
  return value;
}

absl::StatusOr<RebuildRecord> RowToRecord(const PgResult& result, int row) {
  RebuildRecord record;
  record.id = std::string(result.Get(row, 0));
  record.domain = std::string(result.Get(row, 1));
  if (!result.IsNull(row, 2)) record.projection = std::string(result.Get(row, 2));
  record.strategy = std::string(result.Get(row, 3));
  record.requested_by = std::string(result.Get(row, 4));
  record.peer = std::string(result.Get(row, 5));
  record.started_unix_ms = ParseInt(result.Get(row, 6));
  if (!result.IsNull(row, 7)) record.finished_unix_ms = ParseInt(result.Get(row, 7));
  absl::StatusOr<RebuildState> state = ParseRebuildState(result.Get(row, 8));
  if (!state.ok()) return state.status();
  record.state = *state;
  record.events_dispatched = ParseInt(result.Get(row, 9));
  record.events_skipped = ParseInt(result.Get(row, 10));
  try {
    nlohmann::json errors = nlohmann::json::parse(result.Get(row, 11));
    if (errors.is_array()) {
      for (const auto& e : errors) {
        record.errors.push_back(e.is_string() ? e.get<std::string>() : e.dump());
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(
        absl::StrCat("protean_admin.rebuilds ", record.id, ": unreadable errors: ", e.what()));
  }
  if (!result.IsNull(row, 12)) record.results_json = std::string(result.Get(row, 12));
  record.daemon = std::string(result.Get(row, 13));
  record.daemon_instance = std::string(result.Get(row, 14));
  return record;
}

}  // namespace

std::string RebuildStateName(RebuildState state) {
  switch (state) {
    case RebuildState::kRunning:
      return "running";
    case RebuildState::kSucceeded:
      return "succeeded";
    case RebuildState::kFailed:
      return "failed";
    case RebuildState::kCancelled:
      return "cancelled";
    case RebuildState::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

absl::StatusOr<RebuildState> ParseRebuildState(std::string_view name) {
  for (RebuildState state :
       {RebuildState::kRunning, RebuildState::kSucceeded, RebuildState::kFailed,
        RebuildState::kCancelled, RebuildState::kInterrupted}) {
    if (RebuildStateName(state) == name) return state;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown rebuild state '", std::string(name), "'"));
}

std::string MakeDaemonInstanceId(std::string_view daemon) {
  std::random_device device;
  std::uniform_int_distribution<uint32_t> dist;
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", dist(device));
  return absl::StrCat(std::string(daemon), "/", getpid(), "-", NowUnixMs(), "-", hex);
}

std::string InstanceLockText(std::string_view instance) {
  return absl::StrCat("protean-admin:daemon-instance:", std::string(instance));
}

absl::StatusOr<std::unique_ptr<AuditStore>> AuditStore::Open(std::string conninfo,
                                                             std::string instance) {
  absl::StatusOr<PgConnection> conn = PgConnection::Connect(conninfo);
  if (!conn.ok()) return conn.status();
  std::unique_ptr<AuditStore> store(
      new AuditStore(std::move(conninfo), std::move(instance), *std::move(conn)));
  absl::Status locked = store->LockInstance();
  if (!locked.ok()) return locked;
  return store;
}

absl::Status AuditStore::LockInstance() {
  if (instance_.empty()) return absl::OkStatus();
  // Not taken: another session holds it, which can only be another store of this process
  // reaching the same database by another URI; the instance is alive either way.
  absl::StatusOr<bool> locked = TryAdvisoryLock(conn_, InstanceLockText(instance_));
  return locked.ok() ? absl::OkStatus() : locked.status();
}

absl::Status AuditStore::EnsureSchemaLocked() {
  if (schema_ready_) return absl::OkStatus();
  absl::StatusOr<PgResult> result = conn_.Exec(kSchemaSql);
  if (!result.ok()) {
    // Leave no transaction open on this connection.
    (void)conn_.Exec("ROLLBACK");
    return absl::Status(
        result.status().code(),
        absl::StrCat("creating the audit table protean_admin.rebuilds in ", conn_.Describe(), ": ",
                     std::string(result.status().message())));
  }
  schema_ready_ = true;
  return absl::OkStatus();
}

absl::StatusOr<PgConnection*> AuditStore::Ready() {
  if (!conn_.ok()) {
    absl::StatusOr<PgConnection> conn = PgConnection::Connect(conninfo_);
    if (!conn.ok()) return conn.status();
    conn_ = *std::move(conn);
    absl::Status locked = LockInstance();
    if (!locked.ok()) return locked;
  }
  absl::Status status = EnsureSchemaLocked();
  if (!status.ok()) return status;
  return &conn_;
}

absl::StatusOr<PgResult> AuditStore::Run(std::string_view sql, const std::vector<PgParam>& params) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<PgConnection*> conn = Ready();
    absl::StatusOr<PgResult> result =
        conn.ok() ? (*conn)->ExecParams(sql, params) : absl::StatusOr<PgResult>(conn.status());
    // A lost connection is only noticed by the statement that uses it.
    if (result.ok() || result.status().code() != absl::StatusCode::kUnavailable || conn_.ok() ||
        attempt > 0) {
      return result;
    }
  }
}

absl::Status AuditStore::EnsureSchema() {
  std::lock_guard<std::mutex> lock(mutex_);
  return Ready().status();
}

absl::Status AuditStore::Start(const RebuildRecord& record) {
  if (record.id.empty()) return absl::InvalidArgumentError("audit record without id");
  if (record.state != RebuildState::kRunning) {
    return absl::InvalidArgumentError("a rebuild starts in state running");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<PgResult> result =
      Run("INSERT INTO protean_admin.rebuilds (id, domain, projection, strategy, requested_by, "
          "peer, started_at, state, events_dispatched, events_skipped, errors, results, daemon, "
          "daemon_instance) VALUES ($1, $2, $3, $4, $5, $6, "
          "coalesce(to_timestamp($7::double precision / 1000.0), now()), 'running', $8, $9, "
          "$10::jsonb, $11::jsonb, $12, $13) ON CONFLICT (id) DO NOTHING",
          {record.id, record.domain, record.projection, record.strategy, record.requested_by,
           record.peer,
           record.started_unix_ms > 0 ? PgParam(std::to_string(record.started_unix_ms)) : PgParam(),
           std::to_string(record.events_dispatched), std::to_string(record.events_skipped),
           ErrorsJson(record.errors), record.results_json, record.daemon, record.daemon_instance});
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("recording rebuild ", record.id, ": ",
                                     std::string(result.status().message())));
  }
  if (result->AffectedRows() == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("rebuild ", record.id, " is already in the audit trail"));
  }
  return absl::OkStatus();
}

absl::Status AuditStore::Finish(std::string_view id, const RebuildOutcome& outcome) {
  if (outcome.state == RebuildState::kRunning) {
    return absl::InvalidArgumentError("a finished rebuild cannot be in state running");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<PgResult> result = Run(
      "UPDATE protean_admin.rebuilds SET state = $2, "
      "finished_at = coalesce(to_timestamp($3::double precision / 1000.0), now()), "
      "events_dispatched = $4, events_skipped = $5, errors = $6::jsonb, "
      "results = coalesce($7::jsonb, results) WHERE id = $1 AND (state = 'running' OR "
      "(state = 'interrupted' AND $8 <> '' AND daemon_instance = $8))",
      {std::string(id), RebuildStateName(outcome.state),
       outcome.finished_unix_ms > 0 ? PgParam(std::to_string(outcome.finished_unix_ms)) : PgParam(),
       std::to_string(outcome.events_dispatched), std::to_string(outcome.events_skipped),
       ErrorsJson(outcome.errors), outcome.results_json, instance_});
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("recording the end of rebuild ", std::string(id), ": ",
                                     std::string(result.status().message())));
  }
  if (result->AffectedRows() == 1) return absl::OkStatus();
  absl::StatusOr<PgResult> existing =
      Run("SELECT state FROM protean_admin.rebuilds WHERE id = $1", {std::string(id)});
  if (!existing.ok()) return existing.status();
  if (existing->rows() == 0) {
    return absl::NotFoundError(
        absl::StrCat("rebuild ", std::string(id), " is not in the audit trail"));
  }
  return absl::FailedPreconditionError(absl::StrCat("rebuild ", std::string(id),
                                                    " is no longer running (state ",
                                                    std::string(existing->Get(0, 0)), ")"));
}

absl::StatusOr<std::vector<RebuildRecord>> AuditStore::List(int limit, bool running_only) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string sql = absl::StrCat("SELECT ", kSelectColumns, " FROM protean_admin.rebuilds",
                                 running_only ? " WHERE state = 'running'" : "",
                                 " ORDER BY started_at DESC, id DESC");
  std::vector<PgParam> params;
  if (limit > 0) {
    sql += " LIMIT $1";
    params.push_back(std::to_string(limit));
  }
  absl::StatusOr<PgResult> result = Run(sql, params);
  if (!result.ok()) return result.status();
  std::vector<RebuildRecord> records;
  records.reserve(result->rows());
  for (int row = 0; row < result->rows(); ++row) {
    absl::StatusOr<RebuildRecord> record = RowToRecord(*result, row);
    if (!record.ok()) return record.status();
    records.push_back(*std::move(record));
  }
  return records;
}

absl::StatusOr<RebuildRecord> AuditStore::Get(std::string_view id) {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<PgResult> result =
      Run(absl::StrCat("SELECT ", kSelectColumns, " FROM protean_admin.rebuilds WHERE id = $1"),
          {std::string(id)});
  if (!result.ok()) return result.status();
  if (result->rows() == 0) {
    return absl::NotFoundError(
        absl::StrCat("rebuild ", std::string(id), " is not in the audit trail"));
  }
  return RowToRecord(*result, 0);
}

absl::StatusOr<int64_t> AuditStore::MarkInterrupted() {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<PgResult> instances =
      Run("SELECT DISTINCT daemon_instance FROM protean_admin.rebuilds "
          "WHERE state = 'running' AND daemon_instance <> $1",
          {instance_});
  if (!instances.ok()) return instances.status();
  int64_t marked = 0;
  for (int row = 0; row < instances->rows(); ++row) {
    const std::string instance(instances->Get(row, 0));
    // Alive while some session holds its lock: taking it here fails. Taken, it is let go
    // at once (a stopped instance's id is never used again).
    absl::StatusOr<PgResult> alive =
        Run("SELECT CASE WHEN pg_try_advisory_lock(hashtextextended($1, 0)) "
            "THEN NOT pg_advisory_unlock(hashtextextended($1, 0)) ELSE true END",
            {InstanceLockText(instance)});
    if (!alive.ok()) return alive.status();
    if (alive->Get(0, 0) == "t") continue;
    absl::StatusOr<PgResult> result =
        Run("UPDATE protean_admin.rebuilds SET state = 'interrupted', finished_at = now(), "
            "errors = errors || jsonb_build_array('interrupted: daemon instance ' || "
            "daemon_instance || ' stopped (or lost this database) while the rebuild ran' || "
            "CASE WHEN strategy = 'inplace' THEN '; the in-place rebuild may have left the "
            "projection partial' ELSE '' END) "
            "WHERE state = 'running' AND daemon_instance = $1",
            {instance});
    if (!result.ok()) return result.status();
    marked += result->AffectedRows();
  }
  return marked;
}

absl::StatusOr<int64_t> AuditStore::MarkInterruptedStartedBefore(int64_t started_before_unix_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<PgResult> result =
      Run("UPDATE protean_admin.rebuilds SET state = 'interrupted', finished_at = now(), "
          "errors = errors || jsonb_build_array('interrupted: marked by daemon start-up clean-up') "
          "WHERE state = 'running' AND started_at < to_timestamp($1::double precision / 1000.0)",
          {std::to_string(started_before_unix_ms)});
  if (!result.ok()) return result.status();
  return result->AffectedRows();
}

}  // namespace protean_admin::storage
