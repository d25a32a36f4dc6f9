#ifndef PROTEAN_ADMIN_SERVER_SERVICE_AUTH_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_AUTH_H_

// Bearer tokens for protean-admind (`--auth-token-file`).
//
// Token file format (UTF-8 text, one entry per line):
//
//   # comment lines start with '#'; blank lines are ignored
//   ci-pipeline:3q2+7Xn0u1YyVd0WcQ8p9rJk4s5t6u7v
//   alice:Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA
//
//   - `name:token`. Leading and trailing blanks around the line, the name and the token are
//     trimmed. The name (what the audit trail records as "requested_by") is 1-64 characters
//     of [A-Za-z0-9_.@-]. The token is 16-4096 printable ASCII characters without blanks
//     (it travels as `authorization: Bearer <token>`; ':' is allowed inside the token since
//     only the first ':' of the line separates name and token).
//   - Names and tokens must be unique within the file.
//   - Any malformed line is an error, reported as `path:line: reason` (never quoting the
//     token).
//   - A file without any entry (empty, or only blank and comment lines) holds no tokens. At
//     start-up that is an error (the daemon would refuse everyone from its first call). Re-read
//     on SIGHUP it revokes every token: every call but health is then refused until tokens are
//     added and SIGHUP is sent again (protean-admind logs this loudly). A file that cannot be
//     read, or holds a malformed line, keeps the tokens loaded before.
//
// Only SHA-256 digests of the tokens are kept in memory. A presented token is hashed and
// compared with every stored digest with CRYPTO_memcmp, without stopping at a match, so the
// time taken does not depend on which token matched, how much of it matched, or its length.
//
// Enforcement (see also TokenAuthProcessor and AuthorizeCall below, and deploy/README.md):
//   1. Gate before the handler: with secure listener credentials (TLS, mutual TLS, and the
//      gRPC "local" credentials used for plaintext on loopback and Unix sockets, see
//      tls_config.h) an AuthMetadataProcessor rejects every call except
//      /grpc.health.v1.Health/* without a valid token with UNAUTHENTICATED. This also
//      covers server reflection.
//   2. In every handler: AuthorizeCall(context) authenticates again from the call's
//      metadata and returns the Principal for the audit trail. This is the only check on a
//      plaintext listener started with --insecure (gRPC does not run metadata processors on
//      insecure credentials), so every ProjectionAdmin handler must call it first.

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace protean_admin::service {

// The metadata key and scheme the CLI sends the token with.
inline constexpr char kAuthorizationMetadataKey[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";
// Calls to methods under this prefix never need a token.
inline constexpr char kHealthMethodPrefix[] = "/grpc.health.v1.Health/";

// One parsed token file: names and token digests (never the tokens themselves).
struct TokenTable {
  struct Entry {
    std::string name;
    std::array<unsigned char, 32> digest{};
  };
  std::vector<Entry> entries;
};

// Parses the content of a token file; `source` names it in errors ("path:line: reason").
// InvalidArgument for a malformed line or a duplicate; a file without entries gives an empty
// table.
absl::StatusOr<TokenTable> ParseTokenFile(std::string_view content, std::string_view source);

// The set of valid tokens, loaded from a file and reloadable (SIGHUP). Thread-safe.
class TokenStore {
 public:
  // Reads and parses `path`. NotFound/PermissionDenied when unreadable, InvalidArgument
  // when malformed or without any token.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Load(std::string path);
  // For tests: a store from in-memory content, refused as Load refuses it (Reload is then
  // FailedPrecondition).
  static absl::StatusOr<std::unique_ptr<TokenStore>> FromContent(std::string_view content);

  // Re-reads the file. On success the new set replaces the old one atomically (calls in
  // flight finish with the set they started with); a file without entries succeeds and
  // revokes every token (size() is then 0). When the file cannot be read or is malformed, the
  // old set stays in force and the error is returned.
  absl::Status Reload();

  // Checks an `authorization` metadata value ("Bearer <token>"; the scheme is matched
  // case-insensitively). Returns the token's name, or UNAUTHENTICATED whose message never
  // contains the presented value.
  absl::StatusOr<std::string> Authenticate(std::string_view authorization) const;

  // Number of tokens currently loaded.
  size_t size() const;
  const std::string& path() const { return path_; }

  // A warning when the file is readable by group or others (tokens are secrets), or "".
  std::string PermissionWarning() const;

 private:
  explicit TokenStore(std::string path, std::shared_ptr<const TokenTable> table)
      : path_(std::move(path)), table_(std::move(table)) {}
  std::shared_ptr<const TokenTable> Snapshot() const;

  const std::string path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const TokenTable> table_;  // guarded by mutex_
};

// Who made a call, for the audit trail.
struct Principal {
  std::string token_name;    // "" when tokens are not configured
  std::string cert_subject;  // client certificate subject under mutual TLS, else ""
  std::string peer;          // grpc peer string, e.g. "ipv4:127.0.0.1:53312"

  // What the audit trail records as requested_by: the token name, else the certificate
  // subject, else "anonymous".
  std::string RequestedBy() const;
};

// Authenticates one call from its metadata (tokens may be null: no token required) and
// describes its principal. UNAUTHENTICATED when tokens are configured and the call has no
// valid "authorization: Bearer <token>".
absl::StatusOr<Principal> AuthorizeCall(const grpc::ServerContextBase& context,
                                        const TokenStore* tokens);

// The same as a grpc::Status, ready to return from a handler: OK or UNAUTHENTICATED.
grpc::Status AuthorizeCallStatus(const grpc::ServerContextBase& context, const TokenStore* tokens,
                                 Principal* principal);

// The pre-handler gate for secure listener credentials: every method except the health
// service needs a valid token. The store must outlive the processor.
class TokenAuthProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenAuthProcessor(const TokenStore* tokens) : tokens_(tokens) {}
  // Hashing and comparing a token does not block: run inline on the call's thread.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const TokenStore* tokens_;
};

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_AUTH_H_
