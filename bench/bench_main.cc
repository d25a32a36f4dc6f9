// protean-bench: one benchmark run on one database (bench/README.md; bench/run.sh starts the
// scratch PostgreSQL and calls this once per size).
//
//   protean-bench --uri postgresql://.../db [--events N] [--sample 20000] [--batch-size 500]
//
// With --events, the workload is generated first (the database must hold the Message DB
// schema). Exits 1 when a method's Balances differ from the set-based floor's.

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "bench/runner.h"
#include "bench/workload.h"

#ifndef PROTEAN_BENCH_REBUILD_BIN
#define PROTEAN_BENCH_REBUILD_BIN ""
#endif
#ifndef PROTEAN_BENCH_DAEMON_BIN
#define PROTEAN_BENCH_DAEMON_BIN ""
#endif
#ifndef PROTEAN_BENCH_CLI_BIN
#define PROTEAN_BENCH_CLI_BIN ""
#endif
#ifndef PROTEAN_BENCH_DOMAIN_FILE
#define PROTEAN_BENCH_DOMAIN_FILE "bench/domain.toml"
#endif

int main(int argc, char** argv) {
  namespace bench = protean_admin::bench;
  CLI::App app{"protean-admin benchmark: engine rebuild vs set-based SQL vs per-event replay"};
  bench::RunnerOptions options;
  options.rebuild_bin = PROTEAN_BENCH_REBUILD_BIN;
  options.domain_file = PROTEAN_BENCH_DOMAIN_FILE;
  options.daemon_bin = PROTEAN_BENCH_DAEMON_BIN;
  options.cli_bin = PROTEAN_BENCH_CLI_BIN;
  int64_t events = 0;
  uint64_t seed = 1;
  app.add_option("--uri", options.uri, "database with the Message DB schema")->required();
  app.add_option("--events", events, "generate about this many events first (0: use as is)");
  app.add_option("--seed", seed, "workload seed");
  app.add_option("--sample", options.sample, "events replayed one transaction each (d)");
  app.add_option("--batch-size", options.batch_size, "engine batch size");
  app.add_option("--floor-runs", options.floor_runs, "runs of (c); the best counts");
  app.add_option("--action-runs", options.action_runs,
                 "runs of each (a) row; the best counts, each is checked");
  app.add_option("--domain-file", options.domain_file, "the benchmark's domain.toml");
  app.add_option("--rebuild-bin", options.rebuild_bin, "rebuild_bench (empty: skip a and b)");
  app.add_option("--daemon-bin", options.daemon_bin, "protean-admind (empty: skip a via daemon)");
  app.add_option("--cli-bin", options.cli_bin, "protean-admin (empty: skip a via daemon)");
  CLI11_PARSE(app, argc, argv);

  if (events > 0) {
    bench::WorkloadOptions workload = bench::SizesForEvents(events);
    workload.seed = seed;
    auto summary = bench::GenerateHistory(options.uri, workload);
    if (!summary.ok()) {
      std::fprintf(stderr, "protean-bench: %s\n", summary.status().ToString().c_str());
      return 1;
    }
    std::printf(
        "generated %lld events (%lld users, %lld transactions, %lld at v1, %lld profile "
        "updates, %lld unknown) in %.1f s (%.0f events/s)\n",
        static_cast<long long>(summary->events), static_cast<long long>(summary->users),
        static_cast<long long>(summary->transactions),
        static_cast<long long>(summary->transactions_v1),
        static_cast<long long>(summary->profile_updates),
        static_cast<long long>(summary->unknown_events), summary->seconds,
        summary->events / std::max(summary->seconds, 1e-9));
    std::fflush(stdout);
  }
  auto report = bench::RunBenchmark(options);
  if (!report.ok()) {
    std::fprintf(stderr, "protean-bench: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::printf("%s", bench::FormatReport(*report).c_str());
  return report->AllCorrect() ? 0 : 1;
}
