#ifndef PROTEAN_ADMIN_SERVER_SERVICE_AUDIT_TRAIL_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_AUDIT_TRAIL_H_

// The daemon's side of the audit trail (storage/audit_store.h): which database a job's row
// goes to, the rows' lifecycle, and reading them back for ListRebuilds.
//
// Where rows go:
//   - --audit-database URI given: every row goes to that database, opened at start-up, and
//     rows that stopped daemon processes left `running` are marked `interrupted` right away.
//   - otherwise (default): each job's row goes to the projection database of its domain,
//     i.e. the domain's [databases.default] (else the database of its first database-backed
//     projection; a cache-only domain uses its event store database). The daemon only
//     learns these databases from domains, so a database is opened lazily, the first time
//     a rebuild, ListProjections or `ListRebuilds --domain` touches a domain using it; rows
//     of stopped daemon processes are marked `interrupted` at that first open.
// Which rows are "of stopped processes" is decided by each process's instance id and its
// liveness lock (storage/audit_store.h), never by the daemon name: a second daemon of the
// same name leaves the first one's running rows alone. ListRebuilds marks them too, in every
// database opened so far.
// A job's end is recorded on a fresh connection when the store's connection was lost, and,
// while the database cannot be reached (a PostgreSQL restart), retried every second on a
// thread of the trail until it is recorded or the trail is destroyed.
// Audit failures never fail a rebuild: they are logged at error level.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/model.h"
#include "protean/admin/v1/admin.pb.h"
#include "server/service/job_registry.h"
#include "storage/audit_store.h"

namespace protean_admin::service {

// The database a domain's audit rows go to (see above); "" when it has none.
std::string AuditDatabaseOf(const domain::Domain& domain);

// An audit row as a JobInfo (for ListRebuilds).
pb::JobInfo JobInfoFromRecord(const storage::RebuildRecord& record);

class AuditTrail {
 public:
  // `fixed_database`: the --audit-database URI, or "" for per-domain databases.
  AuditTrail(std::string daemon, std::string fixed_database);
  // Stops the retry thread after one last attempt; ends it could not record are logged.
  ~AuditTrail();

  const std::string& daemon() const { return daemon_; }
  const std::string& instance() const { return instance_; }

  // Opens the store of a database (cached); the first open marks rows of stopped daemon
  // processes as interrupted.
  absl::StatusOr<storage::AuditStore*> Open(const std::string& database);
  // The database of a domain's rows (the fixed one when configured).
  std::string DatabaseFor(const domain::Domain& domain) const;
  // Opens the store of a domain's database (logging errors); null on failure.
  storage::AuditStore* ForDomain(const domain::Domain& domain);

  // Job lifecycle (errors logged, not returned).
  void JobStarted(const std::string& job_id, const JobSpec& spec);
  void JobFinished(const Job& job);

  // Rows of every store opened so far (rows of stopped processes marked first), newest
  // first, at most `limit` per store.
  std::vector<pb::JobInfo> List(bool running_only, int limit);

 private:
  struct PendingEnd {
    std::string database;
    std::string job_id;
    storage::RebuildOutcome outcome;
  };
  // Records a job's end: OK, or the error (logged here unless Unavailable).
  absl::Status TryRecordEnd(const PendingEnd& end);
  // TryRecordEnd, queueing the end for the retry thread when Unavailable.
  void RecordEnd(PendingEnd end);
  void RetryPendingEnds();

  const std::string daemon_;
  const std::string instance_;
  const std::string fixed_database_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<storage::AuditStore>> stores_;  // by database
  std::map<std::string, std::string> job_database_;                     // job id -> database

  std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  std::vector<PendingEnd> pending_;  // guarded by pending_mu_
  bool stopping_ = false;            // guarded by pending_mu_
  std::thread retrier_;              // started with the first pending end
};

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_AUDIT_TRAIL_H_
