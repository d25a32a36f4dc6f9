#include "transport/client_credentials.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "transport/file_contents.h"

namespace protean_admin::transport {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> BuildChannelCredentials(
    const ClientTlsOptions& options) {
  if (!options.enabled()) return grpc::InsecureChannelCredentials();
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key must be given together (the client certificate and its "
        "private key)");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile(options.ca_file, "--tls-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPemFile(options.cert_file, "--tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPemFile(options.key_file, "--tls-key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(ssl);
  if (credentials == nullptr) {
    return absl::InvalidArgumentError("cannot build TLS channel credentials");
  }
  return credentials;
}

absl::StatusOr<std::optional<std::string>> LoadClientToken(const std::string& token_file,
                                                           const char* env_value) {
  if (!token_file.empty()) {
    absl::StatusOr<std::string> content = ReadFileContents(token_file, "--token-file");
    if (!content.ok()) return content.status();
    std::string_view rest(*content);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      std::string_view line = StripAsciiWhitespace(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      if (line.empty() || line.front() == '#') continue;
      for (char c : line) {
        if (c < 0x21 || c > 0x7e) {
          return absl::InvalidArgumentError(
              absl::StrCat("--token-file: ", token_file,
                           ": the token contains blanks or non-printable characters"));
        }
      }
      return std::optional<std::string>(std::string(line));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file: ", token_file, " holds no token"));
  }
  if (env_value != nullptr) {
    std::string_view token = StripAsciiWhitespace(env_value);
    if (!token.empty()) return std::optional<std::string>(std::string(token));
  }
  return std::optional<std::string>();
}

void AttachToken(grpc::ClientContext* context, const std::string& token) {
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

}  // namespace protean_admin::transport
