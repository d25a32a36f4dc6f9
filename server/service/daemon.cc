#include "server/service/daemon.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <cstdlib>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/service/engine_runner.h"
#include "server/service/listen_policy.h"
#include "server/service/logging.h"
#include "version.h"

namespace protean_admin::service {
namespace {

std::chrono::system_clock::time_point SystemDeadline(std::chrono::steady_clock::time_point at) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             at - std::chrono::steady_clock::now());
}

void SetNotServing(grpc::Server& server) {
  if (server.GetHealthCheckService() != nullptr) {
    server.GetHealthCheckService()->SetServingStatus(false);
  }
}

// The TLS flags given together: a key with its certificate, a client CA with both.
absl::Status CheckTls(const ServerTlsOptions& tls) {
  if (!tls.enabled() && tls.mutual()) {
    return absl::InvalidArgumentError("--tls-client-ca requires --tls-cert and --tls-key");
  }
  if (tls.enabled() && (tls.cert_file.empty() || tls.key_file.empty())) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckUsage(const DaemonOptions& options) {
  std::error_code ec;
  std::filesystem::path root = std::filesystem::absolute(options.domain_root, ec);
  if (ec || !std::filesystem::is_directory(root)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--domain-root '", options.domain_root, "' is not a directory"));
  }
  if (absl::Status valid = EventServerGuard(options.guard).Validate(); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--health-probe: ", valid.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Daemon>> StartDaemon(const DaemonOptions& options) {
  RETURN_IF_ERROR(CheckUsage(options));
  std::unique_ptr<Daemon> daemon(new Daemon(options));
  daemon->domain_root_ = std::filesystem::absolute(options.domain_root).string();
  RETURN_IF_ERROR(daemon->LoadTokens());
  RETURN_IF_ERROR(CheckTls(options.tls));

  // The listen policy: non-loopback addresses need TLS and tokens (or --insecure).
  ListenDecision decision = CheckListenPolicy(options.listen, {.tls = options.tls.enabled(),
                                                               .tokens = daemon->tokens_ != nullptr,
                                                               .insecure = options.insecure});
  RETURN_IF_ERROR(decision.status);
  if (!decision.warning.empty()) spdlog::error("{}", decision.warning);
  std::string& unix_socket = daemon->options_.unix_socket;
  if (!unix_socket.empty() && !IsUnixSocketAddress(unix_socket)) {
    unix_socket = "unix:" + unix_socket;
  }

  RETURN_IF_ERROR(daemon->OpenAuditTrail());
  daemon->registry_ = MakeDaemonJobRegistry(
      {.max_running_jobs = options.max_jobs}, daemon->audit_.get(),
      std::make_shared<const EventServerGuard>(options.guard), options.row_cache_bytes);
  daemon->service_ = std::make_unique<AdminService>(
      AdminServiceOptions{.domain_root = daemon->domain_root_}, daemon->registry_.get(),
      daemon->tokens_.get(), daemon->audit_.get());
  RETURN_IF_ERROR(daemon->StartServers());
  daemon->LogListening();
  return daemon;
}

absl::Status Daemon::LoadTokens() {
  if (options_.token_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<TokenStore>> loaded = TokenStore::Load(options_.token_file);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(),
                        absl::StrCat("--auth-token-file: ", loaded.status().message()));
  }
  tokens_ = *std::move(loaded);
  if (std::string warning = tokens_->PermissionWarning(); !warning.empty()) {
    spdlog::warn("{}", warning);
  }
  LogRecord(spdlog::level::info, "tokens loaded",
            {{"file", options_.token_file}, {"tokens", tokens_->size()}});
  return absl::OkStatus();
}

absl::Status Daemon::OpenAuditTrail() {
  // See audit_trail.h for where rows go.
  audit_ = std::make_unique<AuditTrail>(options_.daemon_name, options_.audit_database);
  if (options_.audit_database.empty()) return absl::OkStatus();
  absl::StatusOr<storage::AuditStore*> opened = audit_->Open(options_.audit_database);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat("--audit-database: ", opened.status().message()));
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartServers() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  EnableReflection(builder);  // this listener only, never --health-listen
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   BuildListenerCredentials(options_.listen, options_.tls, tokens_.get()));
  builder.AddListeningPort(options_.listen, credentials, &port_);
  if (!options_.unix_socket.empty()) {
    ASSIGN_OR_RETURN(
        std::shared_ptr<grpc::ServerCredentials> local,
        BuildListenerCredentials(options_.unix_socket, ServerTlsOptions{}, tokens_.get()));
    builder.AddListeningPort(options_.unix_socket, local);
  }
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || (!IsUnixSocketAddress(options_.listen) && port_ == 0)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen,
                     options_.unix_socket.empty() ? "" : " or " + options_.unix_socket));
  }
  if (!options_.health_listen.empty()) {
    ASSIGN_OR_RETURN(health_server_, StartHealthOnlyServer(options_.health_listen));
  }
  return absl::OkStatus();
}

