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
#include "client/ir_command.h"
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

// Every flag and subcommand, filled by CLI11.
struct CommandLine {
  std::string server;
  std::string token_file;
  ClientOptions options;

  CLI::App* rebuild_cmd = nullptr;
  RebuildArgs rebuild;
  std::string rebuild_domain = ".";
  CLI::Option* max_skipped_option = nullptr;
  int64_t max_skipped = -1;
  bool strict = false;

  CLI::App* projections_cmd = nullptr;
  std::string projections_domain = ".";
  bool projections_json = false;

  CLI::App* status_cmd = nullptr;
  StatusArgs status;
  std::string status_domain = ".";

  CLI::App* jobs_cmd = nullptr;
  bool jobs_running = false;
  bool jobs_json = false;
  std::string jobs_domain;

  CLI::App* watch_cmd = nullptr;
  std::string watch_job;
  bool watch_json = false;

  CLI::App* cancel_cmd = nullptr;
  std::string cancel_job;
  bool cancel_json = false;
};

void AddGlobalFlags(CLI::App& app, CommandLine& cl) {
  app.add_option("--server", cl.server,
                 "protean-admind address: host:port or unix:PATH (default: "
                 "$PROTEAN_ADMIN_SERVER, else 127.0.0.1:50051)")
      ->envname("")
      ->group("Global");
  app.add_option("--tls-ca", cl.options.tls.ca_file,
                 "PEM CA bundle verifying protean-admind's certificate (enables TLS)")
      ->group("Global");
  app.add_option("--tls-cert", cl.options.tls.cert_file,
                 "PEM client certificate for mutual TLS (enables TLS)")
      ->group("Global");
  app.add_option("--tls-key", cl.options.tls.key_file, "PEM private key of --tls-cert")
      ->group("Global");
  app.add_option("--token-file", cl.token_file,
                 "File holding the bearer token to send (default: $PROTEAN_ADMIN_TOKEN)")
      ->group("Global");
  app.fallthrough();
}

void AddRebuildCommand(CLI::App& app, CommandLine& cl) {
  CLI::App* cmd =
      app.add_subcommand("rebuild", "Rebuild one projection (--projection) or all of them");
  cl.rebuild_cmd = cmd;
  cmd->add_option("--domain", cl.rebuild_domain,
                  "Domain to load, resolved on the daemon inside its domain root "
                  "($PROTEAN_DOMAIN wins)")
      ->capture_default_str()
      ->check(AtMostBytes("domain", protean_admin::kMaxDomainSpecBytes));
  cmd->add_option("--projection", cl.rebuild.projection,
                  "Projection to rebuild (default: all of them)")
      ->check(AtMostBytes("projection name", protean_admin::kMaxProjectionNameBytes));
  cmd->add_option("--batch-size", cl.rebuild.batch_size,
                  absl::StrCat("Events per page and batch, 1 to ", protean_admin::kMaxBatchSize))
      ->capture_default_str()
      ->check(CLI::Range(1, protean_admin::kMaxBatchSize));
  cmd->add_option("--strategy", cl.rebuild.strategy,
                  "atomic, inplace, or shadow (build while the event server runs; stop it "
                  "when told \"waiting for the event server to stop\")")
      ->capture_default_str()
      ->check(CLI::IsMember({"atomic", "inplace", "shadow"}));
  cmd->add_option("--wait-timeout", cl.rebuild.wait_timeout_seconds,
                  "Shadow strategy: seconds to wait for the event server to stop before giving "
                  "up (the shadow is dropped); 0 waits without limit")
      ->capture_default_str()
      ->check(CLI::Range(0, 7 * 24 * 3600));
  cmd->add_flag("--force", cl.rebuild.force,
                "Skip the event-server guard (the daemon logs it loudly)");
  cmd->add_flag("--json", cl.rebuild.json, "Print JSON lines instead of text");
  cmd->add_flag("--detach", cl.rebuild.detach,
                "Print the job id and return once the job has started");
  cl.max_skipped_option =
      cmd->add_option("--max-skipped", cl.max_skipped,
                      "Fail a projection's rebuild when more events than this are skipped "
                      "(atomic rolls back; default: no limit, as Protean)")
          ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--strict", cl.strict,
                "Fail a projection's rebuild on any skipped event "
                "(--max-skipped 0)")
      ->excludes(cl.max_skipped_option);
}

