#include "server/service/job_registry.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/time_util.h"

namespace protean_admin::service {
namespace {

constexpr std::chrono::milliseconds kProgressInterval{100};

// Whether the job rebuilds `projection` in place (the engine always does for cache-backed
// projections).
bool RebuiltInPlace(const JobSpec& spec, const std::string& projection) {
  if (spec.strategy == pb::STRATEGY_INPLACE) return true;
  if (spec.loaded_domain == nullptr) return false;
  const domain::Projection* p = spec.loaded_domain->FindProjection(projection);
  return p != nullptr && p->cache_backed();
}

}  // namespace

// ---- JobContext ----

const rebuild::CancellationToken& JobContext::cancel_token() const { return job_->cancel_; }

const std::string& JobContext::job_id() const { return job_->id_; }

void JobContext::Emit(pb::RebuildEvent event) {
  std::lock_guard<std::mutex> lock(job_->mu_);
  if (event.has_progress()) {
    const pb::Progress& p = event.progress();
    auto now = std::chrono::steady_clock::now();
    auto it = job_->last_progress_.find(p.projection());
    bool final = p.total() > 0 && p.processed() >= p.total();
    if (!final && it != job_->last_progress_.end() && now - it->second < kProgressInterval) {
      job_->processed_ = p.processed();
      job_->total_ = p.total();
      return;
    }
    job_->last_progress_[p.projection()] = now;
    job_->processed_ = p.processed();
    job_->total_ = p.total();
  }
  if (event.has_phase()) job_->waiting_since_unix_ms_ = event.phase().since_unix_ms();
  job_->EmitLocked(std::move(event));
}

void JobContext::AddResult(const pb::RebuildResult& result) {
  std::lock_guard<std::mutex> lock(job_->mu_);
  job_->results_.push_back(result);
  pb::RebuildEvent event;
  *event.mutable_result() = result;
  job_->EmitLocked(std::move(event));
}

// ---- Job ----

Job::Job(std::string id, JobSpec spec) : id_(std::move(id)), spec_(std::move(spec)) {
  started_unix_ms_ = NowUnixMs();
}

Job::~Job() {
  cancel_.Cancel();
  if (thread_.joinable()) thread_.join();
}

void Job::EmitLocked(pb::RebuildEvent event) {
  event.set_job_id(id_);
  if (event.time_unix_ms() == 0) event.set_time_unix_ms(NowUnixMs());
  events_.push_back(std::move(event));
  cv_.notify_all();
}

void Job::Run(const Runner& runner) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pb::RebuildEvent event;
    pb::JobStarted* started = event.mutable_started();
    started->set_all(spec_.all);
    started->set_domain(spec_.domain);
    for (const std::string& p : spec_.projections) {
      started->add_projections(p);
      if (RebuiltInPlace(spec_, p)) started->add_inplace_projections(p);
    }
    EmitLocked(std::move(event));
  }
  JobContext context(this);
  absl::Status status;
  try {
    status = runner(spec_, context);
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("rebuild failed unexpectedly: ", e.what()));
  }
  Finish(status);
}

void Job::Finish(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  final_status_ = status;
  finished_unix_ms_ = NowUnixMs();
  if (status.ok()) {
    bool all_ok = std::all_of(results_.begin(), results_.end(),
                              [](const pb::RebuildResult& r) { return r.success(); });
    state_ = all_ok ? pb::JOB_STATE_SUCCEEDED : pb::JOB_STATE_FAILED;
  } else {
    if (status.code() == absl::StatusCode::kCancelled) {
      state_ = interrupted_ ? pb::JOB_STATE_INTERRUPTED : pb::JOB_STATE_CANCELLED;
    } else {
      state_ = pb::JOB_STATE_FAILED;
    }
    if (status.code() == absl::StatusCode::kCancelled && interrupted_) {
      final_status_ = absl::CancelledError(
          absl::StrCat("Interrupted: protean-admind is shutting down (", status.message(), ")"));
    }
    pb::RebuildEvent event;
    event.mutable_failed()->set_code(static_cast<int>(final_status_.code()));
    event.mutable_failed()->set_message(std::string(final_status_.message()));
    EmitLocked(std::move(event));
  }
}

bool Job::ReadEvents(size_t* cursor, std::vector<pb::RebuildEvent>* out,
                     std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return *cursor < events_.size() || done_; });
  size_t end = events_.size();
  for (size_t i = *cursor; i < end; ++i) {
    const pb::RebuildEvent& event = events_[i];
    if (event.has_progress()) {
      bool superseded = false;
      for (size_t j = i + 1; j < end; ++j) {
        if (events_[j].has_progress() &&
            events_[j].progress().projection() == event.progress().projection()) {
          superseded = true;
          break;
        }
      }
      if (superseded) continue;
    }
    out->push_back(event);
  }
  *cursor = end;
  return done_ && *cursor == events_.size();
}

void Job::RequestCancel(bool interrupted) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    if (interrupted) interrupted_ = true;
  }
  cancel_.Cancel();
}

