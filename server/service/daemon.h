#ifndef PROTEAN_ADMIN_SERVER_SERVICE_DAEMON_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_DAEMON_H_

// protean-admind as a library, in the shape of TensorFlow Serving's model_servers/server.h:
// DaemonOptions in, a serving Daemon out. server/main.cc parses the flags into DaemonOptions,
// starts the daemon, and turns signals into calls (SIGHUP: ReloadTokens; SIGTERM, SIGINT:
// Shutdown, then Wait).
//
// What a started daemon holds: the token store (--auth-token-file), the audit trail
// (audit_trail.h), the job registry whose jobs run the engine (MakeDaemonJobRegistry,
// engine_runner.h), the ProjectionAdmin service (admin_service.h) on --listen and
// --unix-socket, and the health-only listener (--health-listen).

#include <grpcpp/server.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/rebuild/rebuild.h"
#include "server/service/admin_service.h"
#include "server/service/audit_trail.h"
#include "server/service/auth.h"
#include "server/service/job_registry.h"
#include "server/service/server_guard.h"
#include "server/service/tls_config.h"

namespace protean_admin::service {

// The daemon's configuration, one field a flag (README.md and `protean-admind --help`).
struct DaemonOptions {
  std::string listen = "127.0.0.1:50051";      // --listen: host:port or unix:PATH
  std::string unix_socket;                     // --unix-socket: PATH or unix:PATH; "" for none
  std::string health_listen;                   // --health-listen; "" for none
  ServerTlsOptions tls;                        // --tls-cert, --tls-key, --tls-client-ca
  std::string token_file;                      // --auth-token-file; "" for no tokens
  bool insecure = false;                       // --insecure
  std::string audit_database;                  // --audit-database; "" for per-domain databases
  std::string daemon_name = "protean-admind";  // --daemon-name
  std::string domain_root = ".";               // --domain-root
  int max_jobs = 4;                            // --max-jobs
  int64_t row_cache_bytes = rebuild::RebuildOptions().row_cache_bytes;  // --row-cache-mib
  std::chrono::milliseconds shutdown_deadline{30000};                   // --shutdown-deadline
  GuardOptions guard;  // --health-probe, --pg-application-probe, --probe-timeout-ms
};

// The checks of `options` that are usage errors (protean-admind exits 2 on them, before
// anything starts): the domain root is a directory, the extra guard probes are valid URLs.
// InvalidArgument naming the flag.
absl::Status CheckUsage(const DaemonOptions& options);

// A serving protean-admind. Not copyable; every method is called from one thread (main's).
class Daemon {
 public:
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  // Stops the listeners if Shutdown was not called, waits for them, then joins the job threads
  // (their audit rows are finished by then) and closes the audit trail; last, disarms the
  // shutdown watchdog.
  ~Daemon();

  // The TCP port --listen is bound to (the one chosen for ":0"); 0 for a Unix socket.
  int port() const { return port_; }

  // Re-reads the token file (SIGHUP) and logs the outcome: reloaded, revoked (the file holds no
  // tokens any more: every call but health is refused), or failed (the previous tokens stay).
  void ReloadTokens();

  // Stops serving within options.shutdown_deadline: refuses new jobs and cancels the running
  // ones (atomic rebuilds roll back, in-place ones end partial), health answers NOT_SERVING,
  // the listeners stop. `reason` (the signal) is logged. A watchdog ends the process with exit
  // 1 once the deadline (plus 500 ms) passes before the Daemon is destroyed, whatever hangs;
  // Shutdown itself does so when jobs still run at the deadline. Idempotent.
  void Shutdown(std::string_view reason);

  // Blocks until the listeners have stopped (that is, after Shutdown).
  void Wait();

 private:
  friend absl::StatusOr<std::unique_ptr<Daemon>> StartDaemon(const DaemonOptions& options);
  explicit Daemon(const DaemonOptions& options) : options_(options) {}

  absl::Status LoadTokens();
  absl::Status OpenAuditTrail();
  absl::Status StartServers();
  void LogListening() const;
  void ArmWatchdog(std::chrono::steady_clock::time_point deadline);
  void DisarmWatchdog();

  DaemonOptions options_;
  std::string domain_root_;             // absolute
  std::unique_ptr<TokenStore> tokens_;  // outlives the listeners (their processors use it)
  std::unique_ptr<AuditTrail> audit_;
  std::unique_ptr<JobRegistry> registry_;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;
  int port_ = 0;
  bool shutdown_started_ = false;
  bool waited_ = false;

  std::mutex watchdog_mu_;
  std::condition_variable watchdog_cv_;
  bool watchdog_disarmed_ = false;  // guarded by watchdog_mu_
  std::thread watchdog_;
};

// Checks the options (CheckUsage; TLS flags given together; the listen policy,
// listen_policy.h), loads the tokens, opens the audit trail when --audit-database is given,
// and starts the listeners. The error says why the daemon cannot start, naming the flag.
// Block the signals main() waits for before calling it: the threads it starts inherit the mask.
absl::StatusOr<std::unique_ptr<Daemon>> StartDaemon(const DaemonOptions& options);

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_DAEMON_H_