void AddListCommands(CLI::App& app, CommandLine& cl) {
  cl.projections_cmd = app.add_subcommand("projections", "List the projections of a domain");
  cl.projections_cmd->add_option("--domain", cl.projections_domain, "Domain to load")
      ->capture_default_str()
      ->check(AtMostBytes("domain", protean_admin::kMaxDomainSpecBytes));
  cl.projections_cmd->add_flag("--json", cl.projections_json, "Print JSON lines");

  cl.status_cmd =
      app.add_subcommand("status",
                         "How far behind each projection is: lag, staleness, rows (Protean's "
                         "`projection status`)");
  cl.status_cmd->add_option("--domain", cl.status_domain, "Domain to load ($PROTEAN_DOMAIN wins)")
      ->capture_default_str()
      ->check(AtMostBytes("domain", protean_admin::kMaxDomainSpecBytes));
  cl.status_cmd->add_option("--projection", cl.status.projection, "Only this projection")
      ->check(AtMostBytes("projection name", protean_admin::kMaxProjectionNameBytes));
  cl.status_cmd->add_flag("--json", cl.status.json,
                          "Print Protean's result envelope (one JSON object) instead of a table");

  cl.jobs_cmd = app.add_subcommand(
      "jobs", "List rebuild jobs of the daemon (running ones and its audit trail)");
  cl.jobs_cmd
      ->add_option("--domain", cl.jobs_domain,
                   "Also read the audit trail of this domain's database (history of "
                   "earlier daemon runs); $PROTEAN_DOMAIN wins")
      ->check(AtMostBytes("domain", protean_admin::kMaxDomainSpecBytes));
  cl.jobs_cmd->add_flag("--running", cl.jobs_running, "Only running jobs");
  cl.jobs_cmd->add_flag("--json", cl.jobs_json, "Print JSON lines");
}

void AddJobCommands(CLI::App& app, CommandLine& cl) {
  cl.watch_cmd = app.add_subcommand("watch", "Follow a rebuild job (its history, then live)");
  cl.watch_cmd->add_option("JOB", cl.watch_job, "Job id")
      ->required()
      ->check(AtMostBytes("job id", protean_admin::kMaxJobIdBytes));
  cl.watch_cmd->add_flag("--json", cl.watch_json, "Print JSON lines");

  cl.cancel_cmd = app.add_subcommand(
      "cancel", "Cancel a rebuild job and wait for it to end (atomic rebuilds roll back)");
  cl.cancel_cmd->add_option("JOB", cl.cancel_job, "Job id")
      ->required()
      ->check(AtMostBytes("job id", protean_admin::kMaxJobIdBytes));
  cl.cancel_cmd->add_flag("--json", cl.cancel_json, "Print JSON lines");
}

// Runs the subcommand CLI11 parsed; returns the exit code.
int RunCommand(CommandLine& cl) {
  const ClientOptions& options = cl.options;
  if (*cl.rebuild_cmd) {
    cl.rebuild.domain = ResolveDomain(cl.rebuild_domain, std::getenv("PROTEAN_DOMAIN"));
    if (cl.strict) cl.rebuild.max_skipped = 0;
    if (*cl.max_skipped_option) cl.rebuild.max_skipped = cl.max_skipped;
    return RunRebuild(options, cl.rebuild, std::cout, std::cerr);
  }
  if (*cl.projections_cmd) {
    return RunProjections(options,
                          ResolveDomain(cl.projections_domain, std::getenv("PROTEAN_DOMAIN")),
                          cl.projections_json, std::cout, std::cerr);
  }
  if (*cl.status_cmd) {
    cl.status.domain = ResolveDomain(cl.status_domain, std::getenv("PROTEAN_DOMAIN"));
    return RunStatus(options, cl.status, std::cout, std::cerr);
  }
  if (*cl.jobs_cmd) {
    const char* env_domain = std::getenv("PROTEAN_DOMAIN");
    std::string domain =
        env_domain != nullptr && env_domain[0] != '\0' ? env_domain : cl.jobs_domain;
    return RunJobs(options, cl.jobs_running, cl.jobs_json, std::cout, std::cerr, domain);
  }
  if (*cl.watch_cmd) return RunWatch(options, cl.watch_job, cl.watch_json, std::cout, std::cerr);
  if (*cl.cancel_cmd) {
    return RunCancel(options, cl.cancel_job, cl.cancel_json, std::cout, std::cerr);
  }
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "protean-admin: rebuild the projections of a Protean domain through "
      "protean-admind."};
  app.name("protean-admin");
  app.set_version_flag("--version", std::string("protean-admin ") + protean_admin::kVersion);
  app.require_subcommand(1, 1);
  CommandLine cl;
  AddGlobalFlags(app, cl);
  AddRebuildCommand(app, cl);
  AddListCommands(app, cl);
  AddJobCommands(app, cl);
  IrCommandLine ir;
  AddIrCommand(app, ir);
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
  if (IrCommandParsed(ir)) return RunIrCommand(ir, std::cout, std::cerr);  // no daemon

  cl.options.server = ResolveServer(cl.server, std::getenv("PROTEAN_ADMIN_SERVER"));
  cl.options.requested_by = DefaultRequestedBy();
  absl::StatusOr<std::optional<std::string>> token =
      protean_admin::transport::LoadClientToken(cl.token_file, std::getenv("PROTEAN_ADMIN_TOKEN"));
  if (!token.ok()) {
    std::cerr << "protean-admin: " << token.status().message() << "\n";
    return kExitUsage;
  }
  cl.options.token = *token;
  InstallInterruptHandler();
  return RunCommand(cl);
}