bool Job::WaitDone(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return done_; });
}

bool Job::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

absl::Status Job::final_status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return final_status_;
}

pb::JobInfo Job::Info() const {
  std::lock_guard<std::mutex> lock(mu_);
  pb::JobInfo info;
  info.set_job_id(id_);
  info.set_domain(spec_.domain);
  info.set_projection(spec_.projection);
  info.set_all(spec_.all);
  info.set_strategy(spec_.strategy);
  info.set_state(state_);
  info.set_requested_by(spec_.requested_by);
  info.set_peer(spec_.peer);
  info.set_started_unix_ms(started_unix_ms_);
  info.set_finished_unix_ms(finished_unix_ms_);
  for (const pb::RebuildResult& r : results_) *info.add_results() = r;
  if (!final_status_.ok()) info.set_error(std::string(final_status_.message()));
  info.set_processed(processed_);
  info.set_total(total_);
  info.set_waiting_since_unix_ms(waiting_since_unix_ms_);
  return info;
}

// ---- JobRegistry ----

JobRegistry::JobRegistry(Runner runner, JobRegistryOptions options,
                         std::function<void(const Job&)> on_finished)
    : runner_(std::move(runner)), options_(options), on_finished_(std::move(on_finished)) {
  std::random_device rd;
  next_id_ = (static_cast<uint64_t>(rd()) & 0xffff) << 16;
}

JobRegistry::~JobRegistry() {
  Shutdown(std::chrono::hours(24));
  std::vector<std::shared_ptr<Job>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs.swap(jobs_);
  }
  jobs.clear();  // joins
}

int JobRegistry::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& job : jobs_) n += job->done() ? 0 : 1;
  return n;
}

void JobRegistry::Evict() {
  // Called with mu_ held: drop the oldest finished jobs beyond the limit.
  int finished = 0;
  for (const auto& job : jobs_) finished += job->done() ? 1 : 0;
  for (auto it = jobs_.begin(); it != jobs_.end() && finished > options_.max_finished_jobs;) {
    if ((*it)->done()) {
      it = jobs_.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

absl::StatusOr<std::shared_ptr<Job>> JobRegistry::Start(JobSpec spec) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return absl::UnavailableError("protean-admind is shutting down");
  int running = 0;
  for (const auto& job : jobs_) {
    if (job->done()) continue;
    ++running;
    for (const std::string& key : spec.lock_keys) {
      const auto& keys = job->spec().lock_keys;
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
        std::string name = key.substr(key.rfind('#') + 1);
        return absl::AbortedError(
            absl::StrCat("Projection '", name, "' is already being rebuilt (job ", job->id(), ")"));
      }
    }
  }
  if (running >= options_.max_running_jobs) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many rebuild jobs running (", running,
                                                     " of at most ", options_.max_running_jobs,
                                                     "); try again later"));
  }
  Evict();
  std::string id = absl::StrFormat("%08x", next_id_++);
  auto job = std::make_shared<Job>(id, std::move(spec));
  Job* raw = job.get();
  Runner runner = runner_;
  auto on_finished = on_finished_;
  job->thread_ = std::thread([raw, runner, on_finished] {
    raw->Run(runner);
    if (on_finished) on_finished(*raw);
    std::lock_guard<std::mutex> lock(raw->mu_);
    raw->done_ = true;
    raw->cv_.notify_all();
  });
  jobs_.push_back(job);
  return job;
}

absl::StatusOr<std::shared_ptr<Job>> JobRegistry::Find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& job : jobs_) {
    if (job->id() == id) return job;
  }
  return absl::NotFoundError(absl::StrCat("No rebuild job '", id, "'"));
}

std::vector<pb::JobInfo> JobRegistry::List(bool running_only) const {
  std::vector<std::shared_ptr<Job>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs = jobs_;
  }
  std::vector<pb::JobInfo> out;
  for (const auto& job : jobs) {
    if (running_only && job->done()) continue;
    out.push_back(job->Info());
  }
  return out;
}

absl::StatusOr<pb::JobInfo> JobRegistry::Cancel(const std::string& id,
                                                std::chrono::milliseconds timeout) {
  absl::StatusOr<std::shared_ptr<Job>> job = Find(id);
  if (!job.ok()) return job.status();
  (*job)->RequestCancel(false);
  if (!(*job)->WaitDone(timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("Job ", id, " was asked to cancel but has not ended yet"));
  }
  return (*job)->Info();
}

void JobRegistry::BeginShutdown() {
  std::vector<std::shared_ptr<Job>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    jobs = jobs_;
  }
  for (const auto& job : jobs) job->RequestCancel(true);
}

bool JobRegistry::Shutdown(std::chrono::milliseconds deadline) {
  BeginShutdown();
  std::vector<std::shared_ptr<Job>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs = jobs_;
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  bool all_done = true;
  for (const auto& job : jobs) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    if (!job->WaitDone(left)) all_done = false;
  }
  return all_done;
}

}  // namespace protean_admin::service
