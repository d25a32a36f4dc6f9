#include "server/service/tls_config.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/service/listen_policy.h"
#include "transport/file_contents.h"

namespace protean_admin::service {
namespace {

std::string FirstProperty(const grpc::AuthContext& context, const char* name) {
  std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> BuildServerTlsCredentials(
    const ServerTlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key must be given together (the server certificate and its "
        "private key)");
  }
  if (!options.enabled()) {
    if (options.mutual()) {
      return absl::InvalidArgumentError(
          "--tls-client-ca requires --tls-cert and --tls-key (mutual TLS is TLS first)");
    }
    return absl::InvalidArgumentError("TLS is not configured (--tls-cert, --tls-key)");
  }
  absl::StatusOr<std::string> cert = transport::ReadPemFile(options.cert_file, "--tls-cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = transport::ReadPemFile(options.key_file, "--tls-key");
  if (!key.ok()) return key.status();
  if (key->find("PRIVATE KEY-----") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-key: ", options.key_file, " holds no PEM private key"));
  }
  if (cert->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert: ", options.cert_file, " holds no PEM certificate"));
  }

  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  if (options.mutual()) {
    absl::StatusOr<std::string> ca =
        transport::ReadPemFile(options.client_ca_file, "--tls-client-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    ssl.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(ssl);
  if (credentials == nullptr) {
    return absl::InvalidArgumentError("cannot build TLS server credentials");
  }
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> BuildListenerCredentials(
    std::string_view address, const ServerTlsOptions& tls, const TokenStore* tokens) {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (tls.enabled() || tls.mutual()) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> built = BuildServerTlsCredentials(tls);
    if (!built.ok()) return built.status();
    credentials = *std::move(built);
  } else if (IsUnixSocketAddress(address)) {
    credentials = grpc::experimental::LocalServerCredentials(UDS);
  } else if (IsLoopbackAddress(address)) {
    credentials = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
  } else {
    // Only reachable with --insecure (CheckListenPolicy): no processor can be attached to
    // insecure credentials; the handlers' AuthorizeCall is the token check.
    return grpc::InsecureServerCredentials();
  }
  if (tokens != nullptr) {
    credentials->SetAuthMetadataProcessor(std::make_shared<TokenAuthProcessor>(tokens));
  }
  return credentials;
}

std::string PeerCommonName(const grpc::AuthContext& context) {
  if (!context.IsPeerAuthenticated()) return "";
  return FirstProperty(context, GRPC_X509_CN_PROPERTY_NAME);
}

std::string PeerCertificateSubject(const grpc::AuthContext& context) {
  if (!context.IsPeerAuthenticated()) return "";
  std::string subject = FirstProperty(context, GRPC_X509_SUBJECT_PROPERTY_NAME);
  if (!subject.empty()) return subject;
  std::string cn = FirstProperty(context, GRPC_X509_CN_PROPERTY_NAME);
  if (!cn.empty()) return absl::StrCat("CN=", cn);
  return "";
}

}  // namespace protean_admin::service
