#ifndef PROTEAN_ADMIN_SERVER_SERVICE_TLS_CONFIG_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_TLS_CONFIG_H_

// Transport security of protean-admind's listeners: TLS (--tls-cert, --tls-key), mutual TLS
// (--tls-client-ca: client certificates required and verified), and the credentials used on
// a plaintext loopback or Unix socket listener; plus the peer identity for the audit trail.

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/service/auth.h"

namespace protean_admin::service {

struct ServerTlsOptions {
  std::string cert_file{};       // --tls-cert: PEM server certificate (chain)
  std::string key_file{};        // --tls-key: PEM private key
  std::string client_ca_file{};  // --tls-client-ca: PEM CA bundle; non-empty = mutual TLS

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
  bool mutual() const { return !client_ca_file.empty(); }
};

// Checks the combination (cert and key together; a client CA needs a certificate), reads the
// files with transport::ReadPemFile (transport/file_contents.h) and builds
// SslServerCredentials; with a client CA, client certificates are required and
// verified (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> BuildServerTlsCredentials(
    const ServerTlsOptions& options);

// The credentials of one listener (`address` as given to --listen: "host:port" or
// "unix:PATH"), with the token gate attached where gRPC allows it:
//   - TLS configured:          SslServerCredentials + TokenAuthProcessor
//   - plaintext, Unix socket:  LocalServerCredentials(UDS) + TokenAuthProcessor
//   - plaintext, loopback TCP: LocalServerCredentials(LOCAL_TCP) + TokenAuthProcessor
//     (plaintext on the wire: insecure clients, grpcurl -plaintext and health probes work;
//     connections from non-loopback peers are refused by gRPC)
//   - plaintext elsewhere (only reachable with --insecure, see listen_policy.h):
//     InsecureServerCredentials; tokens are then checked by AuthorizeCall in the handlers
//     only, and server reflection is not token-protected.
// `tokens` may be null (no token required) and must outlive the server.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> BuildListenerCredentials(
    std::string_view address, const ServerTlsOptions& tls, const TokenStore* tokens);

// The verified client certificate's subject ("CN=alice,O=ops"), else its common name,
// else "" (no TLS, or TLS without client certificates).
std::string PeerCertificateSubject(const grpc::AuthContext& context);
// The verified client certificate's common name, or "".
std::string PeerCommonName(const grpc::AuthContext& context);

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_TLS_CONFIG_H_
