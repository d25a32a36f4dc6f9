#include "client/commands.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/output.h"
#include "client/status_output.h"
#include "common/time_util.h"
#include "protean/admin/v1/admin.grpc.pb.h"

namespace protean_admin::client {
namespace {

std::atomic<int> g_interrupts{0};

void OnInterrupt(int) {
  if (g_interrupts.fetch_add(1) >= 1) _exit(kExitFailure);
}

bool Interrupted() { return g_interrupts.load() > 0; }

// Connects (waiting up to the connect timeout); null when the daemon cannot be reached.
std::shared_ptr<grpc::Channel> Connect(const ClientOptions& options, std::ostream& err) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      transport::BuildChannelCredentials(options.tls);
  if (!credentials.ok()) {
    // Callers turn null into exit 3; a bad TLS file is a usage error: exit 2 here.
    err << "protean-admin: " << credentials.status().message() << "\n";
    std::exit(kExitUsage);
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(options.server, *credentials);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + options.connect_timeout)) {
    err << "protean-admin: cannot reach protean-admind at " << options.server
        << " (no connection within " << options.connect_timeout.count()
        << " ms). Is it running? Point --server or "
        << "PROTEAN_ADMIN_SERVER at it.";
    if (options.tls.enabled()) {
      err << " With TLS, check that --tls-ca verifies the daemon's certificate and, under "
             "mutual TLS, that --tls-cert/--tls-key hold a client certificate it accepts.";
    } else {
      err << " If the daemon uses TLS, pass --tls-ca (and --tls-cert/--tls-key for mutual "
             "TLS).";
    }
    err << "\n";
    return nullptr;
  }
  return channel;
}

void Prepare(grpc::ClientContext* context, const ClientOptions& options) {
  if (!options.requested_by.empty()) context->AddMetadata("x-requested-by", options.requested_by);
  if (options.token.has_value()) transport::AttachToken(context, *options.token);
}

// A call failed without reaching the daemon (lost connection): exit 3 with a message.
bool LostDaemon(const grpc::Status& status, grpc::Channel& channel) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE &&
         channel.GetState(false) != GRPC_CHANNEL_READY;
}

// What every command opens: a connected channel, its stub, and a context carrying the CLI's
// metadata (x-requested-by, the bearer token) for the command's call.
struct Session {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::ProjectionAdmin::Stub> stub;
  grpc::ClientContext context;
};

// Null, the reason on `err`, when the daemon cannot be reached (the command exits 3).
std::unique_ptr<Session> OpenSession(const ClientOptions& options, std::ostream& err) {
  std::shared_ptr<grpc::Channel> channel = Connect(options, err);
  if (channel == nullptr) return nullptr;
  auto session = std::make_unique<Session>();
  session->channel = std::move(channel);
  session->stub = pb::ProjectionAdmin::NewStub(session->channel);
  Prepare(&session->context, options);
  return session;
}

// Where a command prints: results on `out` (JSON lines with `json`), diagnostics on `err`.
struct Output {
  bool json;
  std::ostream& out;
  std::ostream& err;
};

// How a failed call that lost the daemon is reported (exit 3 either way): the call's error
// like any other, or only "lost the connection" on stderr.
enum class OnLostDaemon { kPrintError, kSayLost };

// Reports a failed call and returns the exit code: 3 when the daemon went away, else 1 with
// the error on stdout (a JSON line, or lines as Protean prints them for `projection`).
int ReportFailedCall(const grpc::Status& status, const Session& session,
                     const ClientOptions& options, const std::string& projection,
                     const Output& output, OnLostDaemon on_lost) {
  const bool lost = LostDaemon(status, *session.channel);
  if (lost && on_lost == OnLostDaemon::kSayLost) {
    output.err << "protean-admin: lost the connection to protean-admind at " << options.server
               << "\n";
    return kExitUnreachable;
  }
  if (output.json) {
    output.out << ErrorJson(status).dump() << "\n";
  } else {
    for (const std::string& line : ErrorLines(status, projection)) output.out << line << "\n";
  }
  return lost ? kExitUnreachable : kExitFailure;
}

