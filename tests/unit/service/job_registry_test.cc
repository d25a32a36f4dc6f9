// The job registry's concurrency with a stand-in runner (no engine, no storage).

#include "server/service/job_registry.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace protean_admin::service {
namespace {

using namespace std::chrono_literals;

JobSpec Spec(const std::string& projection) {
  JobSpec spec;
  spec.domain = ".";
  spec.projection = projection;
  spec.projections = {projection};
  spec.lock_keys = {"domain.toml#" + projection};
  return spec;
}

pb::RebuildEvent ProgressEvent(const std::string& projection, int64_t processed, int64_t total) {
  pb::RebuildEvent e;
  e.mutable_progress()->set_projection(projection);
  e.mutable_progress()->set_processed(processed);
  e.mutable_progress()->set_total(total);
  return e;
}

pb::RebuildResult Result(const std::string& projection, int64_t dispatched) {
  pb::RebuildResult r;
  r.set_projection_name(projection);
  r.set_events_dispatched(dispatched);
  r.set_success(true);
  return r;
}

// Reads every event of a job until it ends.
std::vector<pb::RebuildEvent> ReadAll(Job& job) {
  std::vector<pb::RebuildEvent> events;
  size_t cursor = 0;
  for (int i = 0; i < 500; ++i) {
    if (job.ReadEvents(&cursor, &events, 20ms)) return events;
  }
  ADD_FAILURE() << "job did not end";
  return events;
}

// A runner that waits for a release (or cancellation) between two progress events.
struct Gate {
  std::atomic<bool> released{false};
  std::atomic<int> started{0};
  Runner runner() {
    return [this](const JobSpec& spec, JobContext& ctx) -> absl::Status {
      started++;
      ctx.Emit(ProgressEvent(spec.projection, 1, 2));
      while (!released.load()) {
        if (ctx.cancelled()) return absl::CancelledError("Rebuild cancelled; rolled back");
        std::this_thread::sleep_for(2ms);
      }
      ctx.Emit(ProgressEvent(spec.projection, 2, 2));
      ctx.AddResult(Result(spec.projection, 2));
      return absl::OkStatus();
    };
  }
};

// `started` names the projections a cancel leaves partial instead of rolling back: all of
// them in place, else the cache-backed ones (always rebuilt in place).
TEST(JobRegistryTest, StartedNamesTheProjectionsRebuiltInPlace) {
  auto domain = std::make_shared<domain::Domain>();
  domain->projections.resize(2);
  domain->projections[0].name = "Balances";
  domain->projections[1].name = "Cached";
  domain->projections[1].cache = "default";
  JobSpec spec = Spec("Balances");
  spec.all = true;
  spec.projections = {"Balances", "Cached"};
  spec.loaded_domain = domain;
  Gate gate;
  gate.released = true;
  JobRegistry registry(gate.runner(), {});
  auto atomic = registry.Start(spec);
  ASSERT_TRUE(atomic.ok()) << atomic.status();
  auto events = ReadAll(**atomic);
  ASSERT_TRUE(events.front().has_started());
  EXPECT_THAT(events.front().started().inplace_projections(), ::testing::ElementsAre("Cached"));
  spec.strategy = pb::STRATEGY_INPLACE;
  spec.lock_keys = {"other"};
  auto inplace = registry.Start(spec);
  ASSERT_TRUE(inplace.ok()) << inplace.status();
  events = ReadAll(**inplace);
  EXPECT_THAT(events.front().started().inplace_projections(),
              ::testing::ElementsAre("Balances", "Cached"));
}

TEST(JobRegistryTest, RunsAJobAndStreamsItsEventsInOrder) {
  Gate gate;
  gate.released = true;
  JobRegistry registry(gate.runner(), {});
  auto job = registry.Start(Spec("Balances"));
  ASSERT_TRUE(job.ok()) << job.status();
  auto events = ReadAll(**job);
  ASSERT_GE(events.size(), 3u);
  EXPECT_TRUE(events.front().has_started());
  EXPECT_EQ(events.front().started().projections(0), "Balances");
  EXPECT_TRUE(events.back().has_result());
  EXPECT_EQ(events.back().result().events_dispatched(), 2);
  for (const auto& e : events) {
    EXPECT_EQ(e.job_id(), (*job)->id());
    EXPECT_GT(e.time_unix_ms(), 0);
  }
  EXPECT_TRUE((*job)->final_status().ok());
  pb::JobInfo info = (*job)->Info();
  EXPECT_EQ(info.state(), pb::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(info.results_size(), 1);
  EXPECT_GE(info.finished_unix_ms(), info.started_unix_ms());
}

TEST(JobRegistryTest, CancelEndsTheJobAndReturnsAfterItEnded) {
  Gate gate;
  JobRegistry registry(gate.runner(), {});
  auto job = registry.Start(Spec("Balances"));
  ASSERT_TRUE(job.ok());
  while (gate.started.load() == 0) std::this_thread::sleep_for(1ms);
  auto info = registry.Cancel((*job)->id(), 5s);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->state(), pb::JOB_STATE_CANCELLED);
  EXPECT_TRUE((*job)->done());
  EXPECT_EQ((*job)->final_status().code(), absl::StatusCode::kCancelled);
  auto events = ReadAll(**job);
  ASSERT_TRUE(events.back().has_failed());
  EXPECT_EQ(events.back().failed().code(), static_cast<int>(absl::StatusCode::kCancelled));
  EXPECT_THAT(events.back().failed().message(), ::testing::HasSubstr("rolled back"));
  EXPECT_EQ(registry.Cancel("nope", 1s).status().code(), absl::StatusCode::kNotFound);
}

TEST(JobRegistryTest, SameProjectionRunningIsAbortedAndAllowedAgainAfterwards) {
  Gate gate;
  JobRegistry registry(gate.runner(), {});
  auto first = registry.Start(Spec("Balances"));
  ASSERT_TRUE(first.ok());
  auto second = registry.Start(Spec("Balances"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(second.status().message()),
              ::testing::HasSubstr("'Balances' is already being rebuilt"));
  auto other = registry.Start(Spec("UserDirectory"));  // another projection runs alongside
  EXPECT_TRUE(other.ok()) << other.status();
  gate.released = true;
  ASSERT_TRUE((*first)->WaitDone(5s));
  ASSERT_TRUE((*other)->WaitDone(5s));
  auto third = registry.Start(Spec("Balances"));
  EXPECT_TRUE(third.ok()) << third.status();
  ASSERT_TRUE((*third)->WaitDone(5s));
}

TEST(JobRegistryTest, BoundOnRunningJobs) {
  Gate gate;
  JobRegistryOptions options;
  options.max_running_jobs = 2;
  JobRegistry registry(gate.runner(), options);
  ASSERT_TRUE(registry.Start(Spec("A")).ok());
  ASSERT_TRUE(registry.Start(Spec("B")).ok());
  auto third = registry.Start(Spec("C"));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(registry.running(), 2);
  gate.released = true;
}

TEST(JobRegistryTest, ADroppedWatcherDoesNotStopTheJobAndALateWatcherReplaysIt) {
  Gate gate;
  JobRegistry registry(gate.runner(), {});
  auto job = registry.Start(Spec("Balances"));
  ASSERT_TRUE(job.ok());
  {
    // A watcher reads a little and goes away.
    std::vector<pb::RebuildEvent> seen;
    size_t cursor = 0;
    (*job)->ReadEvents(&cursor, &seen, 100ms);
    EXPECT_FALSE(seen.empty());
  }
  EXPECT_FALSE((*job)->done());
  gate.released = true;
  ASSERT_TRUE((*job)->WaitDone(5s));
  EXPECT_EQ((*job)->Info().state(), pb::JOB_STATE_SUCCEEDED);
  // Watching after the end replays the whole history, latest progress only.
  auto events = ReadAll(**job);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[0].has_started());
  EXPECT_TRUE(events[1].has_progress());
  EXPECT_EQ(events[1].progress().processed(), 2);
  EXPECT_TRUE(events[2].has_result());
  auto found = registry.Find((*job)->id());
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->get(), job->get());
}

