// protean-shadow-bench: the shadow scenario of bench/README.md (issue 17) on one database.
//
//   protean-shadow-bench --uri postgresql://.../db [--events N] [--batch-size 500] [--rate 200]
//
// The live Balances table (bench/domain.toml, instance "action") starts as the reference at
// the initial head. A fake Protean event server answers /livez and a writer appends
// Transacted events at --rate per second while protean-admind builds the shadow
// (`protean-admin rebuild --strategy=shadow`); when the CLI reports the waiting phase the
// writer stops (the application stops writing) and the event server is stopped; the daemon
// then catches up and swaps. Reports the phases' times and the server-stopped window, and
// checks the rows after the swap against the reference at the final head (H2). Exits 1 when
// they differ or the rebuild fails.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/baselines.h"
#include "bench/process.h"
#include "bench/workload.h"
#include "storage/pg_connection.h"

#ifndef PROTEAN_BENCH_DAEMON_BIN
#define PROTEAN_BENCH_DAEMON_BIN ""
#endif
#ifndef PROTEAN_BENCH_CLI_BIN
#define PROTEAN_BENCH_CLI_BIN ""
#endif
#ifndef PROTEAN_BENCH_DOMAIN_FILE
#define PROTEAN_BENCH_DOMAIN_FILE "bench/domain.toml"
#endif

