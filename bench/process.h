#ifndef PROTEAN_ADMIN_BENCH_PROCESS_H_
#define PROTEAN_ADMIN_BENCH_PROCESS_H_

// Child processes of the benchmark drivers (bench/runner.cc, bench/shadow_bench.cc).

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace protean_admin::bench {

struct ChildResult {
  int exit_code = -1;
  std::string out;
  long maxrss_kib = -1;
};

// Runs argv[0] with stdout captured (stderr discarded when `quiet`) to its end; its peak RSS
// comes from wait4 (the child's own).
absl::StatusOr<ChildResult> RunChild(const std::vector<std::string>& args, bool quiet = false);

// Starts argv[0] in the background with `env` added to its environment and its output
// (stdout and stderr) appended to `log`. Returns its pid.
absl::StatusOr<pid_t> SpawnChild(const std::vector<std::string>& args,
                                 const std::vector<std::pair<std::string, std::string>>& env,
                                 const std::string& log);

// The peak resident set of a running process (VmHWM of /proc/PID/status), in KiB.
long PeakRssOf(pid_t pid);

}  // namespace protean_admin::bench

#endif  // PROTEAN_ADMIN_BENCH_PROCESS_H_