TEST(JobRegistryTest, SeveralWatchersSeeTheSameEvents) {
  Gate gate;
  JobRegistry registry(gate.runner(), {});
  auto job = registry.Start(Spec("Balances"));
  ASSERT_TRUE(job.ok());
  std::vector<pb::RebuildEvent> a, b;
  std::thread ta([&] { a = ReadAll(**job); });
  std::thread tb([&] { b = ReadAll(**job); });
  std::this_thread::sleep_for(30ms);
  gate.released = true;
  ta.join();
  tb.join();
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a.back().has_result());
  EXPECT_TRUE(b.back().has_result());
}

TEST(JobRegistryTest, RunnerErrorFailsTheJobWithItsCode) {
  JobRegistry registry(
      [](const JobSpec&, JobContext&) {
        return absl::FailedPreconditionError("Refusing to rebuild: running");
      },
      {});
  auto job = registry.Start(Spec("Balances"));
  ASSERT_TRUE(job.ok());
  auto events = ReadAll(**job);
  ASSERT_TRUE(events.back().has_failed());
  EXPECT_EQ(events.back().failed().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ((*job)->Info().state(), pb::JOB_STATE_FAILED);
  EXPECT_EQ((*job)->Info().error(), "Refusing to rebuild: running");
}

TEST(JobRegistryTest, AFailedProjectionResultFailsTheJob) {
  JobRegistry registry(
      [](const JobSpec&, JobContext& ctx) {
        pb::RebuildResult r;
        r.set_projection_name("X");
        r.add_errors("No projectors found for projection `X`");
        ctx.AddResult(r);
        return absl::OkStatus();
      },
      {});
  auto job = registry.Start(Spec("X"));
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE((*job)->WaitDone(5s));
  EXPECT_EQ((*job)->Info().state(), pb::JOB_STATE_FAILED);
  EXPECT_TRUE((*job)->final_status().ok());
}

TEST(JobRegistryTest, ProgressIsThrottledButTheFinalOneIsKept) {
  JobRegistry registry(
      [](const JobSpec&, JobContext& ctx) {
        for (int i = 1; i <= 10000; ++i) ctx.Emit(ProgressEvent("P", i, 10000));
        return absl::OkStatus();
      },
      {});
  auto job = registry.Start(Spec("P"));
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE((*job)->WaitDone(5s));
  // Read one event at a time would show every kept progress; count them via the history.
  size_t cursor = 0;
  std::vector<pb::RebuildEvent> events;
  (*job)->ReadEvents(&cursor, &events, 10ms);
  EXPECT_LT(cursor, 200u);  // far fewer than 10000 recorded
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back().progress().processed(), 10000);
  EXPECT_EQ((*job)->Info().processed(), 10000);
}

