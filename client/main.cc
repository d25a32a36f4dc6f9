// protean-admin: the command-line client of protean-admind.
//
// Exit codes: 0 success, 1 failure of any kind (including one failed projection in a
// rebuild of all), 2 usage, 3 daemon unreachable.

#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/output.h"
#include "proto/request_limits.h"
#include "version.h"

using namespace protean_admin::client;  // NOLINT

namespace {

// Refuses an argument longer than the daemon accepts (proto/request_limits.h), before calling.
CLI::Validator AtMostBytes(std::string field, size_t max_bytes) {
  return CLI::Validator(
      [field, max_bytes](std::string& value) {
        absl::Status s = protean_admin::CheckLength(field, value, max_bytes);
        return s.ok() ? std::string() : std::string(s.message());
      },
      absl::StrCat("at most ", max_bytes, " bytes"));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "protean-admin: rebuild the projections of a Protean domain through "
      "protean-admind."};
  app.name("protean-admin");
  app.set_version_flag("--version", std::string("protean-admin ") + protean_admin::kVersion);
  app.require_subcommand(1, 1);
  std::string server;
  app.add_option("--server", server,
                 "protean-admind address: host:port or unix:PATH (default: "
                 "$PROTEAN_ADMIN_SERVER, else 127.0.0.1:50051)")
      ->envname("")
      ->group("Global");
  ClientOptions options;
  std::string token_file;
  app.add_option("--tls-ca", options.tls.ca_file,
                 "PEM CA bundle verifying protean-admind's certificate (enables TLS)")
      ->group("Global");
  app.add_option("--tls-cert", options.tls.cert_file,
                 "PEM client certificate for mutual TLS (enables TLS)")
      ->group("Global");
  app.add_option("--tls-key", options.tls.key_file, "PEM private key of --tls-cert")
      ->group("Global");
  app.add_option("--token-file", token_file,
                 "File holding the bearer token to send (default: $PROTEAN_ADMIN_TOKEN)")
      ->group("Global");
  app.fallthrough();

  RebuildArgs rebuild;
  std::string rebuild_domain = ".";
  CLI::App* rebuild_cmd =
      app.add_subcommand("rebuild", "Rebuild one projection (--projection) or all of them");
  rebuild_cmd
      ->add_option("--domain", rebuild_domain,
                   "Domain to load, resolved on the daemon inside its domain root "
                   "($PROTEAN_DOMAIN wins)")
      ->capture_default_str()
      ->check(AtMostBytes("domain", protean_admin::kMaxDomainSpecBytes));
  rebuild_cmd
      ->add_option("--projection", rebuild.projection,
                   "Projection to rebuild (default: all of them)")
      ->check(AtMostBytes("projection name", protean_admin::kMaxProjectionNameBytes));
  rebuild_cmd
      ->add_option("--batch-size", rebuild.batch_size,
                   absl::StrCat("Events per page and batch, 1 to ", protean_admin::kMaxBatchSize))
      ->capture_default_str()
      ->check(CLI::Range(1, protean_admin::kMaxBatchSize));
  rebuild_cmd
      ->add_option("--strategy", rebuild.strategy,
                   "atomic, inplace, or shadow (build while the event server runs; stop it "
                   "when told \"waiting for the event server to stop\")")
      ->capture_default_str()
      ->check(CLI::IsMember({"atomic", "inplace", "shadow"}));
  rebuild_cmd
      ->add_option("--wait-timeout", rebuild.wait_timeout_seconds,
                   "Shadow strategy: seconds to wait for the event server to stop before giving "
                   "up (the shadow is dropped); 0 waits without limit")
      ->capture_default_str()
      ->check(CLI::Range(0, 7 * 24 * 3600));
  rebuild_cmd->add_flag("--force", rebuild.force,
                        "Skip the event-server guard (the daemon logs it loudly)");
  rebuild_cmd->add_flag("--json", rebuild.json, "Print JSON lines instead of text");
  rebuild_cmd->add_flag("--detach", rebuild.detach,
                        "Print the job id and return once the job has started");
  int64_t max_skipped = -1;
  CLI::Option* max_skipped_option =
      rebuild_cmd
          ->add_option("--max-skipped", max_skipped,
                       "Fail a projection's rebuild when more events than this are skipped "
                       "(atomic rolls back; default: no limit, as Protean)")
          ->check(CLI::NonNegativeNumber);
  bool strict = false;
  rebuild_cmd
      ->add_flag("--strict", strict,
                 "Fail a projection's rebuild on any skipped event "
                 "(--max-skipped 0)")
      ->excludes(max_skipped_option);

