#include "server/service/tls_client.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace protean_admin::service {
namespace {

absl::StatusOr<std::string> ReadWhole(const std::string& path, std::string_view what) {
  const std::string flag(what);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string message = absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view what) {
  absl::StatusOr<std::string> content = ReadWhole(path, what);
  if (!content.ok()) return content.status();
  if (content->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": ", path, " is not PEM (no -----BEGIN line)"));
  }
  return content;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

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
    absl::StatusOr<std::string> ca = ReadPem(options.ca_file, "--tls-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(options.cert_file, "--tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(options.key_file, "--tls-key");
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
    absl::StatusOr<std::string> content = ReadWhole(token_file, "--token-file");
    if (!content.ok()) return content.status();
    std::string_view rest(*content);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      std::string_view line = Trim(rest.substr(0, end));
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
    std::string_view token = Trim(env_value);
    if (!token.empty()) return std::optional<std::string>(std::string(token));
  }
  return std::optional<std::string>();
}

void AttachToken(grpc::ClientContext* context, const std::string& token) {
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

}  // namespace protean_admin::service