TEST(JobRegistryTest, ShutdownInterruptsRunningJobsAndRefusesNewOnes) {
  Gate gate;
  JobRegistry registry(gate.runner(), {});
  auto job = registry.Start(Spec("Balances"));
  ASSERT_TRUE(job.ok());
  while (gate.started.load() == 0) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(registry.Shutdown(5s));
  EXPECT_EQ((*job)->Info().state(), pb::JOB_STATE_INTERRUPTED);
  EXPECT_THAT(std::string((*job)->final_status().message()), ::testing::HasSubstr("shutting down"));
  EXPECT_EQ(registry.Start(Spec("Other")).status().code(), absl::StatusCode::kUnavailable);
}

TEST(JobRegistryTest, OldFinishedJobsAreEvicted) {
  JobRegistryOptions options;
  options.max_finished_jobs = 3;
  JobRegistry registry([](const JobSpec&, JobContext&) { return absl::OkStatus(); }, options);
  std::string first_id;
  for (int i = 0; i < 6; ++i) {
    auto job = registry.Start(Spec("P"));
    ASSERT_TRUE(job.ok()) << job.status();
    if (i == 0) first_id = (*job)->id();
    ASSERT_TRUE((*job)->WaitDone(5s));
  }
  EXPECT_LE(registry.List(false).size(), 4u);
  EXPECT_EQ(registry.Find(first_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(registry.List(true).empty());
}

}  // namespace
}  // namespace protean_admin::service
