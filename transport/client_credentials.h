#ifndef PROTEAN_ADMIN_TRANSPORT_CLIENT_CREDENTIALS_H_
#define PROTEAN_ADMIN_TRANSPORT_CLIENT_CREDENTIALS_H_

// The client side of transport security and tokens (protean-admin --tls-ca, --tls-cert,
// --tls-key, --token-file, PROTEAN_ADMIN_TOKEN): channel credentials and the bearer token.
// Depends only on gRPC and Abseil; the CLI links it without any server/ source.

#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace protean_admin::transport {

struct ClientTlsOptions {
  std::string ca_file{};    // --tls-ca: PEM roots to verify the daemon (empty: system roots)
  std::string cert_file{};  // --tls-cert: PEM client certificate (mutual TLS)
  std::string key_file{};   // --tls-key: its private key
  bool use_tls = false;     // set when any of the above is given (or by a grpcs-like choice)

  bool enabled() const {
    return use_tls || !ca_file.empty() || !cert_file.empty() || !key_file.empty();
  }
};

// InsecureChannelCredentials when TLS is not enabled, else SslCredentials with the CA and
// the optional client key pair; files are read by ReadPemFile (file_contents.h), with errors
// naming the flag and the file.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> BuildChannelCredentials(
    const ClientTlsOptions& options);

// The token the CLI sends: the first non-empty, non-comment line of `token_file` (blanks
// trimmed) when given, else the PROTEAN_ADMIN_TOKEN value `env_value` (pass
// std::getenv("PROTEAN_ADMIN_TOKEN"), may be null), else nullopt. A token file that cannot be
// read or holds no token is an error (the message names the file, never the token).
absl::StatusOr<std::optional<std::string>> LoadClientToken(const std::string& token_file,
                                                           const char* env_value);

// Adds "authorization: Bearer <token>" to a call. (Plain metadata rather than call
// credentials: gRPC refuses call credentials on plaintext channels, and the CLI must send
// the token over a plaintext loopback/Unix socket too.)
void AttachToken(grpc::ClientContext* context, const std::string& token);

}  // namespace protean_admin::transport

#endif  // PROTEAN_ADMIN_TRANSPORT_CLIENT_CREDENTIALS_H_