template <typename Request, typename Response>
using UnaryMethod = grpc::Status (pb::ProjectionAdmin::Stub::*)(grpc::ClientContext*,
                                                                const Request&, Response*);

// Connects and makes one unary call; `announce` (if any) goes to stderr once connected.
// kExitOk with `response` filled, else the exit code after saying why.
template <typename Request, typename Response>
int CallDaemon(const ClientOptions& options, UnaryMethod<Request, Response> method,
               const Request& request, Response* response, const Output& output,
               OnLostDaemon on_lost, const std::string& announce = "") {
  std::unique_ptr<Session> session = OpenSession(options, output.err);
  if (session == nullptr) return kExitUnreachable;
  if (!announce.empty()) output.err << announce << std::flush;
  grpc::Status status = ((*session->stub).*method)(&session->context, request, response);
  if (status.ok()) return kExitOk;
  return ReportFailedCall(status, *session, options, "", output, on_lost);
}

int TerminalWidth() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

ProgressMode ModeFor(bool json) {
  if (json) return ProgressMode::kJson;
  return isatty(STDERR_FILENO) ? ProgressMode::kTerminal : ProgressMode::kPlain;
}

// After Ctrl-C: cancels job `id` on `channel` (CancelRebuild returns once it rolled back); when
// that fails, says why and stops reading the stream of `context`.
void CancelInterruptedJob(const ClientOptions& options, grpc::Channel& channel,
                          grpc::ClientContext& context, const std::string& id, std::ostream& err) {
  auto stub =
      pb::ProjectionAdmin::NewStub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  grpc::ClientContext cancel_context;
  Prepare(&cancel_context, options);
  pb::CancelRebuildRequest request;
  request.set_job_id(id);
  pb::CancelRebuildResponse response;
  grpc::Status status = stub->CancelRebuild(&cancel_context, request, &response);
  if (!status.ok()) {
    err << "protean-admin: cancel failed: " << status.error_message() << "\n";
    context.TryCancel();
  }
}

// Reads a rebuild stream to its end. With `cancel_on_interrupt`, a Ctrl-C cancels the job
// (CancelRebuild, which returns once it rolled back); otherwise it only stops watching.
int ConsumeStream(const ClientOptions& options, grpc::Channel& channel,
                  grpc::ClientContext& context,
                  grpc::ClientReaderInterface<pb::RebuildEvent>& reader, RebuildRenderer& renderer,
                  bool cancel_on_interrupt, std::ostream& err) {
  std::mutex mu;
  std::string job_id;
  std::vector<std::string> projections, inplace;  // of `started`, for the interrupt message
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    bool acted = false;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (acted || !Interrupted()) continue;
      std::string id, message;
      {
        std::lock_guard<std::mutex> lock(mu);
        id = job_id;
        message = InterruptMessage(job_id, projections, inplace);
      }
      if (!cancel_on_interrupt || id.empty()) {
        acted = true;
        context.TryCancel();
        continue;
      }
      acted = true;
      err << "\n" << message << "\n" << std::flush;
      CancelInterruptedJob(options, channel, context, id, err);
    }
  });
  pb::RebuildEvent event;
  while (reader.Read(&event)) {
    if (event.has_started()) {
      std::lock_guard<std::mutex> lock(mu);
      job_id = event.job_id();
      const pb::JobStarted& started = event.started();
      projections.assign(started.projections().begin(), started.projections().end());
      inplace.assign(started.inplace_projections().begin(), started.inplace_projections().end());
    }
    renderer.OnEvent(event);
  }
  grpc::Status status = reader.Finish();
  finished.store(true);
  watcher.join();
  if (!status.ok() && !renderer.saw_failed() && LostDaemon(status, channel)) {
    err << "protean-admin: lost the connection to protean-admind at " << options.server << ": "
        << status.error_message() << "\n";
    return kExitUnreachable;
  }
  if (Interrupted() && status.error_code() == grpc::StatusCode::CANCELLED &&
      !renderer.saw_failed()) {
    err << "protean-admin: interrupted\n";
    return kExitFailure;
  }
  int code = renderer.Finish(status);
  return Interrupted() ? kExitFailure : code;
}

}  // namespace

