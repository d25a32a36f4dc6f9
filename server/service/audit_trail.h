#ifndef PROTEAN_ADMIN_SERVER_SERVICE_AUDIT_TRAIL_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_AUDIT_TRAIL_H_

// The daemon's side of the audit trail (storage/audit_store.h): which database a job's row
// goes to, the rows' lifecycle, and reading them back for ListRebuilds.
//
// Where rows go:
//   - --audit-database URI given: every row goes to that database, opened at start-up, and
//     rows a crashed earlier run of this daemon left `running` are marked `interrupted`
//     right away.
//   - otherwise (default): each job's row goes to the projection database of its domain,
//     i.e. the domain's [databases.default] (else the database of its first database-backed
//     projection; a cache-only domain uses its event store database). The daemon only
//     learns these databases from domains, so a database is opened lazily, the first time
//     a rebuild, ListProjections or `ListRebuilds --domain` touches a domain using it; rows
//     of a crashed earlier run are marked `interrupted` at that first open.
// Audit failures never fail a rebuild: they are logged at error level.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protean/admin/v1/admin.pb.h"
#include "server/domain/model.h"
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

  const std::string& daemon() const { return daemon_; }
  const std::string& instance() const { return instance_; }

  // Opens the store of a database (cached); the first open marks rows of earlier runs
  // of this daemon as interrupted.
  absl::StatusOr<storage::AuditStore*> Open(const std::string& database);
  // The database of a domain's rows (the fixed one when configured).
  std::string DatabaseFor(const domain::Domain& domain) const;
  // Opens the store of a domain's database (logging errors); null on failure.
  storage::AuditStore* ForDomain(const domain::Domain& domain);

  // Job lifecycle (errors logged, not returned).
  void JobStarted(const std::string& job_id, const JobSpec& spec);
  void JobFinished(const Job& job);

  // Rows of every store opened so far, newest first, at most `limit` per store.
  std::vector<pb::JobInfo> List(bool running_only, int limit);

 private:
  const std::string daemon_;
  const std::string instance_;
  const std::string fixed_database_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<storage::AuditStore>> stores_;  // by database
  std::map<std::string, std::string> job_database_;                     // job id -> database
};

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_AUDIT_TRAIL_H_
