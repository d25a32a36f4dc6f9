// protean-admind: the projection rebuild administration daemon (README.md, deploy/README.md).

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "server/service/admin_service.h"
#include "server/service/audit_trail.h"
#include "server/service/auth.h"
#include "server/service/engine_runner.h"
#include "server/service/job_registry.h"
#include "server/service/listen_policy.h"
#include "server/service/logging.h"
#include "server/service/server_guard.h"
#include "server/service/tls_config.h"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "protean-admind: rebuilds the projections of Protean event-sourced domains "
      "from their Message DB event store, administered over gRPC."};
  app.name("protean-admind");
  app.set_version_flag("--version", std::string("protean-admind ") + kVersion);
  std::string listen = "127.0.0.1:50051";
  std::string domain_root = ".";
  int max_jobs = 4;
  int64_t row_cache_mib = rebuild::RebuildOptions().row_cache_bytes >> 20;
  double shutdown_deadline = 30;
  std::string log_format = "text";
  std::vector<std::string> health_probes;
  std::string pg_application_probe;
  int probe_timeout_ms = 1000;
  std::string unix_socket;
  std::string health_listen;
  service::ServerTlsOptions tls;
  std::string token_file;
  bool insecure = false;
  std::string audit_database;
  std::string daemon_name = HostName();
  app.add_option("--listen", listen,
                 "Address to listen on (host:port or unix:PATH). Anything but loopback or a "
                 "Unix socket needs --tls-cert/--tls-key and --auth-token-file (or --insecure)")
      ->capture_default_str();
  app.add_option("--unix-socket", unix_socket,
                 "Also listen on this Unix socket (PATH or unix:PATH) for local administration "
                 "(tokens are required there too when configured)");
  app.add_option("--health-listen", health_listen,
                 "Extra plaintext listener serving only grpc.health.v1.Health (for probes "
                 "that cannot speak TLS), host:port or unix:PATH");
  app.add_option("--tls-cert", tls.cert_file, "PEM server certificate (chain): TLS on --listen");
  app.add_option("--tls-key", tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", tls.client_ca_file,
                 "PEM CA bundle: mutual TLS, client certificates signed by it are required");
  app.add_option("--auth-token-file", token_file,
                 "File of 'name:token' lines; every call but health then needs "
                 "'authorization: Bearer <token>'. Re-read on SIGHUP: a file emptied of "
                 "tokens then revokes them all, an unreadable or malformed one keeps the "
                 "tokens loaded before (at start-up both are refused)");
  app.add_flag("--insecure", insecure,
               "Allow listening on a non-loopback address without TLS and tokens (dangerous)");
  app.add_option("--audit-database", audit_database,
                 "PostgreSQL URI for the audit trail (protean_admin.rebuilds) of every "
                 "rebuild; default: each domain's projection database, opened on first use");
  app.add_option("--daemon-name", daemon_name,
                 "Name of this daemon in the audit trail, a label: each process also gets a "
                 "unique instance id, and only rows of processes found gone (by a lock each "
                 "live process holds) are marked interrupted, whatever their names")
      ->capture_default_str();
  app.add_option("--domain-root", domain_root,
                 "Directory every --domain is resolved in and confined to (default: the "
                 "current directory)")
      ->capture_default_str();
  app.add_option("--max-jobs", max_jobs, "Rebuild jobs allowed to run at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option(
         "--row-cache-mib", row_cache_mib,
         "Memory (MiB) each rebuild may use to hold an action-form projection's rows "
         "(about 30 bytes per row besides its key and values); a projection that does not fit "
         "is rebuilt much more slowly")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--shutdown-deadline", shutdown_deadline,
                 "Seconds allowed on SIGTERM/SIGINT to cancel running jobs (atomic ones roll "
                 "back, in-place ones end partial) and stop")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-format", log_format, "Log format")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--health-probe", health_probes,
                 "Extra http://host:port/path probed before truncating, like the domain's "
                 "[server.health] /livez (repeatable; any HTTP answer means running)");
  app.add_option("--pg-application-probe", pg_application_probe,
                 "Also refuse while pg_stat_activity on the event store shows a connection "
                 "with this application_name");
  app.add_option("--probe-timeout-ms", probe_timeout_ms,
                 "Timeout of each guard probe step (connect, send, answer)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  service::ConfigureLogging(log_format == "json" ? service::LogFormat::kJson
                                                 : service::LogFormat::kText);

  std::error_code ec;
  std::filesystem::path root = std::filesystem::absolute(domain_root, ec);
  if (ec || !std::filesystem::is_directory(root)) {
    std::cerr << "protean-admind: --domain-root '" << domain_root << "' is not a directory\n";
    return 2;
  }

  service::GuardOptions guard_options;
  guard_options.extra_urls = health_probes;
  guard_options.pg_application_name = pg_application_probe;
  guard_options.timeout = std::chrono::milliseconds(probe_timeout_ms);
  auto guard = std::make_shared<const service::EventServerGuard>(guard_options);
  if (absl::Status valid = guard->Validate(); !valid.ok()) {
    std::cerr << "protean-admind: --health-probe: " << valid.message() << "\n";
    return 2;
  }

  // Tokens (they must outlive the server: the listeners' processors point at them).
  std::unique_ptr<service::TokenStore> tokens;
  if (!token_file.empty()) {
    absl::StatusOr<std::unique_ptr<service::TokenStore>> loaded =
        service::TokenStore::Load(token_file);
    if (!loaded.ok()) {
      return Refuse(absl::StrCat("--auth-token-file: ", loaded.status().message()));
    }
    tokens = std::move(*loaded);
    if (std::string warning = tokens->PermissionWarning(); !warning.empty()) {
      spdlog::warn("{}", warning);
    }
    service::LogRecord(spdlog::level::info, "tokens loaded",
                       {{"file", token_file}, {"tokens", tokens->size()}});
  }
  if (!tls.enabled() && tls.mutual()) {
    return Refuse("--tls-client-ca requires --tls-cert and --tls-key");
  }
  if (tls.enabled() && (tls.cert_file.empty() || tls.key_file.empty())) {
    return Refuse("--tls-cert and --tls-key must be given together");
  }

  // The listen policy: non-loopback addresses need TLS and tokens (or --insecure).
  service::ListenDecision decision = service::CheckListenPolicy(
      listen, {.tls = tls.enabled(), .tokens = tokens != nullptr, .insecure = insecure});
  if (!decision.status.ok()) return Refuse(std::string(decision.status.message()));
  if (!decision.warning.empty()) spdlog::error("{}", decision.warning);
  if (!unix_socket.empty() && !service::IsUnixSocketAddress(unix_socket)) {
    unix_socket = "unix:" + unix_socket;
  }

  // Block the stop signals and SIGHUP in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The audit trail (see server/service/audit_trail.h for where rows go).
  auto audit = std::make_unique<service::AuditTrail>(daemon_name, audit_database);
  if (!audit_database.empty()) {
    absl::StatusOr<storage::AuditStore*> opened = audit->Open(audit_database);
    if (!opened.ok()) {
      return Refuse(absl::StrCat("--audit-database: ", opened.status().message()));
    }
  }
  service::AuditTrail* audit_ptr = audit.get();
  service::Runner engine = service::MakeEngineRunner(guard, row_cache_mib << 20);
  service::Runner runner = [audit_ptr, engine](const service::JobSpec& spec,
                                               service::JobContext& context) {
    audit_ptr->JobStarted(context.job_id(), spec);
    return engine(spec, context);
  };

  service::JobRegistryOptions registry_options;
  registry_options.max_running_jobs = max_jobs;
  auto registry = std::make_unique<service::JobRegistry>(runner, registry_options,
                                                         [audit_ptr](const service::Job& job) {
                                                           service::LogJobFinished(job);
                                                           audit_ptr->JobFinished(job);
                                                         });
  service::AdminServiceOptions service_options;
  service_options.domain_root = root.string();
  service::AdminService admin_service(service_options, registry.get(), tokens.get(), audit_ptr);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  service::EnableReflection(builder);  // this listener only, never --health-listen
  int selected_port = 0;
  {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        service::BuildListenerCredentials(listen, tls, tokens.get());
    if (!credentials.ok()) return Refuse(std::string(credentials.status().message()));
    builder.AddListeningPort(listen, *credentials, &selected_port);
  }
  if (!unix_socket.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        service::BuildListenerCredentials(unix_socket, service::ServerTlsOptions{}, tokens.get());
    if (!credentials.ok()) return Refuse(std::string(credentials.status().message()));
    builder.AddListeningPort(unix_socket, *credentials);
  }
  builder.RegisterService(&admin_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (!service::IsUnixSocketAddress(listen) && selected_port == 0)) {
    return Refuse(
        absl::StrCat("cannot listen on ", listen, unix_socket.empty() ? "" : " or " + unix_socket));
  }
  std::unique_ptr<grpc::Server> health_server;
  if (!health_listen.empty()) {
    absl::StatusOr<std::unique_ptr<grpc::Server>> started =
        service::StartHealthOnlyServer(health_listen);
    if (!started.ok()) {
      server->Shutdown();
      return Refuse(std::string(started.status().message()));
    }
    health_server = std::move(*started);
  }
  service::LogRecord(spdlog::level::info, "protean-admind listening",
                     {{"listen", listen},
                      {"unix_socket", unix_socket},
                      {"health_listen", health_listen},
                      {"tls", tls.enabled()},
                      {"mutual_tls", tls.mutual()},
                      {"tokens", tokens != nullptr},
                      {"insecure", insecure},
                      {"audit_database", audit_database.empty() ? "per domain" : "configured"},
                      {"daemon_name", daemon_name},
                      {"version", kVersion},
                      {"domain_root", root.string()},
                      {"max_jobs", max_jobs},
                      {"row_cache_mib", row_cache_mib},
                      {"health_probes", health_probes},
                      {"pg_application_probe", pg_application_probe}});

  int signal_number = 0;
  while (true) {
    sigwait(&signals, &signal_number);
    if (signal_number != SIGHUP) break;
    if (tokens == nullptr) {
      spdlog::info("SIGHUP: no --auth-token-file configured, nothing to reload");
      continue;
    }
    if (absl::Status reloaded = tokens->Reload(); reloaded.ok() && tokens->size() == 0) {
      service::LogRecord(spdlog::level::critical,
                         "TOKENS REVOKED: the token file has no entries; every call but health "
                         "is refused until tokens are added to it and SIGHUP is sent",
                         {{"file", token_file}, {"tokens", 0}});
    } else if (reloaded.ok()) {
      service::LogRecord(spdlog::level::info, "tokens reloaded",
                         {{"file", token_file}, {"tokens", tokens->size()}});
    } else {
      service::LogRecord(spdlog::level::err, "token reload failed; the previous tokens stay",
                         {{"file", token_file}, {"error", std::string(reloaded.message())}});
    }
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(shutdown_deadline * 1000));
  service::LogRecord(spdlog::level::info, "shutting down",
                     {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
                      {"running_jobs", registry->running()},
                      {"deadline_s", shutdown_deadline}});
  // A watchdog: whatever hangs, the process ends at the deadline (open transactions roll
  // back when PostgreSQL sees the connection close).
  std::thread([deadline] {
    std::this_thread::sleep_until(deadline + std::chrono::milliseconds(500));
    spdlog::error("shutdown deadline passed with work still running; exiting now");
    spdlog::default_logger()->flush();
    std::_Exit(1);
  }).detach();
  registry->BeginShutdown();  // refuse new jobs, cancel running ones
  if (server->GetHealthCheckService() != nullptr) {
    server->GetHealthCheckService()->SetServingStatus(false);
  }
  if (health_server != nullptr) {
    if (health_server->GetHealthCheckService() != nullptr) {
      health_server->GetHealthCheckService()->SetServingStatus(false);
    }
    health_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::duration_cast<std::chrono::system_clock::duration>(
                       deadline - std::chrono::steady_clock::now()));
  bool all_ended = registry->Shutdown(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now()));
  if (!all_ended) {
    spdlog::error("shutdown deadline passed with rebuild jobs still running; exiting");
    spdlog::default_logger()->flush();
    std::_Exit(1);
  }
  server->Wait();
  registry.reset();  // joins the job threads (their audit rows are finished by now)
  audit.reset();
  spdlog::info("stopped");
  return 0;
}