std::string ResolveServer(const std::string& flag, const char* env) {
  if (!flag.empty()) return flag;
  if (env != nullptr && env[0] != '\0') return env;
  return kDefaultServer;
}

std::string ResolveDomain(const std::string& flag, const char* env) {
  if (env != nullptr && env[0] != '\0') return env;
  return flag.empty() ? "." : flag;
}

std::string DefaultRequestedBy() {
  const char* user = std::getenv("USER");
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return std::string(user != nullptr ? user : "unknown") + "@" + host;
}

void InstallInterruptHandler() {
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

namespace {

pb::RebuildOptions ToRebuildOptions(const RebuildArgs& args) {
  pb::RebuildOptions options;
  options.set_domain(args.domain);
  options.set_batch_size(args.batch_size);
  options.set_strategy(args.strategy == "inplace"  ? pb::STRATEGY_INPLACE
                       : args.strategy == "shadow" ? pb::STRATEGY_SHADOW
                                                   : pb::STRATEGY_ATOMIC);
  options.set_wait_timeout_seconds(args.wait_timeout_seconds);
  options.set_force(args.force);
  options.set_detach(args.detach);
  if (args.max_skipped.has_value()) options.set_max_skipped(*args.max_skipped);
  return options;
}

// --detach: reads the stream up to its end (the daemon ends it after `started`) and prints the
// job id.
int PrintDetachedJob(Session& session, grpc::ClientReaderInterface<pb::RebuildEvent>& reader,
                     const ClientOptions& options, const RebuildArgs& args, const Output& output) {
  pb::RebuildEvent event;
  std::string job_id;
  while (reader.Read(&event)) {
    if (event.has_started()) job_id = event.job_id();
  }
  grpc::Status status = reader.Finish();
  if (!status.ok() || job_id.empty()) {
    return ReportFailedCall(status, session, options, args.projection, output,
                            OnLostDaemon::kSayLost);
  }
  if (output.json) {
    output.out << nlohmann::json({{"type", "detached"}, {"job_id", job_id}}).dump() << "\n";
  } else {
    output.out << job_id << "\n";
    output.err << "Job " << job_id << " started; follow it with: protean-admin watch " << job_id
               << "\n";
  }
  return kExitOk;
}

}  // namespace

int RunRebuild(const ClientOptions& options, const RebuildArgs& args, std::ostream& out,
               std::ostream& err) {
  std::unique_ptr<Session> session = OpenSession(options, err);
  if (session == nullptr) return kExitUnreachable;
  std::unique_ptr<grpc::ClientReader<pb::RebuildEvent>> reader;
  if (args.projection.empty()) {
    pb::RebuildAllRequest request;
    *request.mutable_options() = ToRebuildOptions(args);
    reader = session->stub->RebuildAll(&session->context, request);
  } else {
    pb::RebuildProjectionRequest request;
    *request.mutable_options() = ToRebuildOptions(args);
    request.set_projection(args.projection);
    reader = session->stub->RebuildProjection(&session->context, request);
  }
  if (args.detach) return PrintDetachedJob(*session, *reader, options, args, {args.json, out, err});

  RebuildRenderer renderer(out, err, ModeFor(args.json), RebuildRenderer::Clock::now,
                           TerminalWidth());
  renderer.set_all(args.projection.empty());
  renderer.set_requested_projection(args.projection);
  return ConsumeStream(options, *session->channel, session->context, *reader, renderer,
                       /*cancel_on_interrupt=*/true, err);
}

int RunWatch(const ClientOptions& options, const std::string& job_id, bool json, std::ostream& out,
             std::ostream& err) {
  std::unique_ptr<Session> session = OpenSession(options, err);
  if (session == nullptr) return kExitUnreachable;
  pb::WatchRebuildRequest request;
  request.set_job_id(job_id);
  auto reader = session->stub->WatchRebuild(&session->context, request);
  RebuildRenderer renderer(out, err, ModeFor(json), RebuildRenderer::Clock::now, TerminalWidth());
  return ConsumeStream(options, *session->channel, session->context, *reader, renderer,
                       /*cancel_on_interrupt=*/false, err);
}

int RunCancel(const ClientOptions& options, const std::string& job_id, bool json, std::ostream& out,
              std::ostream& err) {
  pb::CancelRebuildRequest request;
  request.set_job_id(job_id);
  pb::CancelRebuildResponse response;
  if (int code = CallDaemon(options, &pb::ProjectionAdmin::Stub::CancelRebuild, request, &response,
                            {json, out, err}, OnLostDaemon::kSayLost,
                            "Cancelling job " + job_id + " and waiting for it to end...\n");
      code != kExitOk) {
    return code;
  }
  if (json) {
    out << JobJson(response.job()).dump() << "\n";
  } else {
    out << "Job " << job_id << " " << JobStateName(response.job().state()) << ".\n";
    const auto& results = response.job().results();
    for (const std::string& line : PartialLines({results.begin(), results.end()})) {
      err << line << "\n";
    }
  }
  return kExitOk;
}

int RunJobs(const ClientOptions& options, bool running_only, bool json, std::ostream& out,
            std::ostream& err, const std::string& domain) {
  pb::ListRebuildsRequest request;
  request.set_running_only(running_only);
  request.set_domain(domain);
  pb::ListRebuildsResponse response;
  if (int code = CallDaemon(options, &pb::ProjectionAdmin::Stub::ListRebuilds, request, &response,
                            {json, out, err}, OnLostDaemon::kPrintError);
      code != kExitOk) {
    return code;
  }
  std::vector<pb::JobInfo> jobs(response.jobs().begin(), response.jobs().end());
  if (json) {
    for (const pb::JobInfo& job : jobs) out << JobJson(job).dump() << "\n";
  } else {
    for (const std::string& line : JobsTable(jobs, NowUnixMs())) out << line << "\n";
  }
  return kExitOk;
}

int RunProjections(const ClientOptions& options, const std::string& domain, bool json,
                   std::ostream& out, std::ostream& err) {
  pb::ListProjectionsRequest request;
  request.set_domain(domain);
  pb::ListProjectionsResponse response;
  if (int code = CallDaemon(options, &pb::ProjectionAdmin::Stub::ListProjections, request,
                            &response, {json, out, err}, OnLostDaemon::kPrintError);
      code != kExitOk) {
    return code;
  }
  std::vector<pb::ProjectionInfo> projections(response.projections().begin(),
                                              response.projections().end());
  if (json) {
    for (const pb::ProjectionInfo& p : projections) out << ProjectionJson(p).dump() << "\n";
  } else {
    for (const std::string& line : ProjectionsTable(projections)) out << line << "\n";
  }
  return kExitOk;
}

int RunStatus(const ClientOptions& options, const StatusArgs& args, std::ostream& out,
              std::ostream& err) {
  pb::ProjectionStatusRequest request;
  request.set_domain(args.domain);
  request.set_projection(args.projection);
  pb::ProjectionStatusResponse response;
  if (!args.json) {
    if (int code = CallDaemon(options, &pb::ProjectionAdmin::Stub::ProjectionStatus, request,
                              &response, {false, out, err}, OnLostDaemon::kPrintError);
        code != kExitOk) {
      return code;
    }
    for (const std::string& line : StatusTable(response)) out << line << "\n";
    return kExitOk;
  }
  // --json: whatever happens, stdout carries exactly one envelope.
  std::unique_ptr<Session> session = OpenSession(options, err);
  if (session == nullptr) {
    out << StatusErrorEnvelope("cannot reach protean-admind at " + options.server, "UNAVAILABLE")
               .dump(2)
        << "\n";
    return kExitUnreachable;
  }
  grpc::Status status = session->stub->ProjectionStatus(&session->context, request, &response);
  if (!status.ok()) {
    out << StatusErrorEnvelope(status.error_message(),
                               StatusCodeName(static_cast<int>(status.error_code())))
               .dump(2)
        << "\n";
    err << "Error: " << status.error_message() << "\n";
    return LostDaemon(status, *session->channel) ? kExitUnreachable : kExitFailure;
  }
  out << StatusEnvelope(response).dump(2) << "\n";
  return kExitOk;
}

}  // namespace protean_admin::client
