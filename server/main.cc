// protean-admind: the projection rebuild administration daemon (DESIGN.md §5-§7).

#include <grpcpp/ext/proto_server_reflection_plugin.h>
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
#include "server/service/admin_service.h"
#include "server/service/engine_runner.h"
#include "server/service/job_registry.h"
#include "server/service/logging.h"
#include "server/service/server_guard.h"
#include "version.h"

namespace {

using namespace protean_admin;  // NOLINT

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
  double shutdown_deadline = 30;
  std::string log_format = "text";
  std::vector<std::string> health_probes;
  std::string pg_application_probe;
  int probe_timeout_ms = 1000;
  app.add_option("--listen", listen, "Address to listen on (host:port or unix:PATH)")
      ->capture_default_str();
  app.add_option("--domain-root", domain_root,
                 "Directory every --domain is resolved in and confined to (default: the "
                 "current directory)")
      ->capture_default_str();
  app.add_option("--max-jobs", max_jobs, "Rebuild jobs allowed to run at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--shutdown-deadline", shutdown_deadline,
                 "Seconds allowed on SIGTERM/SIGINT to cancel running jobs (rolled back) and "
                 "stop")
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

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  service::JobRegistryOptions registry_options;
  registry_options.max_running_jobs = max_jobs;
  auto registry = std::make_unique<service::JobRegistry>(service::MakeEngineRunner(guard),
                                                         registry_options, service::LogJobFinished);
  service::AdminServiceOptions service_options;
  service_options.domain_root = root.string();
  service::AdminService admin_service(service_options, registry.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &selected_port);
  builder.RegisterService(&admin_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (listen.rfind("unix:", 0) != 0 && selected_port == 0)) {
    spdlog::critical("cannot listen on {}", listen);
    std::cerr << "protean-admind: cannot listen on " << listen << "\n";
    return 1;
  }
  service::LogRecord(spdlog::level::info, "protean-admind listening",
                     {{"listen", listen},
                      {"version", kVersion},
                      {"domain_root", root.string()},
                      {"max_jobs", max_jobs},
                      {"health_probes", health_probes},
                      {"pg_application_probe", pg_application_probe}});

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
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
  registry.reset();
  spdlog::info("stopped");
  return 0;
}
