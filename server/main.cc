// protean-admind: the projection rebuild administration daemon (README.md, deploy/README.md).
// Parses the flags into service::DaemonOptions, starts the daemon (server/service/daemon.h)
// and turns signals into calls: SIGHUP reloads the tokens, SIGTERM and SIGINT shut it down.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "server/service/daemon.h"
#include "server/service/logging.h"
#include "version.h"

namespace {

using namespace protean_admin;  // NOLINT

std::string HostName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "protean-admind";
  return host;
}

// Refuses to start: logs why (the log goes to stderr in both formats) and returns exit 1.
int Refuse(const std::string& message) {
  spdlog::critical("{}", message);
  spdlog::default_logger()->flush();
  return 1;
}

// Flags that are not DaemonOptions fields as they are.
struct Flags {
  int64_t row_cache_mib = 0;
  double shutdown_deadline_s = 30;
  int probe_timeout_ms = 1000;
  std::string log_format = "text";
};

void AddListenerFlags(CLI::App& app, service::DaemonOptions& options) {
  app.add_option("--listen", options.listen,
                 "Address to listen on (host:port or unix:PATH). Anything but loopback or a "
                 "Unix socket needs --tls-cert/--tls-key and --auth-token-file (or --insecure)")
      ->capture_default_str();
  app.add_option("--unix-socket", options.unix_socket,
                 "Also listen on this Unix socket (PATH or unix:PATH) for local administration "
                 "(tokens are required there too when configured)");
  app.add_option("--health-listen", options.health_listen,
                 "Extra plaintext listener serving only grpc.health.v1.Health (for probes "
                 "that cannot speak TLS), host:port or unix:PATH");
  app.add_option("--tls-cert", options.tls.cert_file,
                 "PEM server certificate (chain): TLS on --listen");
  app.add_option("--tls-key", options.tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", options.tls.client_ca_file,
                 "PEM CA bundle: mutual TLS, client certificates signed by it are required");
  app.add_option("--auth-token-file", options.token_file,
                 "File of 'name:token' lines; every call but health then needs "
                 "'authorization: Bearer <token>'. Re-read on SIGHUP: a file emptied of "
                 "tokens then revokes them all, an unreadable or malformed one keeps the "
                 "tokens loaded before (at start-up both are refused)");
  app.add_flag("--insecure", options.insecure,
               "Allow listening on a non-loopback address without TLS and tokens (dangerous)");
}

void AddAuditAndJobFlags(CLI::App& app, service::DaemonOptions& options, Flags& flags) {
  app.add_option("--audit-database", options.audit_database,
                 "PostgreSQL URI for the audit trail (protean_admin.rebuilds) of every "
                 "rebuild; default: each domain's projection database, opened on first use");
  app.add_option("--daemon-name", options.daemon_name,
                 "Name of this daemon in the audit trail, a label: each process also gets a "
                 "unique instance id, and only rows of processes found gone (by a lock each "
                 "live process holds) are marked interrupted, whatever their names")
      ->capture_default_str();
  app.add_option("--domain-root", options.domain_root,
                 "Directory every --domain is resolved in and confined to (default: the "
                 "current directory)")
      ->capture_default_str();
  app.add_option("--max-jobs", options.max_jobs, "Rebuild jobs allowed to run at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option(
         "--row-cache-mib", flags.row_cache_mib,
         "Memory (MiB) each rebuild may use to hold an action-form projection's rows "
         "(about 30 bytes per row besides its key and values); a projection that does not fit "
         "is rebuilt much more slowly")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--shutdown-deadline", flags.shutdown_deadline_s,
                 "Seconds allowed on SIGTERM/SIGINT to cancel running jobs (atomic ones roll "
                 "back, in-place ones end partial) and stop")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

void AddLogAndGuardFlags(CLI::App& app, service::DaemonOptions& options, Flags& flags) {
  app.add_option("--log-format", flags.log_format, "Log format")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--health-probe", options.guard.extra_urls,
                 "Extra http://host:port/path probed before truncating, like the domain's "
                 "[server.health] /livez (repeatable; any HTTP answer means running)");
  app.add_option("--pg-application-probe", options.guard.pg_application_name,
                 "Also refuse while pg_stat_activity on the event store shows a connection "
                 "with this application_name");
  app.add_option("--probe-timeout-ms", flags.probe_timeout_ms,
                 "Timeout of each guard probe step (connect, send, answer)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

// Blocks the stop signals and SIGHUP in this thread and so in every thread started after it;
// WaitForStopSignal receives them.
sigset_t BlockDaemonSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Reloads the daemon's tokens on each SIGHUP until SIGTERM or SIGINT arrives; returns its name.
std::string WaitForStopSignal(const sigset_t& signals, service::Daemon& daemon) {
  int signal_number = 0;
  while (true) {
    sigwait(&signals, &signal_number);
    if (signal_number != SIGHUP) break;
    daemon.ReloadTokens();
  }
  return signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "protean-admind: rebuilds the projections of Protean event-sourced domains "
      "from their Message DB event store, administered over gRPC."};
  app.name("protean-admind");
  app.set_version_flag("--version", std::string("protean-admind ") + kVersion);
  service::DaemonOptions options;
  options.daemon_name = HostName();
  Flags flags;
  flags.row_cache_mib = options.row_cache_bytes >> 20;
  AddListenerFlags(app, options);
  AddAuditAndJobFlags(app, options, flags);
  AddLogAndGuardFlags(app, options, flags);
  CLI11_PARSE(app, argc, argv);
  options.row_cache_bytes = flags.row_cache_mib << 20;
  options.shutdown_deadline =
      std::chrono::milliseconds(static_cast<int64_t>(flags.shutdown_deadline_s * 1000));
  options.guard.timeout = std::chrono::milliseconds(flags.probe_timeout_ms);

  service::ConfigureLogging(flags.log_format == "json" ? service::LogFormat::kJson
                                                       : service::LogFormat::kText);
  if (absl::Status usage = service::CheckUsage(options); !usage.ok()) {
    std::cerr << "protean-admind: " << usage.message() << "\n";
    return 2;
  }
  const sigset_t signals = BlockDaemonSignals();
  absl::StatusOr<std::unique_ptr<service::Daemon>> daemon = service::StartDaemon(options);
  if (!daemon.ok()) return Refuse(std::string(daemon.status().message()));
  (*daemon)->Shutdown(WaitForStopSignal(signals, **daemon));
  (*daemon)->Wait();
  daemon->reset();
  spdlog::info("stopped");
  return 0;
}
