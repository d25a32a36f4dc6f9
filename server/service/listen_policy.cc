#include "server/service/listen_policy.h"

#include <arpa/inet.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "protean/admin/v1/admin.grpc.pb.h"

namespace protean_admin::service {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Splits "host:port", "[v6]:port", "dns:host:port", "ipv4:a.b.c.d:port", "ipv6:[..]:port"
// into the host. Empty host when it cannot be parsed.
std::string HostOf(std::string_view address) {
  for (std::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (StartsWith(address, scheme)) {
      address.remove_prefix(scheme.size());
      break;
    }
  }
  if (StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == std::string_view::npos) return "";
    return std::string(address.substr(1, close - 1));
  }
  const size_t first_colon = address.find(':');
  const size_t last_colon = address.rfind(':');
  if (first_colon != last_colon) {
    // A bare IPv6 address without port ("::1") or with an ambiguous port: take it whole
    // when it parses as IPv6.
    in6_addr v6{};
    if (inet_pton(AF_INET6, std::string(address).c_str(), &v6) == 1) return std::string(address);
    return "";
  }
  if (last_colon == std::string_view::npos) return std::string(address);
  return std::string(address.substr(0, last_colon));
}

using Plugins = std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>;

// Removes every plugin, those that ServerBuilder's constructor took from the process-wide list
// included.
class NoPluginsOption : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(Plugins* plugins) override { plugins->clear(); }
};

// Adds the reflection plugin (once, even when it was also registered process-wide).
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(Plugins* plugins) override {
    auto plugin = std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>();
    const std::string name = plugin->name();
    std::erase_if(*plugins, [&](const auto& p) { return p->name() == name; });
    plugins->push_back(std::move(plugin));
  }
};

}  // namespace

bool IsUnixSocketAddress(std::string_view address) {
  return StartsWith(address, "unix:") || StartsWith(address, "unix-abstract:");
}

bool IsLoopbackAddress(std::string_view address) {
  if (IsUnixSocketAddress(address)) return true;
  std::string host = HostOf(address);
  if (host.empty()) return false;
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // IPv4-mapped loopback (::ffff:127.x.y.z).
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

ListenDecision CheckListenPolicy(std::string_view address, const ListenSecurity& security) {
  ListenDecision decision;
  if (address.empty()) {
    decision.status = absl::InvalidArgumentError("--listen: empty address");
    return decision;
  }
  if (!IsUnixSocketAddress(address) && HostOf(address).empty()) {
    decision.status = absl::InvalidArgumentError(absl::StrCat(
        "--listen ", std::string(address), ": expected host:port, [ipv6]:port or unix:PATH"));
    return decision;
  }
  if (IsLoopbackAddress(address)) return decision;
  if (security.tls && security.tokens) return decision;

  std::vector<std::string> missing;
  if (!security.tls) missing.push_back("TLS (--tls-cert and --tls-key)");
  if (!security.tokens) missing.push_back("bearer tokens (--auth-token-file)");
  const std::string what = absl::StrJoin(missing, " and ");
  if (security.insecure) {
    decision.warning = absl::StrCat(
        "INSECURE: listening on non-loopback address ", std::string(address), " without ", what,
        " because --insecure was given; anyone who can reach this address can ",
        security.tokens ? "read tokens off the wire and " : "", "empty projections");
    return decision;
  }
  decision.status = absl::FailedPreconditionError(absl::StrCat(
      "refusing to listen on non-loopback address ", std::string(address), " without ", what,
      ": configure ", what,
      ", or listen on 127.0.0.1:PORT or unix:PATH, or pass --insecure to override (not "
      "recommended)"));
  return decision;
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthOnlyServer(std::string_view address,
                                                                    int* port) {
  if (!IsUnixSocketAddress(address) && HostOf(address).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("health listener ", std::string(address),
                                                   ": expected host:port or unix:PATH"));
  }
  grpc::EnableDefaultHealthCheckService(true);
  // gRPC adds its default health service only to a server with synchronous methods: register
  // the generated base service, whose every method answers UNIMPLEMENTED.
  static auto* const placeholder = new ::protean::admin::v1::ProjectionAdmin::Service();
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<NoPluginsOption>());
  builder.RegisterService(placeholder);
  int bound = 0;
  builder.AddListeningPort(std::string(address), grpc::InsecureServerCredentials(), &bound);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (!IsUnixSocketAddress(address) && bound == 0)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", std::string(address), " (health listener)"));
  }
  if (port != nullptr) *port = bound;
  return server;
}

void EnableReflection(grpc::ServerBuilder& builder) {
  builder.SetOption(std::make_unique<ReflectionOption>());
}

}  // namespace protean_admin::service
