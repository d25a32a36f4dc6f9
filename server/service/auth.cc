#include "server/service/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "server/service/tls_config.h"
#include "transport/file_contents.h"

namespace protean_admin::service {
namespace {

constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokenLength = 4096;
constexpr size_t kMaxNameLength = 64;

using Digest = std::array<unsigned char, 32>;

Digest Sha256(std::string_view data) {
  Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '@' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool ValidTokenChars(std::string_view token) {
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

absl::Status Unauthenticated(std::string_view why) {
  return absl::UnauthenticatedError(std::string(why));
}

}  // namespace

absl::StatusOr<TokenTable> ParseTokenFile(std::string_view content, std::string_view source) {
  TokenTable table;
  std::set<std::string> names;
  std::set<Digest> digests;
  const std::string src(source);
  int line_number = 0;
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = StripAsciiWhitespace(content.substr(pos, end - pos));
    ++line_number;
    pos = end + 1;
    if (line.empty() || line.front() == '#') {
      if (end == content.size()) break;
      continue;
    }
    const auto where = [&](std::string_view reason) {
      return absl::InvalidArgumentError(
          absl::StrCat(src, ":", line_number, ": ", std::string(reason)));
    };
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return where("expected name:token");
    }
    const std::string_view name = StripAsciiWhitespace(line.substr(0, colon));
    const std::string_view token = StripAsciiWhitespace(line.substr(colon + 1));
    if (!ValidName(name)) {
      return where(absl::StrCat("invalid token name (1-", kMaxNameLength,
                                " characters of A-Z a-z 0-9 _ . @ -)"));
    }
    if (token.empty()) return where(absl::StrCat("empty token for '", std::string(name), "'"));
    if (token.size() < kMinTokenLength) {
      return where(absl::StrCat("token for '", std::string(name), "' is shorter than ",
                                kMinTokenLength, " characters"));
    }
    if (token.size() > kMaxTokenLength) {
      return where(absl::StrCat("token for '", std::string(name), "' is longer than ",
                                kMaxTokenLength, " characters"));
    }
    if (!ValidTokenChars(token)) {
      return where(absl::StrCat("token for '", std::string(name),
                                "' contains blanks or non-printable characters"));
    }
    if (!names.insert(std::string(name)).second) {
      return where(absl::StrCat("duplicate token name '", std::string(name), "'"));
    }
    Digest digest = Sha256(token);
    if (!digests.insert(digest).second) {
      return where(
          absl::StrCat("token for '", std::string(name), "' is the same as an earlier one"));
    }
    table.entries.push_back({std::string(name), digest});
    if (end == content.size()) break;
  }
  return table;
}

namespace {

// A token file at start-up: one without entries is refused as well.
absl::StatusOr<TokenTable> ParseInitialTokens(std::string_view content, std::string_view source) {
  absl::StatusOr<TokenTable> table = ParseTokenFile(content, source);
  if (table.ok() && table->entries.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ": no tokens (expected name:token lines)"));
  }
  return table;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Load(std::string path) {
  absl::StatusOr<std::string> content = transport::ReadFileContents(path, "token file");
  if (!content.ok()) return content.status();
  absl::StatusOr<TokenTable> table = ParseInitialTokens(*content, path);
  if (!table.ok()) return table.status();
  return std::unique_ptr<TokenStore>(
      new TokenStore(std::move(path), std::make_shared<const TokenTable>(*std::move(table))));
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::FromContent(std::string_view content) {
  absl::StatusOr<TokenTable> table = ParseInitialTokens(content, "<memory>");
  if (!table.ok()) return table.status();
  return std::unique_ptr<TokenStore>(
      new TokenStore("", std::make_shared<const TokenTable>(*std::move(table))));
}

absl::Status TokenStore::Reload() {
  if (path_.empty()) return absl::FailedPreconditionError("token store has no file to reload");
  absl::StatusOr<std::string> content = transport::ReadFileContents(path_, "token file");
  if (!content.ok()) {
    return absl::Status(content.status().code(),
                        absl::StrCat(std::string(content.status().message()),
                                     " (keeping the tokens loaded before)"));
  }
  absl::StatusOr<TokenTable> table = ParseTokenFile(*content, path_);
  if (!table.ok()) {
    return absl::Status(table.status().code(), absl::StrCat(std::string(table.status().message()),
                                                            " (keeping the tokens loaded before)"));
  }
  auto fresh = std::make_shared<const TokenTable>(*std::move(table));
  std::lock_guard<std::mutex> lock(mutex_);
  table_ = std::move(fresh);
  return absl::OkStatus();
}

std::shared_ptr<const TokenTable> TokenStore::Snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return table_;
}

size_t TokenStore::size() const { return Snapshot()->entries.size(); }

std::string TokenStore::PermissionWarning() const {
  if (path_.empty()) return "";
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) return "";
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return absl::StrCat("token file ", path_,
                        " is accessible by group or others; restrict it (chmod 600)");
  }
  return "";
}

