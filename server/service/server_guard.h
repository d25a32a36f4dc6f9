#ifndef PROTEAN_ADMIN_SERVER_SERVICE_SERVER_GUARD_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_SERVER_GUARD_H_

// Is the Protean event server stopped? (docs/design.md §6)
//
// Protean's server leaves no trace in the database; while it runs its health server answers
// GET /livez on [server.health] host:port. The guard probes it with a plain HTTP/1.0 GET over
// a raw socket with short connect/send/receive timeouts:
//   any HTTP answer (whatever the status)  -> running      -> refuse
//   connection refused                     -> stopped      -> allow
//   timeout, DNS failure, no HTTP answer    -> cannot tell  -> refuse, naming why
// Extra probes: more health URLs (same rules) and optionally a pg_stat_activity check on the
// event store for connections with a given application_name (any -> running).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/model.h"

namespace protean_admin::service {

enum class ProbeVerdict { kRunning, kStopped, kUnknown };

struct ProbeOutcome {
  ProbeVerdict verdict = ProbeVerdict::kUnknown;
  // What was seen, for messages: "GET http://127.0.0.1:8080/livez answered 200".
  std::string evidence;
};

struct HttpUrl {
  std::string host;
  int port = 80;
  std::string path = "/";

  std::string ToString() const;
};

// Parses "http://host[:port][/path]" (IPv6 hosts in brackets). Only plain http.
absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url);

// One GET probe. `timeout` bounds the connect, the send and the wait for the answer each.
ProbeOutcome ProbeHttp(const HttpUrl& url, std::chrono::milliseconds timeout);

struct GuardOptions {
  // Extra health URLs probed after the domain's [server.health] /livez.
  std::vector<std::string> extra_urls;
  // When not empty: refuse while pg_stat_activity on the event store shows a connection
  // with this application_name.
  std::string pg_application_name;
  std::chrono::milliseconds timeout{1000};
};

class EventServerGuard {
 public:
  explicit EventServerGuard(GuardOptions options) : options_(std::move(options)) {}

  // OK when every probe says stopped. Otherwise FailedPrecondition:
  //   "Refusing to rebuild: the Protean event server appears to be running (<evidence>).
  //    Stop it or pass --force."
  //   "Refusing to rebuild: cannot tell whether the Protean event server is running
  //    (<evidence>). Stop it or pass --force."
  absl::Status Check(const domain::Domain& domain) const;

  // Validates the configured extra URLs (at daemon start).
  absl::Status Validate() const;

  const GuardOptions& options() const { return options_; }

 private:
  ProbeOutcome ProbeApplicationName(const domain::Domain& domain) const;

  GuardOptions options_;
};

// The refusal status for a non-stopped outcome (OK for kStopped).
absl::Status RefusalFor(const ProbeOutcome& outcome);

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_SERVER_GUARD_H_
