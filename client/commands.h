#ifndef PROTEAN_ADMIN_CLIENT_COMMANDS_H_
#define PROTEAN_ADMIN_CLIENT_COMMANDS_H_

// The subcommands of protean-admin: argument resolution and the gRPC calls. Output goes
// through client/output.h; every command returns the process exit code.

#include <chrono>
#include <optional>
#include <ostream>
#include <string>

#include "common/batch_size.h"
#include "transport/client_credentials.h"

namespace protean_admin::client {

inline constexpr char kDefaultServer[] = "127.0.0.1:50051";

// --server if given, else $PROTEAN_ADMIN_SERVER if set and not empty, else 127.0.0.1:50051.
std::string ResolveServer(const std::string& flag, const char* env);
// $PROTEAN_DOMAIN if set and not empty wins over --domain (as Protean's CLI); "." when
// neither says anything.
std::string ResolveDomain(const std::string& flag, const char* env);
// "user@host" sent as x-requested-by metadata for the daemon's logs.
std::string DefaultRequestedBy();

struct ClientOptions {
  std::string server = kDefaultServer;
  std::string requested_by;
  std::chrono::milliseconds connect_timeout{5000};
  // Transport security (--tls-ca, --tls-cert, --tls-key) and the bearer token
  // (--token-file or PROTEAN_ADMIN_TOKEN) sent on every call.
  transport::ClientTlsOptions tls;
  std::optional<std::string> token;
};

struct RebuildArgs {
  std::string domain = ".";
  std::string projection;  // empty: all
  int batch_size = kDefaultBatchSize;
  std::string strategy = "atomic";  // atomic | inplace | shadow
  int wait_timeout_seconds = 0;     // shadow: 0 waits without limit
  bool force = false;
  bool json = false;
  bool detach = false;
  std::optional<int64_t> max_skipped;  // --max-skipped N, or 0 with --strict
};

int RunRebuild(const ClientOptions& options, const RebuildArgs& args, std::ostream& out,
               std::ostream& err);
int RunWatch(const ClientOptions& options, const std::string& job_id, bool json, std::ostream& out,
             std::ostream& err);
int RunCancel(const ClientOptions& options, const std::string& job_id, bool json, std::ostream& out,
              std::ostream& err);
// `domain` (may be empty): also list the audit trail of that domain's database.
int RunJobs(const ClientOptions& options, bool running_only, bool json, std::ostream& out,
            std::ostream& err, const std::string& domain = "");
int RunProjections(const ClientOptions& options, const std::string& domain, bool json,
                   std::ostream& out, std::ostream& err);

struct StatusArgs {
  std::string domain = ".";
  std::string projection;  // empty: all
  bool json = false;
};

// `status`: the table, or with `json` exactly one envelope object on stdout (also when the
// call fails: status "error"). 0 when the status was taken (lagging included), else 1, 3 when
// the daemon cannot be reached.
int RunStatus(const ClientOptions& options, const StatusArgs& args, std::ostream& out,
              std::ostream& err);

// SIGINT handling: the first Ctrl-C asks the running command to stop (a rebuild cancels its
// job and waits for the rollback); the second ends the process at once.
void InstallInterruptHandler();

}  // namespace protean_admin::client

#endif  // PROTEAN_ADMIN_CLIENT_COMMANDS_H_