void Daemon::LogListening() const {
  LogRecord(spdlog::level::info, "protean-admind listening",
            {{"listen", options_.listen},
             {"unix_socket", options_.unix_socket},
             {"health_listen", options_.health_listen},
             {"tls", options_.tls.enabled()},
             {"mutual_tls", options_.tls.mutual()},
             {"tokens", tokens_ != nullptr},
             {"insecure", options_.insecure},
             {"audit_database", options_.audit_database.empty() ? "per domain" : "configured"},
             {"daemon_name", options_.daemon_name},
             {"version", kVersion},
             {"domain_root", domain_root_},
             {"max_jobs", options_.max_jobs},
             {"row_cache_mib", options_.row_cache_bytes >> 20},
             {"health_probes", options_.guard.extra_urls},
             {"pg_application_probe", options_.guard.pg_application_name}});
}

void Daemon::ReloadTokens() {
  if (tokens_ == nullptr) {
    spdlog::info("SIGHUP: no --auth-token-file configured, nothing to reload");
    return;
  }
  absl::Status reloaded = tokens_->Reload();
  if (reloaded.ok() && tokens_->size() == 0) {
    LogRecord(spdlog::level::critical,
              "TOKENS REVOKED: the token file has no entries; every call but health is refused "
              "until tokens are added to it and SIGHUP is sent",
              {{"file", options_.token_file}, {"tokens", 0}});
  } else if (reloaded.ok()) {
    LogRecord(spdlog::level::info, "tokens reloaded",
              {{"file", options_.token_file}, {"tokens", tokens_->size()}});
  } else {
    LogRecord(spdlog::level::err, "token reload failed; the previous tokens stay",
              {{"file", options_.token_file}, {"error", std::string(reloaded.message())}});
  }
}

void Daemon::Shutdown(std::string_view reason) {
  if (shutdown_started_) return;
  shutdown_started_ = true;
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_deadline;
  LogRecord(spdlog::level::info, "shutting down",
            {{"signal", std::string(reason)},
             {"running_jobs", registry_->running()},
             {"deadline_s", std::chrono::duration<double>(options_.shutdown_deadline).count()}});
  ArmWatchdog(deadline);
  registry_->BeginShutdown();  // refuse new jobs, cancel running ones
  SetNotServing(*server_);
  if (health_server_ != nullptr) {
    SetNotServing(*health_server_);
    health_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  server_->Shutdown(SystemDeadline(deadline));
  bool all_ended = registry_->Shutdown(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now()));
  if (!all_ended) {
    spdlog::error("shutdown deadline passed with rebuild jobs still running; exiting");
    spdlog::default_logger()->flush();
    std::_Exit(1);
  }
}

void Daemon::Wait() {
  if (server_ == nullptr || waited_) return;
  server_->Wait();
  waited_ = true;
}

Daemon::~Daemon() {
  if (!shutdown_started_) {  // never served, or the owner skipped Shutdown
    if (registry_ != nullptr) registry_->BeginShutdown();
    if (health_server_ != nullptr) health_server_->Shutdown();
    if (server_ != nullptr) server_->Shutdown();
  }
  Wait();
  registry_.reset();  // joins the job threads (their audit rows are finished by now)
  audit_.reset();
  DisarmWatchdog();
}

// Whatever hangs, the process ends at the deadline (open transactions roll back when
// PostgreSQL sees the connection close).
void Daemon::ArmWatchdog(std::chrono::steady_clock::time_point deadline) {
  watchdog_ = std::thread([this, deadline] {
    std::unique_lock<std::mutex> lock(watchdog_mu_);
    if (watchdog_cv_.wait_until(lock, deadline + std::chrono::milliseconds(500),
                                [this] { return watchdog_disarmed_; })) {
      return;
    }
    spdlog::error("shutdown deadline passed with work still running; exiting now");
    spdlog::default_logger()->flush();
    std::_Exit(1);
  });
}

void Daemon::DisarmWatchdog() {
  {
    std::lock_guard<std::mutex> lock(watchdog_mu_);
    watchdog_disarmed_ = true;
  }
  watchdog_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

}  // namespace protean_admin::service