  std::string projections_domain = ".";
  bool projections_json = false;
  CLI::App* projections_cmd = app.add_subcommand("projections", "List the projections of a domain");
  projections_cmd->add_option("--domain", projections_domain, "Domain to load")
      ->capture_default_str()
      ->check(AtMostBytes("domain", protean_admin::kMaxDomainSpecBytes));
  projections_cmd->add_flag("--json", projections_json, "Print JSON lines");

  bool jobs_running = false;
  bool jobs_json = false;
  std::string jobs_domain;
  CLI::App* jobs_cmd = app.add_subcommand(
      "jobs", "List rebuild jobs of the daemon (running ones and its audit trail)");
  jobs_cmd
      ->add_option("--domain", jobs_domain,
                   "Also read the audit trail of this domain's database (history of "
                   "earlier daemon runs); $PROTEAN_DOMAIN wins")
      ->check(AtMostBytes("domain", protean_admin::kMaxDomainSpecBytes));
  jobs_cmd->add_flag("--running", jobs_running, "Only running jobs");
  jobs_cmd->add_flag("--json", jobs_json, "Print JSON lines");

  std::string watch_job;
  bool watch_json = false;
  CLI::App* watch_cmd =
      app.add_subcommand("watch", "Follow a rebuild job (its history, then live)");
  watch_cmd->add_option("JOB", watch_job, "Job id")
      ->required()
      ->check(AtMostBytes("job id", protean_admin::kMaxJobIdBytes));
  watch_cmd->add_flag("--json", watch_json, "Print JSON lines");

  std::string cancel_job;
  bool cancel_json = false;
  CLI::App* cancel_cmd = app.add_subcommand(
      "cancel", "Cancel a rebuild job and wait for it to end (atomic rebuilds roll back)");
  cancel_cmd->add_option("JOB", cancel_job, "Job id")
      ->required()
      ->check(AtMostBytes("job id", protean_admin::kMaxJobIdBytes));
  cancel_cmd->add_flag("--json", cancel_json, "Print JSON lines");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  options.server = ResolveServer(server, std::getenv("PROTEAN_ADMIN_SERVER"));
  options.requested_by = DefaultRequestedBy();
  absl::StatusOr<std::optional<std::string>> token =
      protean_admin::service::LoadClientToken(token_file, std::getenv("PROTEAN_ADMIN_TOKEN"));
  if (!token.ok()) {
    std::cerr << "protean-admin: " << token.status().message() << "\n";
    return kExitUsage;
  }
  options.token = *token;
  InstallInterruptHandler();

  if (*rebuild_cmd) {
    rebuild.domain = ResolveDomain(rebuild_domain, std::getenv("PROTEAN_DOMAIN"));
    if (strict) rebuild.max_skipped = 0;
    if (*max_skipped_option) rebuild.max_skipped = max_skipped;
    return RunRebuild(options, rebuild, std::cout, std::cerr);
  }
  if (*projections_cmd) {
    return RunProjections(options, ResolveDomain(projections_domain, std::getenv("PROTEAN_DOMAIN")),
                          projections_json, std::cout, std::cerr);
  }
  if (*jobs_cmd) {
    const char* env_domain = std::getenv("PROTEAN_DOMAIN");
    std::string domain = env_domain != nullptr && env_domain[0] != '\0' ? env_domain : jobs_domain;
    return RunJobs(options, jobs_running, jobs_json, std::cout, std::cerr, domain);
  }
  if (*watch_cmd) return RunWatch(options, watch_job, watch_json, std::cout, std::cerr);
  if (*cancel_cmd) return RunCancel(options, cancel_job, cancel_json, std::cout, std::cerr);
  return kExitUsage;
}
