#ifndef PROTEAN_ADMIN_TESTS_E2E_E2E_SUPPORT_H_
#define PROTEAN_ADMIN_TESTS_E2E_E2E_SUPPORT_H_

// Processes for the e2e tests: the daemon, CLI runs, a tiny HTTP server standing in for
// Protean's health endpoint, free ports, temporary directories and the test domain. The
// targets compiling this file define PROTEAN_ADMIND_BINARY and PROTEAN_ADMIN_CLI_BINARY.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "storage/pg_connection.h"
#include "tests/harness/ports.h"

namespace protean_admin::e2e {

using testing::FreePort;

// mkdtemp under /tmp; removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  void Write(const std::string& relative, const std::string& text) const;

 private:
  std::string path_;
};

// A child process with stdout and stderr captured to files. When a child exits (reaped by
// Wait) with a sanitizer report (ASan, LSan, UBSan) on its stderr, the running test gets a
// non-fatal failure quoting it: the daemon's exit code is rarely checked, and a CLI's
// ASan exit code 1 is also its ordinary error code, so neither would show the report.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
          const std::string& capture_dir);
  ~Process();  // SIGKILLs and reaps if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // Waits up to `timeout`; returns the exit code (128+signal when killed), -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  bool running();
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  std::string program_;
  std::string out_path_;
  std::string err_path_;
};

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// protean-admind serving one domain root (--shutdown-deadline 15, --probe-timeout-ms 500),
// and the protean-admin CLI pointed at it. Stopped (SIGTERM) on destruction.
class Daemon {
 public:
  Daemon(std::string domain_root, std::string capture_dir);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts on `host`:<free port> with `extra_args` and waits until it accepts TCP
  // connections on 127.0.0.1. False when it exited instead or did not listen within 20 s
  // (process() keeps its output).
  bool Start(const std::vector<std::string>& extra_args = {},
             const std::string& host = "127.0.0.1");
  // SIGTERM, then waits up to 20 s: the exit code, -1 on timeout, 0 when not started.
  int Stop();
  bool running() const { return process_ != nullptr && process_->running(); }
  // The last started process; Start() must have been called.
  Process& process() const { return *process_; }
  int port() const { return port_; }
  const std::string& server() const { return server_; }  // "127.0.0.1:<port>"

  // The CLI with `args`. --server=server() is added unless `args` or `env` name a server;
  // PROTEAN_ADMIN_SERVER, PROTEAN_DOMAIN and PROTEAN_ADMIN_TOKEN are cleared unless `env`
  // sets them.
  std::unique_ptr<Process> SpawnCli(const std::vector<std::string>& args,
                                    std::map<std::string, std::string> env = {}) const;
  // SpawnCli run to its end (at most 120 s).
  CliRun Cli(const std::vector<std::string>& args,
             std::map<std::string, std::string> env = {}) const;
  // Waits (up to 10 s) until `jobs` lists job `job_id` with replay progress (processed > 0).
  bool WaitForReplay(const std::string& job_id) const;

 private:
  std::string domain_root_;
  std::string capture_dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
  std::string server_;
};

// Protean's "Test" bank domain (docs/protean-compatibility.md §7) as domain.toml: aggregates User
// and Transaction, events Registered and Transacted, the Balances projection and its action-form
// TransactionProjector; event store and database at `uri`, the event server's health
// endpoint at 127.0.0.1:`health_port`. `extra` is appended (events, projections,
// projectors, caches, upcasters).
struct TestDomain {
  std::string uri = "";
  int health_port = 0;
  std::string balances_cache = "";  // the cache Balances lives in; empty: the database
  std::string balances_table = "";  // Balances' table; empty: balances
  int transacted_version = 1;
  std::string extra = "";
};
std::string TestDomainToml(const TestDomain& domain);

// The UserDirectory projection, and its SQL-form projector (on Registered), as domain.toml to
// append to the test domain.
extern const char kUserDirectoryProjection[];
extern const char kUserDirectoryProjector[];

// A projector that makes a rebuild of Balances last long enough for a test to act while it
// runs, whatever the machine's speed: each Paced event (WritePacedEvents) sleeps 2 ms on the
// server.
extern const char kPacingProjector[];

// History of the test domain, one statement each: `users` Registered events (user_id u<n>,
// email, name) and `transactions` Transacted events of 1.0 spread over them (1000 streams).
absl::Status WriteTestHistory(storage::PgConnection& conn, int users, int transactions);
// `count` Paced events (kPacingProjector), after everything written so far.
absl::Status WritePacedEvents(storage::PgConnection& conn, int count);

// One row of protean_admin.rebuilds as "state|requested_by|events_dispatched|errors|finished"
// (finished: true/false), "<none>" or "<error: ...>".
std::string AuditRow(storage::PgConnection& conn, const std::string& job_id);

// Answers every HTTP request with `status_line` ("HTTP/1.1 200 OK") until destroyed.
class HealthServer {
 public:
  HealthServer(int port, std::string status_line);
  ~HealthServer();
  int requests() const { return requests_.load(); }

 private:
  int fd_ = -1;
  std::string status_line_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

std::string ReadFileText(const std::string& path);
std::vector<std::string> Lines(const std::string& text);
// The objects of `jobs --json` output (one JSON line each) by their job_id; other lines are
// skipped.
std::map<std::string, nlohmann::json> JobsById(const std::string& json_lines);

}  // namespace protean_admin::e2e

#endif  // PROTEAN_ADMIN_TESTS_E2E_E2E_SUPPORT_H_
