#ifndef PROTEAN_ADMIN_BENCH_RUNNER_H_
#define PROTEAN_ADMIN_BENCH_RUNNER_H_

// One benchmark run (issue 6) on one database that already holds the workload:
//   (c) set-based SQL floor (best of `floor_runs`), the reference for every check;
//   (a) engine rebuild, action form (best of `action_runs`); (b) engine rebuild, SQL form —
//       each in a separate rebuild_bench process (its peak RSS measured with wait4);
//   (d) per-event-transaction replay on the first `sample` events, checked against the
//       floor computed on the same prefix, reported as a rate;
//   (a) again through a real protean-admind started for it and `protean-admin rebuild`,
//       timed around the CLI (best of `action_runs`); its peak RSS is the daemon's (VmHWM,
//       read before it stops).
// A method's time counts only when its table equals the floor's (EXCEPT both ways, exact).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/workload.h"
#include "common/batch_size.h"

namespace protean_admin::bench {

struct RunnerOptions {
  std::string uri;          // the database: message_store schema + history, balances tables
  WorkloadOptions names;    // only the naming fields are used (domain, categories)
  std::string rebuild_bin;  // rebuild_bench; empty: (a) and (b) are reported as pending
  std::string domain_file;  // bench/domain.toml
  // protean-admind and protean-admin: (a) once more through the daemon and the CLI, for the
  // daemon's peak RSS (empty: that row is not run).
  std::string daemon_bin;
  std::string cli_bin;
  int batch_size = kDefaultBatchSize;
  int64_t sample = 20000;  // events replayed by (d)
  int floor_runs = 2;
  int action_runs = 2;  // of each (a) row: the fastest counts, every run is checked
};

struct MethodResult {
  std::string label;     // "(a) engine, action form"
  bool ran = false;      // false: pending or failed before a result (see note)
  bool correct = false;  // table equal to the floor's
  int64_t differences = -1;
  double seconds = 0;
  int64_t events = 0;      // events the method read
  long peak_rss_kib = -1;  // -1: not applicable
  int64_t dispatched = -1;
  int64_t skipped = -1;
  std::string note;
  double rate() const { return seconds > 0 ? events / seconds : 0; }
};

struct BenchmarkReport {
  int64_t events = 0;                 // events in the projection's categories
  int64_t users = 0;                  // rows of Balances
  std::vector<MethodResult> methods;  // a, a via the daemon, b, c, c0, d
  bool AllCorrect() const;            // every method that ran is correct
};

absl::StatusOr<BenchmarkReport> RunBenchmark(const RunnerOptions& options);

// The results table (events/s, time, ratio to (c), rate ratio to (d), peak RSS, check).
std::string FormatReport(const BenchmarkReport& report);

}  // namespace protean_admin::bench

#endif  // PROTEAN_ADMIN_BENCH_RUNNER_H_