absl::StatusOr<std::string> TokenStore::Authenticate(std::string_view authorization) const {
  authorization = StripAsciiWhitespace(authorization);
  const std::string_view prefix(kBearerPrefix);
  if (authorization.empty()) {
    return Unauthenticated("missing bearer token (send 'authorization: Bearer <token>')");
  }
  if (authorization.size() < prefix.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(authorization.data(), prefix.size()),
                              absl::string_view(prefix.data(), prefix.size()))) {
    return Unauthenticated("authorization metadata is not of the form 'Bearer <token>'");
  }
  const std::string_view token = StripAsciiWhitespace(authorization.substr(prefix.size()));
  if (token.empty()) return Unauthenticated("empty bearer token");

  const Digest presented = Sha256(token);
  const std::shared_ptr<const TokenTable> table = Snapshot();
  // Compare with every entry, no early exit; select the match without branching on data.
  size_t match = table->entries.size();
  for (size_t i = 0; i < table->entries.size(); ++i) {
    const int diff =
        CRYPTO_memcmp(presented.data(), table->entries[i].digest.data(), presented.size());
    // mask is all ones when diff == 0, else 0.
    const size_t is_equal = static_cast<size_t>(diff == 0);
    const size_t mask = ~(is_equal - 1);
    match = (match & ~mask) | (i & mask);
  }
  if (match == table->entries.size()) return Unauthenticated("invalid bearer token");
  return table->entries[match].name;
}

std::string Principal::RequestedBy() const {
  if (!token_name.empty()) return token_name;
  if (!cert_subject.empty()) return cert_subject;
  return "anonymous";
}

absl::StatusOr<Principal> AuthorizeCall(const grpc::ServerContextBase& context,
                                        const TokenStore* tokens) {
  Principal principal;
  principal.peer = context.peer();
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr) principal.cert_subject = PeerCertificateSubject(*auth);
  if (tokens == nullptr) return principal;

  const auto& metadata = context.client_metadata();
  auto range = metadata.equal_range(kAuthorizationMetadataKey);
  if (range.first == range.second) {
    return Unauthenticated("missing bearer token (send 'authorization: Bearer <token>')");
  }
  if (std::next(range.first) != range.second) {
    return Unauthenticated("more than one authorization metadata value");
  }
  const grpc::string_ref value = range.first->second;
  absl::StatusOr<std::string> name =
      tokens->Authenticate(std::string_view(value.data(), value.size()));
  if (!name.ok()) return name.status();
  principal.token_name = *std::move(name);
  return principal;
}

grpc::Status AuthorizeCallStatus(const grpc::ServerContextBase& context, const TokenStore* tokens,
                                 Principal* principal) {
  absl::StatusOr<Principal> result = AuthorizeCall(context, tokens);
  if (!result.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(result.status().message()));
  }
  if (principal != nullptr) *principal = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status TokenAuthProcessor::Process(const InputMetadata& auth_metadata,
                                         grpc::AuthContext* /*context*/,
                                         OutputMetadata* /*consumed_auth_metadata*/,
                                         OutputMetadata* /*response_metadata*/) {
  if (tokens_ == nullptr) return grpc::Status::OK;
  auto path = auth_metadata.find(":path");
  if (path != auth_metadata.end() &&
      absl::StartsWith(absl::string_view(path->second.data(), path->second.size()),
                       kHealthMethodPrefix)) {
    return grpc::Status::OK;
  }
  auto range = auth_metadata.equal_range(kAuthorizationMetadataKey);
  if (range.first == range.second) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing bearer token (send 'authorization: Bearer <token>')");
  }
  if (std::next(range.first) != range.second) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "more than one authorization metadata value");
  }
  // The handler authenticates again (AuthorizeCall) to learn the principal: the auth
  // context is shared by every call of a connection, so nothing per-call is stored in it.
  absl::StatusOr<std::string> name = tokens_->Authenticate(
      std::string_view(range.first->second.data(), range.first->second.size()));
  if (!name.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(name.status().message()));
  }
  return grpc::Status::OK;
}

}  // namespace protean_admin::service
