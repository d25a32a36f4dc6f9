#ifndef PROTEAN_ADMIN_SERVER_SERVICE_LISTEN_POLICY_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_LISTEN_POLICY_H_

// Where protean-admind may listen with which protection.
//
// Loopback addresses (127.0.0.0/8, ::1, localhost) and Unix sockets ("unix:PATH",
// "unix-abstract:NAME") are always allowed. Any other address (0.0.0.0, [::], a host name,
// an interface address) needs both TLS and bearer tokens; otherwise start-up is refused
// with FailedPrecondition naming what to configure, unless --insecure is given, which
// allows it with a loud warning.

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace protean_admin::service {

struct ListenSecurity {
  bool tls = false;       // --tls-cert/--tls-key given
  bool tokens = false;    // --auth-token-file given
  bool insecure = false;  // --insecure given
};

// True for "unix:..." / "unix-abstract:..." addresses.
bool IsUnixSocketAddress(std::string_view address);
// True when the host part of "host:port" / "[v6]:port" / "unix:PATH" is loopback or a Unix
// socket. Host names other than "localhost" are not loopback (resolution may change).
bool IsLoopbackAddress(std::string_view address);

// The result of the policy: OK, or FailedPrecondition for a refused configuration (also
// InvalidArgument for an address that cannot be parsed). `warning` is set when the
// configuration is allowed only thanks to --insecure (to be logged at error/warn level).
struct ListenDecision {
  absl::Status status;
  std::string warning;
};

ListenDecision CheckListenPolicy(std::string_view address, const ListenSecurity& security);

// A plaintext listener that serves ONLY grpc.health.v1.Health (gRPC's default health
// service), for orchestrators whose probes cannot speak TLS (Kubernetes `grpc:` probes are
// plaintext). It exposes nothing but SERVING/NOT_SERVING, so the listen policy does not
// restrict its address. Every other method, server reflection included, answers UNIMPLEMENTED
// there: the listener drops every ServerBuilder plugin, also one registered process-wide.
// Enables the default health service globally (grpc::EnableDefaultHealthCheckService). `port`
// receives the bound port (for ":0"). Set it NOT_SERVING on shutdown:
// server->GetHealthCheckService()->SetServingStatus(false).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthOnlyServer(std::string_view address,
                                                                    int* port = nullptr);

// Adds gRPC server reflection to the server `builder` builds, and to no other.
// (grpc::reflection::InitProtoReflectionServerBuilderPlugin is process-wide: every
// ServerBuilder created after it would serve reflection, so protean-admind does not call it.)
void EnableReflection(grpc::ServerBuilder& builder);

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_LISTEN_POLICY_H_
