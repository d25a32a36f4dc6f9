#ifndef PROTEAN_ADMIN_STORAGE_AUDIT_STORE_H_
#define PROTEAN_ADMIN_STORAGE_AUDIT_STORE_H_

// The audit trail of rebuilds: table protean_admin.rebuilds in a PostgreSQL database (the
// projection database), created on first use. One row per rebuild job: who asked, what,
// when, the outcome and its counts. ListRebuilds / `protean-admin jobs` read it, so history
// survives a daemon restart.
//
// Daemon identity: each daemon process has an instance id (MakeDaemonInstanceId), written in
// its rows, and its store's session holds a session-level advisory lock derived from that
// id (InstanceLockText) for as long as the session lives. A row left `running` by an
// instance whose lock nobody holds (the process is gone, or lost this database) becomes
// `interrupted` when another store looks (MarkInterrupted); live instances' rows are never
// touched, whatever their daemon names. The advisory lock needs a session of its own: the
// database must not be reached through a transaction-pooling proxy.
//
//   CREATE TABLE protean_admin.rebuilds (
//     id                text PRIMARY KEY,       -- the job id
//     domain            text NOT NULL,
//     projection        text,                   -- NULL for a rebuild of all
//     strategy          text NOT NULL,          -- atomic | inplace
//     requested_by      text NOT NULL,          -- token name or certificate subject
//     peer              text NOT NULL,          -- gRPC peer, e.g. ipv4:10.0.0.7:51234
//     started_at        timestamptz NOT NULL,
//     finished_at       timestamptz,            -- NULL while running
//     state             text NOT NULL,          -- running|succeeded|failed|cancelled|interrupted
//     events_dispatched bigint NOT NULL,
//     events_skipped    bigint NOT NULL,
//     errors            jsonb NOT NULL,         -- JSON array of strings
//     results           jsonb,                  -- optional per-projection details (opaque)
//     daemon            text NOT NULL,          -- daemon name (a label; host name by default)
//     daemon_instance   text NOT NULL           -- one id per daemon process
//   )
//
// Thread-safe: one connection, serialized by a mutex. An operation whose connection turns
// out to be lost (a PostgreSQL restart, a terminated session) is retried once on a fresh
// connection (which takes the instance's lock again); Unavailable when that fails too.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

enum class RebuildState { kRunning, kSucceeded, kFailed, kCancelled, kInterrupted };

// "running", "succeeded", "failed", "cancelled", "interrupted".
std::string RebuildStateName(RebuildState state);
absl::StatusOr<RebuildState> ParseRebuildState(std::string_view name);

struct RebuildRecord {
  std::string id{};
  std::string domain{};
  std::optional<std::string> projection{};  // nullopt: all projections
  std::string strategy{};                   // "atomic" | "inplace"
  std::string requested_by{};
  std::string peer{};
  int64_t started_unix_ms = 0;  // 0 in Start(): now
  std::optional<int64_t> finished_unix_ms{};
  RebuildState state = RebuildState::kRunning;
  int64_t events_dispatched = 0;
  int64_t events_skipped = 0;
  std::vector<std::string> errors{};
  std::optional<std::string> results_json{};  // stored as jsonb; must be valid JSON
  std::string daemon{};
  std::string daemon_instance{};
};

struct RebuildOutcome {
  RebuildState state = RebuildState::kSucceeded;  // not kRunning
  int64_t events_dispatched = 0;
  int64_t events_skipped = 0;
  std::vector<std::string> errors{};
  std::optional<std::string> results_json{};
  int64_t finished_unix_ms = 0;  // 0: now
};

// A process-unique daemon instance id: "<daemon>/<pid>-<start ms>-<random hex>".
std::string MakeDaemonInstanceId(std::string_view daemon);

// The advisory lock text that says an instance is alive: "protean-admin:daemon-instance:<id>".
std::string InstanceLockText(std::string_view instance);

class AuditStore {
 public:
  // Connects to `conninfo` (libpq URI or key=value). The schema is created on first use.
  // With an `instance` id, the store's session holds that instance's lock (taken here,
  // unless another store of the process holds it in the same database). Without one, it
  // holds none: rows it writes count as left by a stopped instance.
  static absl::StatusOr<std::unique_ptr<AuditStore>> Open(std::string conninfo,
                                                          std::string instance = "");

  // Creates schema protean_admin and table rebuilds if missing (idempotent, safe against
  // concurrent daemons). Called by every operation the first time; public for start-up
  // checks.
  absl::Status EnsureSchema();

  // Records a rebuild that starts (state running). AlreadyExists for a duplicate id.
  absl::Status Start(const RebuildRecord& record);

  // Records the end of a running rebuild. A row of this store's instance that another store
  // marked interrupted while this one had lost its session is finished too (the instance was
  // alive after all). NotFound for an unknown id; FailedPrecondition when the row is no
  // longer running (finished already, or interrupted by another instance's end).
  absl::Status Finish(std::string_view id, const RebuildOutcome& outcome);

  // Newest first (started_at DESC, id DESC). limit <= 0: all rows.
  absl::StatusOr<std::vector<RebuildRecord>> List(int limit, bool running_only);

  // One row; NotFound when unknown.
  absl::StatusOr<RebuildRecord> Get(std::string_view id);

  // Rows still `running` whose instance (not this store's) holds no lock in this database
  // become `interrupted`, with finished_at = now and an error naming the instance (and, for
  // an in-place rebuild, saying the projection may be partial). Returns the number of rows
  // changed. Rows of live instances, of any daemon name, are left alone.
  absl::StatusOr<int64_t> MarkInterrupted();

  // Rows still `running` that started before `started_before_unix_ms`, whatever daemon
  // wrote them, become `interrupted` (for single-daemon deployments whose daemon name
  // changed, or an operator's clean-up). Returns the number of rows changed.
  absl::StatusOr<int64_t> MarkInterruptedStartedBefore(int64_t started_before_unix_ms);

 private:
  AuditStore(std::string conninfo, std::string instance, PgConnection conn)
      : conninfo_(std::move(conninfo)), instance_(std::move(instance)), conn_(std::move(conn)) {}
  // With mutex_ held: reconnects if needed (taking the instance's lock) and ensures the
  // schema.
  absl::StatusOr<PgConnection*> Ready();
  absl::Status EnsureSchemaLocked();
  // Takes the instance's lock on conn_ (none without an instance).
  absl::Status LockInstance();
  // With mutex_ held: runs one statement, once more on a fresh connection when the
  // connection was found lost.
  absl::StatusOr<PgResult> Run(std::string_view sql, const std::vector<PgParam>& params);

  const std::string conninfo_;
  const std::string instance_;
  std::mutex mutex_;
  PgConnection conn_;          // guarded by mutex_
  bool schema_ready_ = false;  // guarded by mutex_
};

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_AUDIT_STORE_H_
