#ifndef PROTEAN_ADMIN_SERVER_SERVICE_JOB_REGISTRY_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_JOB_REGISTRY_H_

// Rebuild jobs owned by the daemon. A job runs a Runner (the engine, or a stand-in in unit
// tests) on its own thread and records every event it emits; any number of watchers read
// the history and then follow live events. A watcher going away never affects the job;
// only Cancel (or Shutdown) does.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/batch_size.h"
#include "domain/model.h"
#include "protean/admin/v1/admin.pb.h"
#include "server/rebuild/rebuild.h"

namespace protean_admin::service {

namespace pb = ::protean::admin::v1;

// What a job is asked to do.
struct JobSpec {
  std::string domain;                    // as requested
  bool all = false;                      // rebuild of all projections
  std::string projection;                // for a single rebuild
  std::vector<std::string> projections;  // planned, in order (for `started`)
  // Keys of the projections this job rebuilds ("<domain file>#<projection>"): a new job
  // sharing a key with a running one is refused with Aborted.
  std::vector<std::string> lock_keys;
  pb::Strategy strategy = pb::STRATEGY_ATOMIC;
  int batch_size = kDefaultBatchSize;
  bool force = false;
  bool hand_off = true;
  int64_t max_skipped = -1;      // negative: no limit
  int wait_timeout_seconds = 0;  // shadow strategy; 0: no limit
  std::string peer;
  std::string requested_by;
  // The loaded domain (null in unit tests whose runner does not need one).
  std::shared_ptr<const domain::Domain> loaded_domain;
};

class Job;

// Handed to the runner: emit events, record results, observe cancellation.
class JobContext {
 public:
  explicit JobContext(Job* job) : job_(job) {}
  const rebuild::CancellationToken& cancel_token() const;
  bool cancelled() const { return cancel_token().cancelled(); }
  // Records the event (job id and time filled in) and wakes the watchers. Progress events
  // closer than 100 ms to the previous one of the same projection are dropped, except the
  // one where processed reaches total.
  void Emit(pb::RebuildEvent event);
  // Records a projection's result and emits it as a `result` event.
  void AddResult(const pb::RebuildResult& result);
  const std::string& job_id() const;

 private:
  Job* job_;
};

// Runs the job to its end. A non-OK status ends the job with a `failed` event.
using Runner = std::function<absl::Status(const JobSpec&, JobContext&)>;

class Job {
 public:
  Job(std::string id, JobSpec spec);
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  const std::string& id() const { return id_; }
  const JobSpec& spec() const { return spec_; }

  // Waits up to `timeout` for events after `*cursor`, appends them to `out` (superseded
  // progress events of a projection within one batch are left out) and advances the
  // cursor. Returns true once the job has ended and every event has been read.
  bool ReadEvents(size_t* cursor, std::vector<pb::RebuildEvent>* out,
                  std::chrono::milliseconds timeout);

  // Asks the runner to stop (idempotent). `interrupted`: because the daemon stops.
  void RequestCancel(bool interrupted);
  // Waits until the job has ended; false on timeout.
  bool WaitDone(std::chrono::milliseconds timeout);
  bool done() const;
  // The status the job ended with (OK while running or when it ran to its end).
  absl::Status final_status() const;
  pb::JobInfo Info() const;

 private:
  friend class JobContext;
  friend class JobRegistry;

  void Run(const Runner& runner);
  void Finish(const absl::Status& status);
  void EmitLocked(pb::RebuildEvent event);

  const std::string id_;
  const JobSpec spec_;
  rebuild::CancellationToken cancel_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pb::RebuildEvent> events_;
  std::vector<pb::RebuildResult> results_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_progress_;
  pb::JobState state_ = pb::JOB_STATE_RUNNING;
  bool done_ = false;
  bool interrupted_ = false;
  absl::Status final_status_;
  int64_t started_unix_ms_ = 0;
  int64_t finished_unix_ms_ = 0;
  int64_t processed_ = 0;
  int64_t total_ = 0;
  int64_t waiting_since_unix_ms_ = 0;  // in the shadow strategy's waiting phase
  std::thread thread_;
};

struct JobRegistryOptions {
  int max_running_jobs = 4;
  // Finished jobs kept for ListRebuilds / WatchRebuild.
  int max_finished_jobs = 100;
};

class JobRegistry {
 public:
  // `on_finished` (optional) is called on the job's thread after it ended (logging).
  JobRegistry(Runner runner, JobRegistryOptions options,
              std::function<void(const Job&)> on_finished = nullptr);
  ~JobRegistry();  // cancels and joins every job

  // Creates and starts a job. ResourceExhausted when max_running_jobs run already; Aborted
  // when a running job shares a lock key; Unavailable after Shutdown began.
  absl::StatusOr<std::shared_ptr<Job>> Start(JobSpec spec);
  // NotFound for an unknown id.
  absl::StatusOr<std::shared_ptr<Job>> Find(const std::string& id) const;
  // Oldest first.
  std::vector<pb::JobInfo> List(bool running_only) const;
  // Cancels and waits (up to `timeout`) for the job to end; returns its info.
  absl::StatusOr<pb::JobInfo> Cancel(const std::string& id, std::chrono::milliseconds timeout);
  // Refuses new jobs, cancels the running ones (interrupted) and waits for them up to
  // `deadline`. Returns true when every job has ended.
  bool Shutdown(std::chrono::milliseconds deadline);
  // The first half of Shutdown: refuse new jobs and cancel the running ones, not waiting.
  void BeginShutdown();
  int running() const;

 private:
  void Evict();

  Runner runner_;
  JobRegistryOptions options_;
  std::function<void(const Job&)> on_finished_;
  mutable std::mutex mu_;
  bool shutting_down_ = false;
  uint64_t next_id_ = 1;
  std::vector<std::shared_ptr<Job>> jobs_;  // start order
};

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_JOB_REGISTRY_H_