namespace protean_admin::bench {
namespace {

using Clock = std::chrono::steady_clock;
using storage::PgConnection;

constexpr char kLiveTable[] = "balances_action";  // bench/domain.toml, instance "action"
constexpr char kReferenceTable[] = "balances_reference";
constexpr char kWaitingLine[] = "waiting for the event server to stop";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Answers every HTTP request with 200 on a free loopback port until destroyed: Protean's
// event server as the guard sees it.
class FakeEventServer {
 public:
  FakeEventServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd pfd{fd_, POLLIN, 0};
        if (poll(&pfd, 1, 20) <= 0) continue;
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        char buf[2048];
        recv(c, buf, sizeof(buf), 0);
        const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
        send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
        close(c);
      }
    });
  }
  ~FakeEventServer() { Stop(); }
  void Stop() {
    if (stop_.exchange(true)) return;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Appends `rate` Transacted.v2 events per second (amounts with two decimals, users of the
// live table) in streams of their own, as the application's command side would, until
// stopped.
class Writer {
 public:
  Writer(const std::string& uri, const BankNames& names, int rate) {
    thread_ = std::thread([this, uri, names, rate] { Run(uri, names, rate); });
  }
  ~Writer() { Stop(); }
  int64_t Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return written_.load();
  }
  bool failed() const { return failed_.load(); }

 private:
  void Run(const std::string& uri, const BankNames& names, int rate) {
    auto conn = PgConnection::Connect(uri);
    if (!conn.ok()) {
      failed_ = true;
      return;
    }
    auto users = conn->Exec(
        absl::StrCat("SELECT user_id FROM ", kLiveTable, " ORDER BY user_id LIMIT 1000"));
    if (!users.ok() || users->rows() == 0) {
      failed_ = true;
      return;
    }
    std::mt19937_64 random(42);
    const Clock::time_point start = Clock::now();
    const auto period = std::chrono::microseconds(1000000 / std::max(1, rate));
    for (int64_t n = 0; !stop_.load(); ++n) {
      std::this_thread::sleep_until(start + n * period);
      const std::string user(users->Get(static_cast<int>(random() % users->rows()), 0));
      const std::string amount =
          absl::StrFormat("%.2f", static_cast<int>(random() % 20001 - 10000) / 100.0);
      auto r = conn->ExecParams(
          "SELECT message_store.write_message(gen_random_uuid()::text, $1 || '-' || "
          "gen_random_uuid()::text, $2, jsonb_build_object('user_id', $3::text, 'amount', "
          "$4::numeric, 'currency', 'USD'), '{}'::jsonb)",
          {names.transaction_category, names.transacted_v2, user, amount});
      if (!r.ok()) {
        failed_ = true;
        return;
      }
      written_.fetch_add(1);
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> written_{0};
  std::thread thread_;
};

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The number after `marker` on the line holding `line_marker` in `log`, -1 when absent.
int64_t NumberAfter(const std::string& log, const std::string& line_marker,
                    const std::string& marker) {
  size_t line = log.find(line_marker);
  if (line == std::string::npos) return -1;
  size_t begin = log.rfind('\n', line);
  begin = begin == std::string::npos ? 0 : begin;
  size_t at = log.find(marker, begin);
  if (at == std::string::npos) return -1;
  return std::strtoll(log.c_str() + at + marker.size(), nullptr, 10);
}

struct Options {
  std::string uri;
  std::string daemon_bin = PROTEAN_BENCH_DAEMON_BIN;
  std::string cli_bin = PROTEAN_BENCH_CLI_BIN;
  std::string domain_file = PROTEAN_BENCH_DOMAIN_FILE;
  int batch_size = 500;
  int rate = 200;
};

struct ShadowRun {
  double build_s = 0;             // the CLI's start to the waiting phase
  double stop_s = 0;              // the waiting phase seen to the server stopped
  double window_s = 0;            // the server stopped to the CLI's end
  int64_t waited_ms = -1;         // the daemon: waiting phase to the guard going quiet
  int64_t daemon_window_ms = -1;  // the daemon: the guard going quiet to the swap's commit
  int64_t swap_ms = -1;           // the daemon: the swap transaction
  int64_t swapped_rows = -1;
  int64_t appended = 0;  // events the writer appended
  int cli_exit = -1;
  std::string cli_log;
};

// Starts protean-admind on a Unix socket in `dir` serving `dir`/shadow.toml; waits until it
// answers.
absl::StatusOr<pid_t> StartDaemon(const Options& options, const std::filesystem::path& dir,
                                  const std::string& server) {
  auto pid = SpawnChild({options.daemon_bin, "--listen", server, "--domain-root", dir.string()},
                        {{"MESSAGE_DB_URL", options.uri}, {"DATABASE_URL", options.uri}},
                        (dir / "admind.log").string());
  if (!pid.ok()) return pid;
  for (int i = 0; i < 200; ++i) {
    auto jobs = RunChild({options.cli_bin, "jobs", "--server", server}, /*quiet=*/true);
    if (jobs.ok() && jobs->exit_code == 0) return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(*pid, SIGTERM);
  waitpid(*pid, nullptr, 0);
  return absl::UnavailableError("protean-admind did not answer within 10 s");
}

// The rebuild: the CLI in the background, the writer and the event server stopped when it
// reports the waiting phase, then its end awaited.
absl::StatusOr<ShadowRun> RunShadow(const Options& options, const std::filesystem::path& dir,
                                    const std::string& server, FakeEventServer& event_server,
                                    Writer& writer) {
  ShadowRun run;
  const std::string cli_log = (dir / "cli.log").string();
  const Clock::time_point started = Clock::now();
  auto cli = SpawnChild({options.cli_bin, "rebuild", "--server", server, "--domain",
                         "shadow.toml:action", "--projection", "Balances", "--strategy=shadow",
                         "--batch-size", std::to_string(options.batch_size)},
                        {}, cli_log);
  if (!cli.ok()) return cli.status();
  int status = 0;
  bool exited = false;
  while (ReadText(cli_log).find(kWaitingLine) == std::string::npos) {
    if (waitpid(*cli, &status, WNOHANG) == *cli) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const Clock::time_point waiting = Clock::now();
  run.appended = writer.Stop();
  event_server.Stop();
  const Clock::time_point stopped = Clock::now();
  if (!exited) waitpid(*cli, &status, 0);
  const Clock::time_point done = Clock::now();
  run.cli_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.cli_log = ReadText(cli_log);
  run.build_s = Seconds(waiting - started);
  run.stop_s = Seconds(stopped - waiting);
  run.window_s = Seconds(done - stopped);
  const std::string log = ReadText((dir / "admind.log").string());
  run.waited_ms = NumberAfter(log, "the event server is stopped after", "stopped after ");
  run.daemon_window_ms = NumberAfter(log, "has been stopped for", "has been stopped for ");
  run.swap_ms = NumberAfter(log, "has been stopped for", " in ");
  run.swapped_rows = NumberAfter(log, "has been stopped for", "(");  // "(N rows written"
  return run;
}

// The rows after the swap against the reference at the final head (H2: the writer stopped
// before the server did, so nothing was written after it), then the results row.
absl::StatusOr<int> Report(PgConnection& conn, const BankNames& names, const Timing& live,
                           int64_t h0_events, int rate, const ShadowRun& run) {
  absl::Status created = CreateBalancesTable(conn, kReferenceTable);
  if (!created.ok()) return created;
  auto reference =
      RunSetBasedFloor(conn, names, kReferenceTable, FloorForm::kOrderedAggregate, std::nullopt);
  if (!reference.ok()) return reference.status();
  auto differences = CountDifferences(conn, kLiveTable, kReferenceTable);
  if (!differences.ok()) return differences.status();
  const auto ms = [](int64_t v) { return v < 0 ? std::string("?") : absl::StrCat(v); };
  std::printf(
      "%lld events at the start, %lld Balances rows; %lld events appended during the build "
      "(%d/s)\n\n"
      "| build (s) | waiting -> server stopped (s) | daemon: guard quiet -> commit (ms) | swap "
      "(ms) | catch-up (ms) | server stopped -> CLI done (s) | rows written | Balances vs (c0) "
      "at H2 "
      "|\n|---:|---:|---:|---:|---:|---:|---:|---|\n",
      static_cast<long long>(h0_events), static_cast<long long>(live.rows),
      static_cast<long long>(run.appended), rate);
  const int64_t catch_up =
      run.daemon_window_ms >= 0 && run.swap_ms >= 0 ? run.daemon_window_ms - run.swap_ms : -1;
  std::printf(
      "| %.3f | %.3f | %s | %s | %s | %.3f | %lld | %s |\n", run.build_s, run.stop_s,
      ms(run.daemon_window_ms).c_str(), ms(run.swap_ms).c_str(), ms(catch_up).c_str(), run.window_s,
      static_cast<long long>(run.swapped_rows),
      *differences == 0 ? "equal" : absl::StrCat("WRONG (", *differences, " rows differ)").c_str());
  std::printf("\nwaited %s ms for the guard to see the server stopped (poll interval 500 ms)\n",
              ms(run.waited_ms).c_str());
  return *differences == 0 ? 0 : 1;
}

// Live table at the initial head, domain file with the fake server's port, daemon, writer,
// rebuild, check. Returns the process's exit code.
absl::StatusOr<int> Bench(const Options& options, PgConnection& conn, const BankNames& names) {
  absl::Status created = CreateBalancesTable(conn, kLiveTable);
  if (!created.ok()) return created;
  auto live = RunSetBasedFloor(conn, names, kLiveTable, FloorForm::kOrderedAggregate, std::nullopt);
  if (!live.ok()) return live.status();
  auto h0_events = CountEvents(conn, names, std::nullopt);
  if (!h0_events.ok()) return h0_events.status();

  FakeEventServer event_server;
  std::error_code ec;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path(ec) / absl::StrCat("protean-shadow-bench-", getpid());
  std::filesystem::create_directories(dir, ec);
  std::ofstream(dir / "shadow.toml")
      << ReadText(options.domain_file) << "\n[domains.action.server.health]\n"
      << "host = \"127.0.0.1\"\nport = " << event_server.port() << "\n";
  const std::string server = absl::StrCat("unix:", (dir / "admind.sock").string());
  auto daemon = StartDaemon(options, dir, server);
  if (!daemon.ok()) return daemon.status();
  Writer writer(options.uri, names, options.rate);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the live table drifts
  auto run = RunShadow(options, dir, server, event_server, writer);
  kill(*daemon, SIGTERM);
  waitpid(*daemon, nullptr, 0);
  std::filesystem::remove_all(dir, ec);
  if (!run.ok()) return run.status();
  if (writer.failed()) return absl::InternalError("the writer failed to append events");
  if (run->cli_exit != 0) {
    std::printf("protean-admin rebuild failed (exit %d):\n%s\n", run->cli_exit,
                run->cli_log.c_str());
    return 1;
  }
  return Report(conn, names, *live, *h0_events, options.rate, *run);
}

}  // namespace
}  // namespace protean_admin::bench

int main(int argc, char** argv) {
  namespace bench = protean_admin::bench;
  CLI::App app{"protean-admin shadow benchmark: the server-stopped window of --strategy=shadow"};
  bench::Options options;
  int64_t events = 0;
  uint64_t seed = 1;
  app.add_option("--uri", options.uri, "database with the Message DB schema")->required();
  app.add_option("--events", events, "generate about this many events first (0: use as is)");
  app.add_option("--seed", seed, "workload seed");
  app.add_option("--batch-size", options.batch_size, "engine batch size");
  app.add_option("--rate", options.rate, "events the writer appends per second");
  app.add_option("--domain-file", options.domain_file, "the benchmark's domain.toml");
  app.add_option("--daemon-bin", options.daemon_bin, "protean-admind");
  app.add_option("--cli-bin", options.cli_bin, "protean-admin");
  CLI11_PARSE(app, argc, argv);
  bench::WorkloadOptions workload = bench::SizesForEvents(std::max<int64_t>(events, 1000));
  workload.seed = seed;
  if (events > 0) {
    auto summary = bench::GenerateHistory(options.uri, workload);
    if (!summary.ok()) {
      std::fprintf(stderr, "protean-shadow-bench: %s\n", summary.status().ToString().c_str());
      return 1;
    }
  }
  auto conn = protean_admin::storage::PgConnection::Connect(options.uri);
  if (!conn.ok()) {
    std::fprintf(stderr, "protean-shadow-bench: %s\n", conn.status().ToString().c_str());
    return 1;
  }
  auto code = bench::Bench(options, *conn, bench::NamesFor(workload));
  if (!code.ok()) {
    std::fprintf(stderr, "protean-shadow-bench: %s\n", code.status().ToString().c_str());
    return 1;
  }
  return *code;
}
